#!/usr/bin/env bash
# GET /metrics on the admin listener: `promtool check metrics` accepts it, and its counters move
# with requests (GetCACert, an enrollment, a FAILURE, a renewal), by the amounts made. log_file:
# the log goes there, 0640 or tighter, and a SIGHUP after logrotate moved it opens a new file.
# Audit lines: issue, renew, revoke, approve and reject, each with its subject, serial, SANs,
# requester and who decided, in text and in JSON.
source "$(dirname "$0")/../interop/lib.sh"
SCEP=${SCEP:-$ROOT/build/scep}
command -v promtool > /dev/null || fail "promtool is missing (Debian package prometheus)"
cd "$WORK"
CA=$WORK/ca
new_ca "$CA"
APORT=$(free_port)
printf '%s\n' "admin_listen = 127.0.0.1:$APORT" "admin_token = 0123456789abcdef0123" \
  "log_file = scepd-file.log" "renewal_window = 0%" >> "$CA/scepd.conf"
chmod 600 "$CA/scepd.conf"
start_scepd "$CA" --challenge s3cret
LOG=$CA/scepd-file.log
MURL="http://127.0.0.1:$APORT/metrics"

scrape() { curl -fs "$MURL" > "$1" || fail "GET /metrics failed"; }
# value FILE SERIES: the sample's value, 0 when the series is absent.
value() { awk -v s="$2" '$1 == s { v = $2 } END { print v == "" ? 0 : v }' "$1"; }
# moved BEFORE AFTER SERIES BY: the series grew by exactly BY.
moved() {
  local a b
  a=$(value "$1" "$3")
  b=$(value "$2" "$3")
  [ "$((b - a))" = "$4" ] || fail "$3 went from $a to $b, not up by $4"
}

scrape m0.txt
promtool check metrics < m0.txt > promtool.out 2>&1 || fail "promtool: $(cat promtool.out)"
grep -q '^scepd_build_info{version="[0-9.]*",openssl="3\.' m0.txt || fail "no build info: $(grep build m0.txt)"
[ "$(curl -s -o /dev/null -w '%{http_code}' -X POST "$MURL")" = 405 ] || fail "POST /metrics is not 405"
ok "/metrics without a token: promtool check metrics passes, build info, 405 for POST"

GETCA='scepd_requests_total{operation="GetCACert",message_type="none",outcome="ok",fail_info="none"}'
PKCS_OK='scepd_requests_total{operation="PKIOperation",message_type="PKCSReq",outcome="SUCCESS",fail_info="none"}'
PKCS_BAD='scepd_requests_total{operation="PKIOperation",message_type="PKCSReq",outcome="FAILURE",fail_info="badRequest"}'
RENEW_OK='scepd_requests_total{operation="PKIOperation",message_type="RenewalReq",outcome="SUCCESS",fail_info="none"}'
PKI_COUNT='scepd_request_duration_seconds_count{operation="PKIOperation"}'
for _ in 1 2 3; do curl -fs "$URL?operation=GetCACert" > /dev/null || fail "GetCACert"; done
"$SCEP" getca -u "$URL" -o cadir > getca.out 2>&1 || fail "getca: $(cat getca.out)"
scrape m1.txt
"$SCEP" enroll -u "$URL" --ca cadir --key dev.key --out dev.pem --subject "CN=dev,O=metrics" \
  --challenge s3cret --san dns:dev.example,ip:192.0.2.9 > dev.out 2>&1 || fail "enroll: $(cat dev.out)"
if "$SCEP" enroll -u "$URL" --ca cadir --key bad.key --out bad.pem --subject "CN=bad" \
  --challenge wrong > bad.out 2>&1; then fail "a wrong challenge was accepted"; fi
"$SCEP" renew -u "$URL" --ca cadir --cert dev.pem --key dev.key --out dev2.pem > renew.out 2>&1 \
  || fail "renew: $(cat renew.out)"
scrape m2.txt
moved m0.txt m1.txt "$GETCA" 4 # three by curl, one by getca
moved m1.txt m2.txt "$PKCS_OK" 1
moved m1.txt m2.txt "$PKCS_BAD" 1
moved m1.txt m2.txt "$RENEW_OK" 1
moved m1.txt m2.txt "$PKI_COUNT" 3
moved m1.txt m2.txt scepd_certificates_issued_total 1
moved m1.txt m2.txt scepd_certificates_renewed_total 1
[ "$(value m2.txt 'scepd_store_commit_duration_seconds_count')" -ge 2 ] \
  || fail "no store commits counted: $(grep store_commit m2.txt)"
[ "$(value m2.txt 'scepd_store_flush_duration_seconds_count')" -ge 1 ] \
  || fail "no store flushes counted: $(grep store_flush m2.txt)"
[ "$(value m2.txt 'scepd_pending_requests')" = 0 ] || fail "pending: $(grep pending m2.txt)"
promtool check metrics < m2.txt > promtool.out 2>&1 || fail "promtool after requests: $(cat promtool.out)"
ok "counters move by what was asked: GetCACert +4, PKCSReq SUCCESS +1, FAILURE badRequest +1, renewal +1, store latencies"

# Expiry gauges against openssl's dates (a few seconds apart at most).
ca_end=$(date -d "$(openssl x509 -in "$CA/ca.pem" -noout -enddate | cut -d= -f2)" +%s)
have=$(value m2.txt 'scepd_certificate_expiry_seconds{certificate="ca"}')
[ $((ca_end - $(date +%s) - have)) -le 5 ] && [ $((ca_end - $(date +%s) - have)) -ge -5 ] \
  || fail "CA expiry gauge $have, openssl says $((ca_end - $(date +%s))) s"
curl -fs "http://127.0.0.1:$PORT/crl/ca.crl" -o ca.crl || fail "GET /crl/ca.crl"
scrape m3.txt
next=$(date -d "$(openssl crl -inform DER -in ca.crl -noout -nextupdate | cut -d= -f2)" +%s)
have=$(value m3.txt scepd_crl_next_update_seconds)
[ $((next - $(date +%s) - have)) -le 5 ] && [ $((next - $(date +%s) - have)) -ge -5 ] \
  || fail "CRL nextUpdate gauge $have, openssl says $((next - $(date +%s))) s"
ok "expiry gauges: the CA's notAfter and the CRL's nextUpdate, in seconds from now"

# The alert rules in docs/operations.md: promtool accepts them, and the CA-expiry alert fires
# for a CA 20 days from its end without a next CA, and not with one (a profile CA's next CA
# does not hide the server's, nor the server's a profile CA's).
awk '/<!-- prometheus-rules -->/ { on = 1; next } on && /^```yaml/ { grab = 1; next }
  grab && /^```/ { exit } grab' "$ROOT/docs/operations.md" > rules.yml
promtool check rules rules.yml > rules.out 2>&1 || fail "promtool check rules: $(cat rules.out)"
cat > rules_test.yml << 'YML'
rule_files: [rules.yml]
evaluation_interval: 1m
tests:
  - interval: 1m
    input_series:
      - series: 'scepd_certificate_expiry_seconds{certificate="ca",job="a"}'
        values: '1728000x120'
      - series: 'scepd_certificate_expiry_seconds{certificate="ca",job="b"}'
        values: '1728000x120'
      - series: 'scepd_certificate_expiry_seconds{certificate="next_ca",job="b"}'
        values: '31536000x120'
      - series: 'scepd_certificate_expiry_seconds{certificate="ca",job="b",ca="iot"}'
        values: '1728000x120'
      - series: 'scepd_certificate_expiry_seconds{certificate="ca",job="c"}'
        values: '1728000x120'
      - series: 'scepd_certificate_expiry_seconds{certificate="ca",job="c",ca="iot"}'
        values: '1728000x120'
      - series: 'scepd_certificate_expiry_seconds{certificate="next_ca",job="c",ca="iot"}'
        values: '31536000x120'
    alert_rule_test:
      - eval_time: 90m
        alertname: ScepdCAExpiresSoon
        exp_alerts:
          - exp_labels: {severity: warning, certificate: ca, job: a}
            exp_annotations:
              summary: "The SCEP CA expires in 20d 0h 0m 0s and no next CA is prepared"
              description: "Run scepd rollover (or set auto_rollover_days) and reload scepd."
          - exp_labels: {severity: warning, certificate: ca, job: b, ca: iot}
            exp_annotations:
              summary: "The SCEP CA expires in 20d 0h 0m 0s and no next CA is prepared"
              description: "Run scepd rollover (or set auto_rollover_days) and reload scepd."
          - exp_labels: {severity: warning, certificate: ca, job: c}
            exp_annotations:
              summary: "The SCEP CA expires in 20d 0h 0m 0s and no next CA is prepared"
              description: "Run scepd rollover (or set auto_rollover_days) and reload scepd."
YML
promtool test rules rules_test.yml > rules_test.out 2>&1 || fail "promtool test rules: $(cat rules_test.out)"
ok "docs/operations.md's alert rules pass promtool check rules, and the CA-expiry alert fires only without a next CA"

# The log file: request lines and audit lines, 0640 or tighter.
[ -s "$LOG" ] || fail "log_file $LOG was not written"
[ $((0$(stat -c %a "$LOG") & 0137)) = 0 ] || fail "log_file mode $(stat -c %a "$LOG")"
grep -q 'PKIOperation PKCSReq' "$LOG" || fail "no request lines in the log file"
SERIAL=$(openssl x509 -in dev.pem -noout -serial | cut -d= -f2)
SERIAL2=$(openssl x509 -in dev2.pem -noout -serial | cut -d= -f2)
grep -q "scepd: audit issue serial=$SERIAL subject=\"CN=dev,O=metrics\" sans=\"DNS:dev.example, IP Address:192.0.2.9\" peer=127.0.0.1 by=\"policy\" tid=[0-9A-F]" "$LOG" \
  || fail "no audit line for the issuance: $(grep audit "$LOG")"
grep -q "scepd: audit renew serial=$SERIAL2 subject=\"CN=dev,O=metrics\" sans=\"DNS:dev.example, IP Address:192.0.2.9\" peer=127.0.0.1 by=\"policy\"" "$LOG" \
  || fail "no audit line for the renewal: $(grep audit "$LOG")"
[ "$(grep -c 'scepd: audit' "$LOG")" = 2 ] || fail "audit lines: $(grep audit "$LOG")"
ok "log_file has the request lines and an audit line per issuance and renewal (subject, serial, SANs, peer)"

# logrotate: move, SIGHUP, and the next lines go to a new file at the same name.
mv "$LOG" "$LOG.1"
OLD_LINES=$(wc -l < "$LOG.1")
kill -HUP "$SCEPD_PID"
wait_until eval 'grep -q '\''reload: configuration read'\'' "$LOG" 2> /dev/null' || true
[ -f "$LOG" ] || fail "no new log file after SIGHUP"
curl -fs "$URL?operation=GetCACaps" > /dev/null || fail "GetCACaps after the reopen"
wait_until eval 'grep -q GetCACaps "$LOG"' || true
grep -q 'GetCACaps' "$LOG" || fail "the request after SIGHUP is not in the new file: $(cat "$LOG")"
[ "$(wc -l < "$LOG.1")" = "$OLD_LINES" ] || fail "the moved file still takes new lines: $(tail -n 2 "$LOG.1")"
[ $((0$(stat -c %a "$LOG") & 0137)) = 0 ] || fail "reopened log_file mode $(stat -c %a "$LOG")"
ok "SIGHUP after the file was moved: new lines in a new file, none in the moved one"
stop_scepd

# JSON, manual approval: approve, reject and revoke by the admin commands name the user, and
# go to the same log_file.
sed -i 's/^log_format = text/log_format = json/' "$CA/scepd.conf"
start_scepd "$CA" --approve manual
ask() {
  timeout 30 "$SCEP" enroll -u "$URL" --ca cadir --key "$1.key" --out "$1.pem" --subject "CN=$1" \
    --poll-interval 1 --max-poll-time 1 "${@:2}" > "$1.out" 2>&1 || true
  grep -q "still PENDING" "$1.out" || fail "$1 is not pending: $(cat "$1.out")"
}
ask held --san dns:held.example
ask refused
scrape m4.txt
[ "$(value m4.txt scepd_pending_requests)" = 2 ] || fail "pending gauge: $(grep pending m4.txt)"
id_of() { "$SCEPD" pending --dir "$CA" | awk -v s="CN=$1" '$NF == s { print $1 }'; }
HELD=$(id_of held)
REFUSED=$(id_of refused)
"$SCEPD" approve --dir "$CA" "$HELD" > approve.out || fail "approve: $(cat approve.out)"
"$SCEPD" reject --dir "$CA" "$REFUSED" --reason "not ours" > reject.out || fail "reject"
HSERIAL=$(sed -n 's/.*issued serial \([0-9A-F]*\) .*/\1/p' approve.out)
"$SCEP" enroll -u "$URL" --ca cadir --key held.key --out held.pem --subject "CN=held" \
  --poll-interval 1 --max-poll-time 5 > held2.out 2>&1 || fail "held after approval: $(cat held2.out)"
"$SCEPD" revoke --dir "$CA" "$HSERIAL" --reason keyCompromise > revoke.out 2>&1 || fail "revoke"
WHO=$(id -un)
python3 - "$LOG" "$HSERIAL" "$WHO" << 'PY' || fail "JSON audit lines are not right: $(grep audit "$LOG")"
import json, sys
log, serial, who = sys.argv[1:]
lines = [json.loads(l) for l in open(log) if l.startswith("{")]
audit = {(a["audit"], a.get("subject")): a for a in lines if "audit" in a}
def want(key, **fields):
    a = audit.get(key)
    assert a is not None, f"no audit line {key}"
    for k, v in fields.items():
        assert a[k] == v, f"{key}: {k} is {a[k]!r}, not {v!r}"
    assert a["time"] and a["transactionID"] != "-", a
want(("approve", "CN=held"), serial=serial, sans="DNS:held.example", peer="127.0.0.1", by=who)
want(("reject", "CN=refused"), serial="-", peer="127.0.0.1", by=who, detail="not ours")
assert ("issue", "CN=held") not in audit, "the approval's certificate was logged twice"
want(("revoke", "CN=held"), serial=serial, by=who, detail="keyCompromise", sans="DNS:held.example")
PY
ok "JSON audit lines for approve (the issuance), reject and revoke by $WHO, in log_file"
finish
