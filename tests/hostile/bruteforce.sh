#!/usr/bin/env bash
# Brute force against running scepd processes (loopback only): wrong challenges counted per
# client address and per subject, a lockout that refuses the right challenge too, seen by a
# second server on the same store, cleared with `scepd lockouts`; bad admin tokens answered 429
# with Retry-After, never logged; the lockout doubling. The other address is 127.0.0.2, through
# a small forwarding proxy that binds it (the servers listen on 127.0.0.1 only).
source "$(dirname "$0")/../interop/lib.sh"
SCEP=${SCEP:-$ROOT/build/scep}
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY no_proxy NO_PROXY

CA=$WORK/ca
new_ca "$CA"
TOKEN=admin-token-0123456789abcdef
printf '%s\n' "$TOKEN" > "$CA/admin.token"
chmod 600 "$CA/admin.token"
ADMIN=127.0.0.1:$(free_port)
start_scepd "$CA" --challenge s3cret --set "admin_listen=$ADMIN" --set "admin_token_file=$CA/admin.token"
URL_A=$URL
PID_A=$SCEPD_PID
cd "$WORK"
"$SCEP" getca -u "$URL_A" -o cadir > /dev/null || fail "getca"

# A forwarding HTTP proxy whose upstream connections come from 127.0.0.2.
cat > bind_proxy.py <<'EOF'
import http.client, http.server, sys, urllib.parse
SKIP = ("connection", "proxy-connection", "keep-alive", "host", "transfer-encoding", "content-length")
class Relay(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *args):
        pass
    def relay(self):
        u = urllib.parse.urlsplit(self.path)
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else None
        c = http.client.HTTPConnection(u.hostname, u.port, timeout=30, source_address=("127.0.0.2", 0))
        c.request(self.command, u.path + ("?" + u.query if u.query else ""), body=body,
                  headers={k: v for k, v in self.headers.items() if k.lower() not in SKIP})
        r = c.getresponse()
        data = r.read()
        self.send_response(r.status)
        for k, v in r.getheaders():
            if k.lower() not in SKIP:
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        c.close()
    do_GET = do_POST = relay
s = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Relay)
open(sys.argv[1], "w").write(str(s.server_address[1]))
s.serve_forever()
EOF
python3 bind_proxy.py proxy.port > proxy.log 2>&1 &
PROXY_PID=$!
trap 'stop_pid "$PROXY_PID"; stop_pid "${PID_B:-}"; cleanup' EXIT
wait_until eval '[ -s proxy.port ]' || true
[ -s proxy.port ] || fail "the forwarding proxy did not start: $(cat proxy.log)"
VIA_2=(--proxy "http://127.0.0.1:$(cat proxy.port)")

enroll() { # URL NAME CHALLENGE [client flags...]; KEY=FILE: another key than NAME.key
  local url=$1 name=$2 challenge=$3; shift 3
  timeout 60 "$SCEP" enroll -u "$url" --ca cadir --key "${KEY:-$name.key}" --out "$name.pem" \
    --subject "CN=$name,O=Brute" --challenge "$challenge" "$@" > "$name.out" 2>&1
}

# 1. 25 wrong challenges from 127.0.0.1, each for another subject: only the address adds up.
for i in $(seq 1 25); do
  rc=0
  KEY=guess.key enroll "$URL_A" "guess-$i" "wrong-$i" || rc=$?
  [ "$rc" = 4 ] || fail "wrong challenge $i: exit $rc, expected 4 (FAILURE): $(tail -n 2 "guess-$i.out")"
done
grep -q "wrong or missing challenge password" guess-20.out || fail "the 20th guess: $(cat guess-20.out)"
grep -q "too many failed attempts, retry after [0-9]* s" guess-21.out \
  || fail "the 21st guess was not refused for the lockout: $(cat guess-21.out)"
ok "20 wrong challenges from one address, then that address is locked out"

rc=0
enroll "$URL_A" right-1 s3cret || rc=$?
[ "$rc" = 4 ] || fail "the right challenge from the locked-out address: exit $rc, expected 4: $(cat right-1.out)"
grep -q "too many failed attempts, retry after [0-9]* s" right-1.out || fail "unclear refusal: $(cat right-1.out)"
[ ! -e right-1.pem ] || fail "a certificate was written for a locked-out address"
grep "tid=" "$WORK/scepd.log" | grep "127.0.0.1 POST PKIOperation" | tail -n 1 \
  | grep -q 'http=200 FAILURE failInfo=badRequest.*too many failed attempts' \
  || fail "the refusal is not a signed FAILURE badRequest in the log: $(tail -n 3 "$WORK/scepd.log")"
ok "the right challenge from a locked-out address: signed FAILURE badRequest, 'too many failed attempts, retry after N s'"

grep -q "lockout: address 127.0.0.1 locked out for 60 s after failed challenges (lockout 1, 20 failures" \
  "$WORK/scepd.log" || fail "no log line for the lockout"
refusals=$(grep -c "lockout: refused address 127.0.0.1" "$WORK/scepd.log" || true)
[ "$refusals" = 1 ] || fail "$refusals refusal lines for 6 refusals within a minute, expected 1"
ok "the lockout is logged once, refusals at most once a minute per address"

enroll "$URL_A" other-1 s3cret "${VIA_2[@]}" || fail "enroll from 127.0.0.2 during the lockout: $(cat other-1.out)"
check_issued other-1.pem other-1.key cadir/ca.pem other-1
grep -q "127.0.0.2 POST PKIOperation.*SUCCESS" "$WORK/scepd.log" || fail "the enrollment did not come from 127.0.0.2"
ok "another address enrolls while 127.0.0.1 is locked out"

# 2. A second server on the same store agrees; clearing the address ends the lockout on both.
PORT_B=$(free_port)
URL_B="http://127.0.0.1:$PORT_B/scep"
"$SCEPD" serve --dir "$CA" --listen "127.0.0.1:$PORT_B" --challenge s3cret "${SERVE_ROOT[@]}" \
  --set max_subject_failures=3 >> "$WORK/scepd-b.log" 2>&1 &
PID_B=$!
wait_for "no answer from $URL_B?operation=GetCACaps" answers "$URL_B?operation=GetCACaps"
rc=0
enroll "$URL_B" right-2 s3cret || rc=$?
[ "$rc" = 4 ] && grep -q "too many failed attempts" right-2.out \
  || fail "the second server did not see the lockout (exit $rc): $(cat right-2.out)"
"$SCEPD" lockouts --dir "$CA" > lockouts.txt || fail "scepd lockouts"
grep -Eq '^address +0 +20 +1 +20[0-9-]+T[0-9:]+Z .* 127\.0\.0\.1$' lockouts.txt \
  || fail "scepd lockouts does not show the address locked out: $(cat lockouts.txt)"
ok "a second scepd on the same store refuses the locked-out address too; scepd lockouts lists it"

"$SCEPD" lockouts --dir "$CA" --clear 127.0.0.1 > clear.txt || fail "lockouts --clear: $(cat clear.txt)"
grep -q "cleared 1 record" clear.txt || fail "lockouts --clear: $(cat clear.txt)"
enroll "$URL_B" right-3 s3cret || fail "enroll after --clear (second server): $(cat right-3.out)"
enroll "$URL_A" right-4 s3cret || fail "enroll after --clear (first server): $(cat right-4.out)"
ok "lockouts --clear ADDR ends the lockout on both servers"

# 3. Per subject, from any address: 3 wrong challenges for CN=dev-7 (the second server's limit)
# lock that subject; its one-time challenge is refused but not spent; CN=dev-8 still enrolls.
OTC=$("$SCEPD" challenge --dir "$CA" --subject-match '^CN=dev-7,' | tail -n 1) || fail "scepd challenge"
for i in 1 2 3; do
  rc=0
  enroll "$URL_B" dev-7 "wrong-$i" "${VIA_2[@]}" || rc=$?
  [ "$rc" = 4 ] || fail "wrong challenge $i for CN=dev-7: exit $rc"
done
rc=0
enroll "$URL_B" dev-7 "$OTC" || rc=$?
[ "$rc" = 4 ] && grep -q "too many failed attempts" dev-7.out \
  || fail "the one-time challenge of a locked-out subject was accepted (exit $rc): $(cat dev-7.out)"
enroll "$URL_B" dev-8 s3cret "${VIA_2[@]}" || fail "another subject from the same address: $(cat dev-8.out)"
"$SCEPD" lockouts --dir "$CA" --clear "CN=Dev-7,O=Brute" > clear.txt || fail "lockouts --clear subject"
enroll "$URL_B" dev-7 "$OTC" || fail "the one-time challenge after --clear (spent by the refusal?): $(cat dev-7.out)"
check_issued dev-7.pem dev-7.key cadir/ca.pem dev-7
ok "wrong challenges for one subject from another address lock that subject; its one-time challenge survives the lockout"

# 4. Admin tokens: 20 bad or missing ones from 127.0.0.1, then 429 with Retry-After, the right
# token too; from 127.0.0.2 the right token works; no token reaches the log.
admin() { curl -s -o admin.body -D admin.head -w '%{http_code}' "$@" || true; }
for i in $(seq 1 20); do
  code=$(admin -X POST -H "Authorization: Bearer guess-token-$i" "http://$ADMIN/challenge")
  [ "$code" = 401 ] || fail "bad token $i: HTTP $code, expected 401"
done
code=$(admin -X POST "http://$ADMIN/challenge")
[ "$code" = 429 ] || fail "a missing token after 20 bad ones: HTTP $code, expected 429"
code=$(admin -X POST -H "Authorization: Bearer $TOKEN" "http://$ADMIN/challenge")
[ "$code" = 429 ] || fail "the right token from the locked-out address: HTTP $code, expected 429"
grep -Eqi '^retry-after: [0-9]+' admin.head || fail "429 without Retry-After: $(cat admin.head)"
grep -q "too many failed attempts, retry after" admin.body || fail "429 body: $(cat admin.body)"
code=$(admin --interface 127.0.0.2 -X POST -H "Authorization: Bearer $TOKEN" "http://$ADMIN/challenge")
[ "$code" = 200 ] || fail "the right token from 127.0.0.2: HTTP $code: $(cat admin.body)"
code=$(admin --interface 127.0.0.2 -H "Authorization: Bearer $TOKEN" "http://$ADMIN/lockouts")
[ "$code" = 200 ] && grep -Eq '^admin +0 +20 +1 .* 127\.0\.0\.1$' admin.body \
  || fail "GET /lockouts (HTTP $code): $(cat admin.body)"
[ "$(grep -c "admin: bad or missing bearer token from 127.0.0.1" "$WORK/scepd.log")" = 20 ] \
  || fail "not every bad token was logged"
if grep -q -e "guess-token" -e "$TOKEN" "$WORK/scepd.log" "$WORK/scepd-b.log"; then
  fail "a bearer token reached the log"
fi
ok "admin: 20 bad tokens, then 429 with Retry-After (the right token too); another address is served; no token logged"

# 5. Backoff: once locked out, every further failure locks again for twice as long.
stop_pid "$PID_B"
PID_B=""
start_scepd "$CA" --challenge s3cret --set "admin_listen=$ADMIN" --set "admin_token_file=$CA/admin.token" \
  --set max_failures=2 --set lockout=2 --set max_lockout=16
wait_for "no answer from http://$ADMIN/readyz" answers "http://$ADMIN/readyz"
"$SCEPD" lockouts --dir "$CA" --clear-all > /dev/null || fail "lockouts --clear-all"
bad_token() {
  code=$(admin -X POST -H "Authorization: Bearer nope" "http://$ADMIN/challenge")
  [ "$code" = "$1" ] || fail "backoff: HTTP $code, expected $1"
}
lockout_length() { # the admin lockout of 127.0.0.1: locked-until minus its last failure
  local line
  line=$("$SCEPD" lockouts --dir "$CA" | grep -E '^admin .* 127\.0\.0\.1$') || fail "no admin record"
  set -- $line
  echo $(($(date -d "$5" +%s) - $(date -d "$6" +%s)))
}
bad_token 401
bad_token 401
# The refusal first, at once: reading the lockout with another process takes time on a busy
# machine, and the first lockout is only 2 s long.
bad_token 429
grep -Eqi '^retry-after: [12]' admin.head || fail "Retry-After: $(cat admin.head)"
[ "$(lockout_length)" = 2 ] || fail "the first lockout is not 2 s: $("$SCEPD" lockouts --dir "$CA")"
sleep 2.3
bad_token 401
[ "$(lockout_length)" = 4 ] || fail "the second lockout is not 4 s: $("$SCEPD" lockouts --dir "$CA")"
sleep 4.3
bad_token 401
[ "$(lockout_length)" = 8 ] || fail "the third lockout is not 8 s: $("$SCEPD" lockouts --dir "$CA")"
ok "lockouts double while failures continue: 2 s, 4 s, 8 s (one failure each after the first)"

hwm=$(awk '/VmHWM/ {print $2}' "/proc/$SCEPD_PID/status")
[ "$hwm" -lt 65536 ] || fail "scepd's peak RSS is $hwm kB"
curl -fs "$URL?operation=GetCACaps" > /dev/null || fail "scepd stopped answering"
ok "scepd still answers, peak RSS ${hwm} kB"
finish
