#!/usr/bin/env bash
# Our client `scep` against broken servers: fake_scep_server.py proxies to a real scepd and
# breaks one thing per run. For each the client must print one clear error line, exit with the
# documented code (3 transport/HTTP error, 6 a reply that does not verify or make sense) and
# leave its output untouched.
#
#   SCEP / SCEPD   the binaries (default: build/scep, build/scepd)
#   KEEP_WORK=1    keep the work folder
source "$(dirname "$0")/../interop/lib.sh"
SCEP=${SCEP:-$ROOT/build/scep}
FAKE=$ROOT/tests/integration/fake_scep_server.py
[ -x "$SCEP" ] || fail "no client at $SCEP"

PROXY_PID=""
OTHER_PID=""
stop_proxy() {
  [ -n "$PROXY_PID" ] || return 0
  kill "$PROXY_PID" 2>/dev/null || true
  wait "$PROXY_PID" 2>/dev/null || true
  PROXY_PID=""
}
stop_other() {
  [ -n "$OTHER_PID" ] || return 0
  kill "$OTHER_PID" 2>/dev/null || true
  wait "$OTHER_PID" 2>/dev/null || true
  OTHER_PID=""
}
trap 'stop_proxy; stop_other; cleanup' EXIT

# start_proxy MODE [fake_scep_server flags]: a fresh proxy in front of $URL recording into
# $WORK/rec-MODE; sets PURL and REC.
start_proxy() {
  stop_proxy
  local mode=$1; shift
  REC=$WORK/rec-$mode
  rm -rf "$REC" "$WORK/proxy.port"
  mkdir -p "$REC"
  python3 "$FAKE" --upstream "$URL" --mode "$mode" --port-file "$WORK/proxy.port" \
    --record "$REC" "$@" >> "$WORK/proxy.log" 2>&1 &
  PROXY_PID=$!
  for _ in $(seq 1 600); do
    [ -s "$WORK/proxy.port" ] && break
    kill -0 "$PROXY_PID" 2>/dev/null || fail "the python proxy died: $(tail -n 3 "$WORK/proxy.log")"
    sleep 0.05
  done
  [ -s "$WORK/proxy.port" ] || fail "the python proxy did not start"
  PURL="http://127.0.0.1:$(cat "$WORK/proxy.port")/scep"
}

# one_error_line LABEL CMD PATTERN: stderr holds one error line "scep CMD: ..." matching
# PATTERN, and nothing else but the client's progress notes ("scep: resuming transaction ...").
one_error_line() {
  local label=$1 cmd=$2 pattern=$3
  local errors
  errors=$(grep -v '^scep: ' "$ERR" || true)
  [ -n "$errors" ] && [ "$(printf '%s\n' "$errors" | wc -l)" = 1 ] \
    || fail "$label: expected one error line: $(cat "$ERR")"
  case $errors in "scep $cmd: "*) ;; *) fail "$label: the error line does not start with 'scep $cmd:': $errors" ;; esac
  grep -Eqi -- "$pattern" <<< "$errors" || fail "$label: the error line does not match /$pattern/: $errors"
}

# served MODE: the proxy did answer a PKIOperation in that mode (so the break was exercised).
served() {
  grep -q "^1 $1" "$REC/pkioperations" 2>/dev/null || fail "$1: the proxy answered no PKIOperation"
}

sum() { sha256sum "$1" | cut -d' ' -f1; }
KNOWN="known content: must not be overwritten"
CHALLENGE=s3cret

SECONDS=0
# --- The real CA (RA mode) and an unrelated second CA.
CA=$WORK/ca
new_ca "$CA" --ra
start_scepd "$CA" --challenge "$CHALLENGE"
OTHER=$WORK/other
"$SCEPD" init --dir "$OTHER" --subject "CN=Unrelated CA,O=elsewhere" > "$OTHER.init.txt" \
  || fail "scepd init of the other CA"
OTHER_PORT=$(free_port)
OTHER_URL="http://127.0.0.1:$OTHER_PORT/scep"
"$SCEPD" serve --dir "$OTHER" --listen "127.0.0.1:$OTHER_PORT" --challenge "$CHALLENGE" "${SERVE_ROOT[@]}" \
  > "$WORK/other.log" 2>&1 &
OTHER_PID=$!
for _ in $(seq 1 300); do
  curl -fs "$OTHER_URL?operation=GetCACaps" > /dev/null 2>&1 && break
  sleep 0.1
done
curl -fs "$OTHER_URL?operation=GetCACaps" > /dev/null 2>&1 || fail "the other scepd did not start"

cd "$WORK"
FP=$(sed -n 's/^CA SHA-256 fingerprint: //p' "$CA.init.txt")
run_scep 0 "getca" getca -u "$URL" -o cadir --fingerprint "$FP"
# An existing key, reused by the enrollments below (the same request each time: its transactionID
# is derived from the key), so that nothing but the output can change.
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out dev.key 2> /dev/null \
  || fail "openssl genpkey"
KEY_SUM=$(sum dev.key)

# enroll_through MODE WANT_RC PATTERN [proxy flags]: enroll through the proxy in MODE with an
# output file holding known content; checks the exit code, the error line, the untouched files.
enroll_through() {
  local mode=$1 want=$2 pattern=$3; shift 3
  start_proxy "$mode" "$@"
  local out=$WORK/out-$mode.pem
  echo "$KNOWN" > "$out"
  local before
  before=$(sum "$out")
  run_scep "$want" "$mode" enroll -u "$PURL" --ca cadir --key dev.key --out "$out" \
    --subject "CN=bad-server" --challenge "$CHALLENGE"
  stop_proxy
  served "$mode"
  one_error_line "$mode" enroll "$pattern"
  [ "$(sum "$out")" = "$before" ] || fail "$mode: the output file was changed"
  [ ! -e "$out.pending" ] || fail "$mode: a pending state file was left"
  [ "$(sum dev.key)" = "$KEY_SUM" ] || fail "$mode: the key was changed"
}

# --- Control: through the proxy passing everything, the same command does overwrite the output
# file (so the "unchanged" checks below can fail), and its CertRep is kept for the replay.
start_proxy pass
echo "$KNOWN" > out-pass.pem
run_scep 0 "pass-through" enroll -u "$PURL" --ca cadir --key dev.key --out out-pass.pem \
  --subject "CN=bad-server" --challenge "$CHALLENGE"
stop_proxy
check_issued out-pass.pem dev.key "$CA/ca.pem" bad-server
served pass
cp "$REC/reply-1.der" certrep-pass.der
ok "control: through a pass-through proxy the enrollment succeeds and replaces the output file"

# (a) HTTP 500 with an HTML page.
enroll_through html500 3 "HTTP 500"
ok "(a) PKIOperation answers HTTP 500 with HTML: exit 3, one error line, output untouched"

# (b) HTTP 200 with half a CertRep.
enroll_through truncated 6 "refused|malformed|truncated"
ok "(b) PKIOperation answers a truncated CertRep: exit 6, one error line, output untouched"

# (c) The real CertRep labelled text/html.
enroll_through content-type 6 "content type"
ok "(c) PKIOperation answers the CertRep as text/html: exit 6, one error line, output untouched"

# (d) The request goes to an unrelated scepd, which answers a CertRep (FAILURE: it cannot
# decrypt) signed by its own CA: that must not verify against the pinned CA, so exit 6, not 4.
enroll_through foreign 6 "trusted|verify|signer" --other "$OTHER_URL"
grep -q "PKIOperation PKCSReq .* FAILURE" "$WORK/other.log" \
  || fail "(d) the other scepd did not answer the forwarded request"
ok "(d) a CertRep signed by an unrelated CA: exit 6, one error line, output untouched"

# (e) A CertRep for another request: the one of the control enrollment, for another key here.
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out dev2.key 2> /dev/null
start_proxy replay --replay "$WORK/certrep-pass.der"
echo "$KNOWN" > out-replay.pem
run_scep 6 "replay for another key" enroll -u "$PURL" --ca cadir --key dev2.key \
  --out out-replay.pem --subject "CN=bad-server-replay" --challenge "$CHALLENGE"
stop_proxy
served replay
one_error_line "replay for another key" enroll "refused"
[ "$(cat out-replay.pem)" = "$KNOWN" ] || fail "(e) the output file was changed by a replayed CertRep"
[ ! -e out-replay.pem.pending ] || fail "(e) a pending state file was left"
ok "(e) a replayed CertRep of another enrollment: exit 6, one error line, output untouched"

# (e') The sharpest replay: the same transaction, the same signer, so the reply verifies and
# decrypts and only its recipientNonce is stale. A PENDING enrollment is saved; after approval
# the resumed run gets SUCCESS (recorded); then the saved state is put back and that SUCCESS is
# replayed to a new poll.
start_scepd "$CA" --challenge "$CHALLENGE" --approve manual
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out dev3.key 2> /dev/null
run_scep 5 "pending enrollment" enroll -u "$URL" --ca cadir --key dev3.key --out out-nonce.pem \
  --subject "CN=bad-server-nonce" --challenge "$CHALLENGE" --poll-interval 1 --max-poll-time 1
[ -s out-nonce.pem.pending ] || fail "(e') no state file after PENDING"
cp out-nonce.pem.pending saved.pending
"$SCEPD" approve --dir "$CA" --all > approve.txt || fail "(e') scepd approve failed"
start_proxy pass
run_scep 0 "resumed enrollment" enroll -u "$PURL" --ca cadir --key dev3.key --out out-nonce.pem \
  --subject "CN=bad-server-nonce" --challenge "$CHALLENGE" --poll-interval 1 --max-poll-time 10
stop_proxy
check_issued out-nonce.pem dev3.key "$CA/ca.pem" bad-server-nonce
TID=$(head -n 1 saved.pending)
log_has "CertPoll tid=$TID http=200 SUCCESS"
cp "$REC/reply-1.der" certrep-poll.der
cp saved.pending out-nonce.pem.pending
echo "$KNOWN" > out-nonce.pem
start_proxy replay --replay "$WORK/certrep-poll.der"
run_scep 6 "replayed SUCCESS with a stale recipientNonce" enroll -u "$PURL" --ca cadir \
  --key dev3.key --out out-nonce.pem --subject "CN=bad-server-nonce" --challenge "$CHALLENGE" \
  --poll-interval 1 --max-poll-time 10
stop_proxy
served replay
one_error_line "stale recipientNonce" enroll "recipientNonce|nonce"
[ "$(cat out-nonce.pem)" = "$KNOWN" ] || fail "(e') the output file was changed by a replayed CertRep"
cmp -s out-nonce.pem.pending saved.pending \
  || fail "(e') the state file of the open transaction was removed or changed by a bad reply"
ok "(e') a replayed SUCCESS of the same transaction (stale recipientNonce): exit 6, output untouched, state kept"
start_scepd "$CA" --challenge "$CHALLENGE"

# (f) GetCACert with a wrong content type: getca exits 6 and saves nothing, neither into a new
# folder nor over an existing one.
start_proxy cacert-type
run_scep 6 "getca with a wrong content type" getca -u "$PURL" -o cadir-new
one_error_line "getca wrong content type" getca "content type"
if [ -e cadir-new ] && [ -n "$(ls -A cadir-new)" ]; then fail "(f) getca saved $(ls cadir-new)"; fi
mkdir -p cadir-old
echo "$KNOWN" > cadir-old/certs.pem
echo "$KNOWN" > cadir-old/ca.pem
run_scep 6 "getca over an existing folder" getca -u "$PURL" -o cadir-old
stop_proxy
one_error_line "getca over an existing folder" getca "content type"
[ "$(cat cadir-old/certs.pem)" = "$KNOWN" ] && [ "$(cat cadir-old/ca.pem)" = "$KNOWN" ] \
  || fail "(f) getca overwrote the existing certificates"
[ "$(ls cadir-old | tr '\n' ' ')" = "ca.pem certs.pem " ] || fail "(f) getca added files: $(ls cadir-old)"
ok "(f) GetCACert as text/plain: exit 6, one error line, nothing saved or overwritten"

# HTTPS: the client trusts the server only through --cafile, and only for the name in the URL.
tls_cert() { # tls_cert NAME SAN: a server certificate from the test's TLS CA
  openssl req -new -newkey rsa:2048 -nodes -keyout "$1.key" -subj "/CN=$1" -out "$1.csr" 2> /dev/null
  openssl x509 -req -in "$1.csr" -CA tlsca.pem -CAkey tlsca.key -CAcreateserial -days 2 \
    -extfile <(printf 'subjectAltName=%s\nextendedKeyUsage=serverAuth\n' "$2") -out "$1.pem" 2> /dev/null \
    || fail "TLS certificate for $1"
}
openssl req -x509 -newkey rsa:2048 -nodes -keyout tlsca.key -subj "/CN=Test TLS CA" -days 2 \
  -out tlsca.pem 2> /dev/null || fail "TLS CA"
openssl req -x509 -newkey rsa:2048 -nodes -keyout othertls.key -subj "/CN=Other TLS CA" -days 2 \
  -out othertls.pem 2> /dev/null || fail "other TLS CA"
tls_cert right "IP:127.0.0.1"
tls_cert wrongname "DNS:elsewhere.example"
start_proxy pass --tls right.pem right.key
HURL="https://127.0.0.1:$(cat "$WORK/proxy.port")/scep"
run_scep 0 "https getca" getca -u "$HURL" -o cadir-tls --cafile tlsca.pem --fingerprint "$FP"
run_scep 0 "https enroll" enroll -u "$HURL" --ca cadir-tls --key tls-dev.key --out tls-dev.pem \
  --subject "CN=over-tls" --challenge "$CHALLENGE" --cafile tlsca.pem
check_issued tls-dev.pem tls-dev.key "$CA/ca.pem" over-tls
served pass
run_scep 3 "https without --cafile" getca -u "$HURL" -o cadir-untrusted
one_error_line "https without --cafile" getca "certificate problem"
run_scep 3 "https with another CA" getca -u "$HURL" -o cadir-untrusted --cafile othertls.pem
one_error_line "https with another CA" getca "certificate problem"
stop_proxy
start_proxy pass --tls wrongname.pem wrongname.key
HURL="https://127.0.0.1:$(cat "$WORK/proxy.port")/scep"
run_scep 3 "https, certificate for another name" getca -u "$HURL" -o cadir-untrusted --cafile tlsca.pem
one_error_line "https, certificate for another name" getca "host name"
stop_proxy
[ ! -e cadir-untrusted ] || [ -z "$(ls -A cadir-untrusted)" ] || fail "an untrusted server's CA was saved"
ok "https: trusted through --cafile only, for the name in the URL only (exit 3 otherwise)"

# And nobody listening at all: a transport error.
DEAD=$(free_port)
echo "$KNOWN" > out-dead.pem
run_scep 3 "no server" enroll -u "http://127.0.0.1:$DEAD/scep" --ca cadir --key dev.key \
  --out out-dead.pem --subject "CN=bad-server" --challenge "$CHALLENGE"
one_error_line "no server" enroll "connect"
[ "$(cat out-dead.pem)" = "$KNOWN" ] || fail "no server: the output file was changed"
ok "no server listening: exit 3, one error line, output untouched"
echo "# $NAME took ${SECONDS}s"
finish
