# Shared by the interop tests: start a fresh scepd, check what peers got, report.
# Source it; it sets: SCEPD (binary), WORK (a temp dir removed at exit), and defines helpers.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
SCEPD=${SCEPD:-$ROOT/build/scepd}
WORK=$(mktemp -d /tmp/scep-interop.XXXXXX)
SCEPD_PID=""
PASSED=0
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

# A free TCP port on loopback.
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# new_ca DIR [init flags...]: a fresh CA directory.
new_ca() {
  local dir=$1; shift
  "$SCEPD" init --dir "$dir" --subject "CN=Interop CA,O=scep tests" "$@" > "$dir.init.txt" \
    || fail "scepd init $*"
}

# start_scepd DIR [serve flags...]: serves DIR on a free loopback port; sets PORT and URL.
start_scepd() {
  local dir=$1; shift
  [ -n "$SCEPD_PID" ] && stop_scepd
  PORT=$(free_port)
  URL="http://127.0.0.1:$PORT/scep"
  "$SCEPD" serve --dir "$dir" --listen "127.0.0.1:$PORT" "$@" >> "$WORK/scepd.log" 2>&1 &
  SCEPD_PID=$!
  for _ in $(seq 1 50); do
    curl -fs "$URL?operation=GetCACaps" > /dev/null 2>&1 && return 0
    sleep 0.1
  done
  fail "scepd did not start"
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

# The last log line of scepd that matches a pattern.
log_has() {
  grep -q -- "$1" "$WORK/scepd.log" || fail "scepd log has no line matching '$1'"
}

finish() {
  echo "PASS $NAME: $PASSED checks"
}
