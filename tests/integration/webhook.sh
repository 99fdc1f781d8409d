#!/usr/bin/env bash
# The validation webhook (validate_url): a local webhook (webhook_server.py) over HTTPS with the
# test's own TLS CA, and over http to loopback. Allow (the document's fields and signature),
# deny with a reason (in our client's message; a resend asks no second time), narrowed
# validity, replaced SANs, too slow, 500 (retried once), a wrong secret (its 401), malformed
# JSON, unreachable, validate_failure = pending, a wrong TLS CA; a static challenge and the
# webhook must both pass; the secret and the challenge never reach the log.
source "$(dirname "$0")/../interop/lib.sh"
SCEP=${SCEP:-$ROOT/build/scep}
cd "$WORK"
CA=$WORK/ca
new_ca "$CA"
SECRET="hook-secret-$RANDOM$RANDOM"
printf '%s\n' "$SECRET" > "$CA/hook.secret"
chmod 600 "$CA/hook.secret"
printf 'not-the-secret\n' > "$CA/wrong.secret"
chmod 600 "$CA/wrong.secret"

# The webhook's TLS CA and its certificate for 127.0.0.1; another CA that did not sign it.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout tlsca.key \
  -out tlsca.pem -subj "/CN=hook TLS CA" -days 2 2> /dev/null || fail "TLS CA"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout other.key \
  -out otherca.pem -subj "/CN=other TLS CA" -days 2 2> /dev/null || fail "other CA"
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout hook.key \
  -subj "/CN=127.0.0.1" -out hook.csr 2> /dev/null
openssl x509 -req -in hook.csr -CA tlsca.pem -CAkey tlsca.key -CAcreateserial -days 1 \
  -extfile <(printf 'subjectAltName=IP:127.0.0.1\n') -out hook.pem 2> /dev/null || fail "hook cert"

# hook NAME [--cert ...]: a webhook answering as plan.json says; sets NAME_PORT, records in NAME/.
hook() {
  local name=$1; shift
  mkdir -p "$name"
  python3 "$ROOT/tests/integration/webhook_server.py" --secret "$SECRET" --plan "$WORK/plan.json" \
    --record "$WORK/$name" --port-file "$WORK/$name.port" "$@" > "$name.log" 2>&1 &
  HOOK_PIDS+=("$!")
  for _ in $(seq 1 600); do [ -s "$name.port" ] && break; sleep 0.05; done
  [ -s "$name.port" ] || fail "webhook $name did not start: $(cat "$name.log")"
}
HOOK_PIDS=()
stop_hooks() { for p in "${HOOK_PIDS[@]}"; do stop_pid "$p"; done; cleanup; }
trap stop_hooks EXIT
plan() { printf '%s\n' "$1" > plan.json; }
calls() { find "$WORK/$1" -name '*.json' | wc -l; }
hook tls --cert hook.pem --key hook.key
hook plain
HTTPS_URL="https://127.0.0.1:$(cat tls.port)/validate"
HTTP_URL="http://127.0.0.1:$(cat plain.port)/validate"

# serve_with SETTING=VALUE...: scepd with the webhook over https (the test CA) and these.
serve_with() {
  local sets=()
  for s in "validate_url=$HTTPS_URL" validate_secret_file="$CA/hook.secret" validate_ca_file="$WORK/tlsca.pem" \
    validate_timeout=2 "$@"; do sets+=(--set "$s"); done
  start_scepd "$CA" "${sets[@]}"
  "$SCEP" getca -u "$URL" -o cadir > /dev/null || fail "getca"
}
# enroll NAME WANT_RC [flags...]: our client for CN=NAME, its key NAME.key, output NAME.out.
enroll() {
  local name=$1 want=$2 rc=0; shift 2
  timeout 60 "$SCEP" enroll -u "$URL" --ca cadir --key "$name.key" --out "$name.pem" \
    --subject "CN=$name,O=hooks" --poll-interval 1 --max-poll-time 1 "$@" > "$name.out" 2>&1 || rc=$?
  [ "$rc" = "$want" ] || fail "enroll $name: exit code $rc, expected $want: $(tail -n 3 "$name.out")"
}

# The configuration is checked: http:// only to loopback, a secret file needed.
rc=0
"$SCEPD" serve --dir "$CA" "${SERVE_ROOT[@]}" --set validate_url=http://192.0.2.1/v \
  --set validate_secret_file="$CA/hook.secret" > refused.log 2>&1 || rc=$?
[ "$rc" != 0 ] && grep -q "bad value for validate_url: 'http://192.0.2.1/v' (an https:// URL, or http:// to 127.0.0.1" refused.log \
  || fail "http:// to another host: exit $rc: $(cat refused.log)"
rc=0
"$SCEPD" serve --dir "$CA" "${SERVE_ROOT[@]}" --set validate_url="$HTTPS_URL" > refused.log 2>&1 || rc=$?
[ "$rc" != 0 ] && grep -q "validate_url needs validate_secret_file" refused.log \
  || fail "no secret file: exit $rc: $(cat refused.log)"
chmod 644 "$CA/hook.secret"
rc=0
"$SCEPD" serve --dir "$CA" "${SERVE_ROOT[@]}" --set validate_url="$HTTPS_URL" \
  --set validate_secret_file="$CA/hook.secret" > refused.log 2>&1 || rc=$?
chmod 600 "$CA/hook.secret"
[ "$rc" != 0 ] && grep -q "(validate_secret_file) is readable by group or others" refused.log \
  || fail "a readable secret file: exit $rc: $(cat refused.log)"
ok "http:// to another host, no secret file and a readable secret file are refused"

# Allow, with no static challenge: the webhook checks the challenge itself.
serve_with renewal_window=0%
plan '{"want_challenge": "device-pw-1"}'
enroll allow 0 --challenge device-pw-1 --san dns:allow.example,ip:192.0.2.7
check_issued allow.pem allow.key cadir/ca.pem allow
[ "$(calls tls)" = 1 ] || fail "the webhook saw $(calls tls) requests, expected 1"
python3 - "$WORK/tls/1.json" "$WORK/tls/1.sig" "$SECRET" "$WORK/allow.key" << 'EOF' || fail "the document"
import hashlib, hmac, json, re, subprocess, sys
body = open(sys.argv[1], "rb").read()
sig, ctype = open(sys.argv[2]).read().split("\n")[:2]
assert ctype == "application/json", ctype
want = "sha256=" + hmac.new(sys.argv[3].encode(), body, hashlib.sha256).hexdigest()
assert hmac.compare_digest(sig, want), "signature"
d = json.loads(body)
assert d["version"] == 1 and re.fullmatch(r"[0-9a-f]{32}", d["id"]), d
assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", d["time"]), d["time"]
assert d["profile"] == "default" and d["message_type"] == "PKCSReq", d
assert re.fullmatch(r"[0-9A-Fa-f]+", d["transaction_id"]), d["transaction_id"]
assert "CN=allow" in d["subject"] and "O=hooks" in d["subject"], d["subject"]
assert d["sans"] == ["DNS:allow.example", "IP:192.0.2.7"], d["sans"]
assert d["key"] == {"type": "RSA", "bits": 2048, "curve": None}, d["key"]
assert d["challenge"] == "device-pw-1" and d["client"] == "127.0.0.1", d
assert d["signer"] is None, d["signer"]
csr_key = subprocess.run(["openssl", "req", "-noout", "-pubkey"], input=d["csr"].encode(),
                         capture_output=True, check=True).stdout
key = subprocess.run(["openssl", "pkey", "-in", sys.argv[4], "-pubout"], capture_output=True,
                     check=True).stdout
assert csr_key == key, "the CSR's key"
EOF
ok "allow: issued; the document's fields, Content-Type and HMAC signature are right"

# A renewal: its message type and its signer, the certificate it renews; no challenge.
plan '{}'
timeout 60 "$SCEP" renew -u "$URL" --ca cadir --cert allow.pem --key allow.key --out renewed.pem \
  > renew.out 2>&1 || fail "renew: $(cat renew.out)"
check_issued renewed.pem allow.key cadir/ca.pem allow
python3 - "$WORK/tls/$(calls tls).json" "$WORK/allow.pem" << 'EOF' || fail "the renewal's document"
import json, subprocess, sys
d = json.load(open(sys.argv[1]))
assert d["message_type"] == "RenewalReq" and d["challenge"] is None, d
der = lambda pem: subprocess.run(["openssl", "x509", "-outform", "DER"], input=pem,
                                 capture_output=True, check=True).stdout
assert der(d["signer"].encode()) == der(open(sys.argv[2], "rb").read()), "signer"
EOF
ok "a renewal: RenewalReq, signed by the certificate it renews, which the document carries"

plan '{"want_challenge": "device-pw-1"}'
enroll wrongpw 4 --challenge not-it
grep -q "wrong challenge" wrongpw.out || fail "the webhook's refusal of a challenge: $(cat wrongpw.out)"
ok "without a static challenge the webhook's verdict on the challenge decides"

# Deny with a reason; the same request again is answered from the store.
plan '{"body": "{\"allow\": false, \"reason\": \"device not in inventory\", \"extra\": [1]}"}'
before=$(calls tls)
enroll deny 4 --challenge device-pw-1
grep -q "device not in inventory" deny.out || fail "deny: the reason is not shown: $(cat deny.out)"
enroll deny 4 --challenge device-pw-1
grep -q "device not in inventory" deny.out || fail "deny again: $(cat deny.out)"
[ "$(calls tls)" = $((before + 1)) ] || fail "a resend of a denied request called the webhook again"
ok "deny: FAILURE with the webhook's reason; the resend is answered without a second call"

plan '{"body": "{\"allow\": true, \"validity_days\": 2}"}'
enroll narrow 0
end=$(date -d "$(openssl x509 -in narrow.pem -noout -enddate | cut -d= -f2)" +%s)
[ "$end" -le $(($(date +%s) + 2 * 86400 + 60)) ] && [ "$end" -ge $(($(date +%s) + 2 * 86400 - 600)) ] \
  || fail "narrow: notAfter $(openssl x509 -in narrow.pem -noout -enddate), expected in 2 days"
plan '{"body": "{\"allow\": true, \"validity_days\": 3650}"}'
enroll wide 0
end=$(date -d "$(openssl x509 -in wide.pem -noout -enddate | cut -d= -f2)" +%s)
[ "$end" -le $(($(date +%s) + 365 * 86400 + 60)) ] || fail "validity_days widened the lifetime"
ok "validity_days narrows the lifetime (2 days) and never widens it"

plan '{"body": "{\"allow\": true, \"sans\": [\"DNS:replaced.example\", \"IP:192.0.2.9\"]}"}'
enroll sans 0 --san dns:asked.example
openssl x509 -in sans.pem -noout -ext subjectAltName > sans.txt
grep -q "DNS:replaced.example, IP Address:192.0.2.9" sans.txt && ! grep -q asked sans.txt \
  || fail "sans: the certificate has $(cat sans.txt)"
plan '{"body": "{\"allow\": true, \"sans\": [\"dirName:CN=x\"]}"}'
enroll badsans 4
grep -q "validation service unavailable" badsans.out || fail "bad sans: $(cat badsans.out)"
ok "sans replace the requested names; a name of another type is refused"

plan '{"sleep": 6}'
enroll slow 4
grep -q "validation service unavailable" slow.out || fail "slow: $(cat slow.out)"
# The server's own time for the request (its log line), not the client's: a sanitized client
# generating its key on a loaded machine takes seconds of its own. Under the webhook's 6 s by
# far: the call was cut at validate_timeout.
ms=$(grep "PKIOperation PKCSReq" "$WORK/scepd.log" | tail -n 1 | sed -n 's/.* \([0-9.]*\)ms .*/\1/p')
awk -v ms="${ms:-99999}" 'BEGIN { exit !(ms < 4000) }' \
  || fail "slow: the request took ${ms:-?} ms in the server with validate_timeout = 2 (the webhook waits 6 s)"
log_has "validation service: Operation timed out after 200[0-9] milliseconds"
ok "a webhook slower than validate_timeout: denied within the timeout"

plan '{"status": 500, "body": "oops"}'
before=$(calls tls)
enroll e500 4
[ "$(calls tls)" = $((before + 2)) ] || fail "500: $(($(calls tls) - before)) calls, expected 2"
grep -q "validation service unavailable" e500.out || fail "500: $(cat e500.out)"
log_has "validation service answered HTTP 500"
plan '{"body": "{\"allow\": tru"}'
before=$(calls tls)
enroll malformed 4
[ "$(calls tls)" = $((before + 1)) ] || fail "malformed JSON was asked again"
log_has "validation service: bad answer: the answer is not one JSON document"
plan '{"body": "{\"allow\": \"yes\"}"}'
enroll wrongtype 4
log_has 'bad answer: "allow" is missing or not true or false'
ok "500 (asked twice), malformed JSON and a wrong type: denied, the log says why"

serve_with validate_secret_file="$CA/wrong.secret"
plan '{}'
enroll wrongsecret 4
grep -q "validation service unavailable" wrongsecret.out || fail "wrong secret: $(cat wrongsecret.out)"
log_has "validation service answered HTTP 401"
serve_with validate_url="https://127.0.0.1:$(free_port)/none"
enroll unreachable 4
log_has "validation service: .*[Cc]ould not connect\|validation service: .*[Ff]ailed to connect"
serve_with validate_ca_file="$WORK/otherca.pem"
enroll wrongca 4
log_has "validation service: SSL certificate problem"
ok "a wrong secret (the webhook's 401), no webhook and a wrong TLS CA: denied, the log says why"

serve_with validate_url="https://127.0.0.1:$(free_port)/none" validate_failure=pending
enroll held 5
grep -q "still PENDING" held.out || fail "validate_failure = pending: $(cat held.out)"
"$SCEPD" pending --dir "$CA" | grep -q "CN=held" || fail "held is not pending"
ok "validate_failure = pending: an unreachable webhook leaves the request PENDING"

# With approve = manual the webhook's names are kept with the request and issued at approval.
serve_with approve=manual
plan '{"body": "{\"allow\": true, \"sans\": [\"DNS:kept.example\"]}"}'
enroll manual 5 --san dns:asked.example
ID=$("$SCEPD" pending --dir "$CA" | awk '/CN=manual/ { print $1 }')
[ -n "$ID" ] || fail "manual: not pending: $("$SCEPD" pending --dir "$CA")"
"$SCEPD" pending --dir "$CA" | grep "CN=manual" | grep -q "kept.example" \
  || fail "pending does not show the webhook's names: $("$SCEPD" pending --dir "$CA")"
"$SCEPD" approve --dir "$CA" "$ID" > /dev/null || fail "approve $ID"
before=$(calls tls)
enroll manual 0 --san dns:asked.example
[ "$(calls tls)" = "$before" ] || fail "the poll of an allowed request called the webhook"
openssl x509 -in manual.pem -noout -ext subjectAltName | grep -q "DNS:kept.example" \
  || fail "manual: $(openssl x509 -in manual.pem -noout -ext subjectAltName)"
ok "approve = manual: the webhook's names are stored, shown and issued; polls do not ask again"

# A static challenge and the webhook: both must pass, the wrong challenge never reaches it.
serve_with validate_url="$HTTP_URL" challenge=static-pw
plan '{}'
enroll static_wrong 4 --challenge not-static
[ "$(calls plain)" = 0 ] || fail "a wrong static challenge reached the webhook"
enroll static_ok 0 --challenge static-pw
[ "$(calls plain)" = 1 ] || fail "plain http: $(calls plain) calls"
check_issued static_ok.pem static_ok.key cadir/ca.pem static_ok
ok "http:// to loopback; with a static challenge both it and the webhook must pass"

# A profile of its own asks its own webhook, with no challenge of its own; the default profile,
# without validate_url, asks none.
stop_scepd
cp "$CA/scepd.conf" scepd.conf.orig
printf '%s\n' "[profile mdm]" "challenge = none" "validate_url = $HTTP_URL" \
  "validate_secret_file = $CA/hook.secret" "san_dns_domains = .mdm.example" >> "$CA/scepd.conf"
start_scepd "$CA" --set challenge=static-pw
plan '{"want_challenge": "mdm-device-pw"}'
before=$(calls plain)
URL="http://127.0.0.1:$PORT/scep/mdm"
enroll in_mdm 0 --challenge mdm-device-pw
check_issued in_mdm.pem in_mdm.key cadir/ca.pem in_mdm
[ "$(calls plain)" = $((before + 1)) ] || fail "the mdm profile's webhook was not asked once"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["profile"] == "mdm", d["profile"]' \
  "$WORK/plain/$(calls plain).json" || fail "the document does not name the profile mdm"
# Names the webhook puts in must keep to the profile's rules, or there is no verdict.
plan '{"body": "{\"allow\": true, \"sans\": [\"DNS:evil.example\"]}"}'
enroll mdm_evil 4 --san dns:laptop.mdm.example
grep -q "validation service unavailable" mdm_evil.out || fail "sans outside the profile: $(cat mdm_evil.out)"
log_has "its \"sans\" .*DNS:evil.example is outside san_dns_domains"
URL="http://127.0.0.1:$PORT/scep"
enroll in_default 0 --challenge static-pw
[ "$(calls plain)" = $((before + 2)) ] || fail "the default profile asked the mdm profile's webhook"
cp scepd.conf.orig "$CA/scepd.conf"
ok "[profile mdm] with validate_url and challenge = none: its webhook decides, named in the document, its names kept to the profile's rules; the default profile asks none"

stop_scepd
! grep -qF -- "$SECRET" "$WORK/scepd.log" || fail "the secret is in the log"
! grep -qF -- "device-pw-1" "$WORK/scepd.log" || fail "a challenge is in the log"
! grep -qF -- "static-pw" "$WORK/scepd.log" || fail "the static challenge is in the log"
ok "neither the secret nor a challenge is in the log"
finish
