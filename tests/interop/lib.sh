# Shared by the interop tests: start a fresh scepd, check what peers got, report.
# Source it; it sets: SCEPD (binary), WORK (a temp dir removed at exit), and defines helpers.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
SCEPD=${SCEPD:-$ROOT/build/scepd}
WORK=$(mktemp -d /tmp/scep-interop.XXXXXX)
SCEPD_PID=""
PASSED=0
# scepd serve refuses root unless told to give it up (user = NAME) or to keep it: the suites
# run as root in CI, so they pass SERVE_ROOT to every `scepd serve`.
SERVE_ROOT=()
[ "$(id -u)" != 0 ] || SERVE_ROOT=(--allow-root)
NAME=$(basename "$0" .sh)

cleanup() {
  [ -n "$SCEPD_PID" ] && kill "$SCEPD_PID" 2>/dev/null && wait "$SCEPD_PID" 2>/dev/null || true
  if [ "${KEEP_WORK:-0}" = 1 ]; then echo "$NAME: work kept in $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

fail() {
  echo "FAIL $NAME: $*" >&2
  if [ -f "$WORK/scepd.log" ]; then echo "--- scepd log:" >&2; tail -n 20 "$WORK/scepd.log" >&2; fi
  exit 1
}

ok() {
  PASSED=$((PASSED + 1))
  echo "ok   $NAME: $*"
}

# A free TCP port on loopback, never the same twice in one test. Picked below the kernel's
# ephemeral range (ip_local_port_range), so that no client connection of the test (a load of a
# thousand connections, say) can take it as its local port between the pick and the bind.
free_port() {
  python3 "$ROOT/tests/interop/free_port.py" "$WORK/ports.used"
}

# wait_until CMD...: runs CMD every 0.1 s until it succeeds (0), or TEST_WAIT seconds (30 by
# default) have passed (1). The deadline is generous because a loaded, single-core or sanitized
# run is slow; a run that passes waits only as long as it must.
TEST_WAIT=${TEST_WAIT:-30}
wait_until() {
  local deadline=$((SECONDS + TEST_WAIT))
  until "$@"; do
    [ "$SECONDS" -lt "$deadline" ] || return 1
    sleep 0.1
  done
}

# wait_for WHAT CMD...: wait_until CMD, or fail with "WHAT".
wait_for() {
  local what=$1
  shift
  wait_until "$@" || fail "$what (waited $TEST_WAIT s)"
}

# answers URL: a 2xx from URL (curl, bounded).
answers() { curl -fs -m 5 -o /dev/null "$1" 2> /dev/null; }

# log_grep PATTERN [FILE]: FILE ($WORK/scepd.log by default) has a line matching PATTERN.
log_grep() { grep -q -- "$1" "${2:-$WORK/scepd.log}" 2> /dev/null; }

# log_count PATTERN [FILE]: how many lines of FILE ($WORK/scepd.log) match PATTERN.
log_count() { grep -c -- "$1" "${2:-$WORK/scepd.log}" 2> /dev/null || true; }

# more_lines PATTERN COUNT [FILE]: FILE has more than COUNT lines matching PATTERN.
more_lines() { [ "$(log_count "$1" "${3:-}")" -gt "$2" ]; }

# The end of a reload in the log: the new server announced itself (it has taken over the
# listening socket, so every request from now on sees the new configuration), or a refusal.
# "reload: configuration read" comes before the takeover and is not the end.
RELOAD_DONE='serving an\? \(RA-mode \)\?CA "\|reload refused'

# reload_scepd [PID [LOG]]: SIGHUP to PID ($SCEPD_PID), then waits for the end of that reload in
# LOG ($WORK/scepd.log).
reload_scepd() {
  local pid=${1:-$SCEPD_PID} log=${2:-$WORK/scepd.log} before
  before=$(log_count "$RELOAD_DONE" "$log")
  kill -HUP "$pid"
  wait_for "no end of the reload in $log after SIGHUP" more_lines "$RELOAD_DONE" "$before" "$log"
}

# new_ca DIR [init flags...]: a fresh CA directory. With SCEP_TEST_TOKEN_URI set (tests/hsm/run-all
# does that), its keys are made in that PKCS#11 token instead of files. INTEROP_CA_KEY (a --key
# SPEC, e.g. ec:P-256) sets the CA key of every suite (ec_ca.sh runs RA-mode suites with it);
# INTEROP_RA_SIGN (a SPEC) adds an RA signing certificate to every RA-mode CA, answering with
# reply_signer = INTEROP_REPLY_SIGNER (default by-request, what init writes).
new_ca() {
  local dir=$1; shift
  local token=() sign=()
  if [ -n "${INTEROP_RA_SIGN:-}" ] && [[ " $* " == *" --ra "* ]]; then
    sign=(--ra-sign "$INTEROP_RA_SIGN")
  fi
  if [ -n "${SCEP_TEST_TOKEN_URI:-}" ]; then
    token=(--key-uri "$SCEP_TEST_TOKEN_URI;object=$NAME-$(basename "$dir")-$$-$RANDOM"
      --pkcs11-module "$SCEP_TEST_PKCS11_MODULE" --pkcs11-pin-file "$SCEP_TEST_PIN_FILE")
  fi
  "$SCEPD" init --dir "$dir" --subject "CN=Interop CA,O=scep tests" "${token[@]}" \
    ${INTEROP_CA_KEY:+--key "$INTEROP_CA_KEY"} "${sign[@]}" "$@" \
    > "$dir.init.txt" || fail "scepd init $*"
  if [ ${#sign[@]} -gt 0 ] && [ -n "${INTEROP_REPLY_SIGNER:-}" ]; then
    sed -i "s/^reply_signer = .*/reply_signer = $INTEROP_REPLY_SIGNER/" "$dir/scepd.conf"
  fi
}

# start_scepd DIR [serve flags...]: serves DIR on a free loopback port; sets PORT and URL.
start_scepd() {
  local dir=$1; shift
  [ -n "$SCEPD_PID" ] && stop_scepd
  PORT=$(free_port)
  URL="http://127.0.0.1:$PORT/scep"
  "$SCEPD" serve --dir "$dir" --listen "127.0.0.1:$PORT" "${SERVE_ROOT[@]}" "$@" >> "$WORK/scepd.log" 2>&1 &
  SCEPD_PID=$!
  wait_for "scepd did not start" answers "$URL?operation=GetCACaps"
}

# start_scepd_strace DIR "STRACE OPTIONS" [serve flags...]: start_scepd under strace (its options
# split at spaces); sets PORT, URL, STRACE_PID and SCEPD_PID (stop with kill SCEPD_PID, then
# wait STRACE_PID).
start_scepd_strace() {
  local dir=$1 opts=$2; shift 2
  PORT=$(free_port)
  URL="http://127.0.0.1:$PORT/scep"
  # shellcheck disable=SC2086
  strace $opts "$SCEPD" serve --dir "$dir" --listen "127.0.0.1:$PORT" "${SERVE_ROOT[@]}" "$@" \
    >> "$WORK/scepd.log" 2>&1 &
  STRACE_PID=$!
  wait_for "scepd did not start under strace" answers "$URL?operation=GetCACaps"
  SCEPD_PID=$(pgrep -P "$STRACE_PID" scepd || true)
  [ -n "$SCEPD_PID" ] || fail "scepd did not start under strace"
}

stop_scepd() {
  kill "$SCEPD_PID" 2>/dev/null || true
  wait "$SCEPD_PID" 2>/dev/null || true
  SCEPD_PID=""
}

# check_issued CERT KEY CA_PEM SUBJECT_CN: what a CA must have issued, checked with openssl.
check_issued() {
  local cert=$1 key=$2 ca=$3 cn=$4
  [ -s "$cert" ] || fail "no certificate in $cert"
  openssl verify -CAfile "$ca" "$cert" > /dev/null 2>&1 || fail "$cert does not verify against $ca"
  openssl x509 -in "$cert" -noout -subject -nameopt RFC2253 | grep -q "CN=$cn" \
    || fail "$cert subject is not CN=$cn: $(openssl x509 -in "$cert" -noout -subject)"
  local want have
  want=$(openssl pkey -in "$key" -pubout 2>/dev/null | openssl sha256)
  have=$(openssl x509 -in "$cert" -noout -pubkey | openssl sha256)
  [ "$want" = "$have" ] || fail "$cert does not hold the client's public key"
  openssl x509 -in "$cert" -noout -checkend 0 > /dev/null || fail "$cert is not valid now"
  [ "$(openssl x509 -in "$cert" -noout -issuer -nameopt RFC2253)" = \
    "$(openssl x509 -in "$ca" -noout -subject -nameopt RFC2253 | sed 's/^subject/issuer/')" ] \
    || fail "$cert issuer is not the CA"
}

# run_scep WANT_RC LABEL ARGS...: runs the client $SCEP (bounded), output in $OUT/$ERR; checks
# the exit code.
OUT=$WORK/scep.out
ERR=$WORK/scep.err
run_scep() {
  local want=$1 label=$2; shift 2
  local rc=0
  timeout 60 "$SCEP" "$@" > "$OUT" 2> "$ERR" || rc=$?
  [ "$rc" = "$want" ] || fail "$label: exit code $rc, expected $want: $(tail -n 3 "$ERR")"
}

stop_pid() { [ -n "$1" ] && kill "$1" 2>/dev/null && wait "$1" 2>/dev/null || true; }

# recording_proxy URL: a pass-through proxy to URL that saves each PKIOperation reply in
# $WORK/rec (tests/integration/fake_scep_server.py); sets PROXY_PID and PURL (URL's path).
recording_proxy() {
  mkdir -p "$WORK/rec"
  rm -f "$WORK/proxy.port"
  python3 "$ROOT/tests/integration/fake_scep_server.py" --upstream "$1" --mode pass \
    --port-file "$WORK/proxy.port" --record "$WORK/rec" > "$WORK/proxy.log" 2>&1 &
  PROXY_PID=$!
  wait_until test -s "$WORK/proxy.port" || fail "the python proxy did not start: $(tail -n 3 "$WORK/proxy.log")"
  PURL="http://127.0.0.1:$(cat "$WORK/proxy.port")/${1#http://*/}"
}

# dated_cert OUT SUBJECT START END ca|ra [ISSUER]: OUT.pem and OUT.key valid from START to END,
# self-signed or signed by ISSUER.pem/ISSUER.key; a CA certificate or an RA certificate.
dated_cert() {
  local out=$1 subj=$2 start=$3 end=$4 kind=$5 issuer=${6:-} d
  d=$(mktemp -d "$WORK/openssl-ca.XXXXXX")
  : > "$d/index.txt"
  echo 01 > "$d/serial"
  cat > "$d/ca.cnf" << CNF
[ca]
default_ca = dated
[dated]
database = $d/index.txt
new_certs_dir = $d
serial = $d/serial
default_md = sha256
policy = any
unique_subject = no
[any]
commonName = supplied
[ca_ext]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign,digitalSignature
subjectKeyIdentifier = hash
[ra_ext]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
subjectKeyIdentifier = hash
CNF
  openssl req -new -newkey rsa:2048 -nodes -keyout "$out.key" -subj "$subj" -out "$d/req.pem" 2> /dev/null
  local signer=(-selfsign -keyfile "$out.key")
  [ -n "$issuer" ] && signer=(-cert "$issuer.pem" -keyfile "$issuer.key")
  openssl ca -batch -config "$d/ca.cnf" "${signer[@]}" -in "$d/req.pem" -out "$out.pem" \
    -startdate "$start" -enddate "$end" -extensions "${kind}_ext" -notext > "$d/log" 2>&1 \
    || fail "openssl ca for $subj: $(cat "$d/log")"
  rm -rf "$d"
}

# The last log line of scepd that matches a pattern.
log_has() {
  grep -q -- "$1" "$WORK/scepd.log" || fail "scepd log has no line matching '$1'"
}

finish() {
  echo "PASS $NAME: $PASSED checks"
}
