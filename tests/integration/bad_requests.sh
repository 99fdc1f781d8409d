#!/usr/bin/env bash
# Runs bad_requests against fresh scepd servers over loopback: one CA-mode server and one
# RA-mode server, each in a new CA directory, on a port the kernel picks.
#
#   SCEPD         the scepd binary          (default: build/scepd)
#   BAD_REQUESTS  the test program          (default: build/tests/integration/bad_requests)
#   VERBOSE=1     print what each answer was
#   KEEP_WORK=1   keep the CA directories and server logs
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
SCEPD=${SCEPD:-$ROOT/build/scepd}
BAD_REQUESTS=${BAD_REQUESTS:-$ROOT/build/tests/integration/bad_requests}
CHALLENGE=bad-requests-secret
WORK=$(mktemp -d /tmp/scep-bad-requests.XXXXXX)
SERVER_PID=""
STATUS=0
SERVE_ROOT=() # scepd serve refuses root unless told to keep it
[ "$(id -u)" != 0 ] || SERVE_ROOT=(--allow-root)

stop_server() {
  [ -n "$SERVER_PID" ] || return 0
  kill -TERM "$SERVER_PID" 2>/dev/null || true
  local rc=0
  wait "$SERVER_PID" 2>/dev/null || rc=$?
  SERVER_PID=""
  return "$rc"
}

cleanup() {
  stop_server || true
  if [ "${KEEP_WORK:-0}" = 1 ]; then echo "bad_requests: work kept in $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

# start_server DIR LOG: serves DIR on a free loopback port (port 0; the log names the port).
# max_clock_skew for the badTime case; a short request_timeout bounds how long a connection
# the server holds can delay its shutdown.
start_server() {
  local dir=$1 log=$2
  "$SCEPD" serve --dir "$dir" --listen 127.0.0.1:0 --challenge "$CHALLENGE" "${SERVE_ROOT[@]}" \
    --set max_clock_skew=3600 --set request_timeout=10 > "$log" 2>&1 &
  SERVER_PID=$!
  for _ in $(seq 1 600); do
    PORT=$(sed -n 's/.* on port \([0-9][0-9]*\) .*/\1/p' "$log" | head -n 1)
    [ -n "$PORT" ] && return 0
    kill -0 "$SERVER_PID" 2>/dev/null || break
    sleep 0.05
  done
  echo "FAIL bad_requests: scepd did not start" >&2
  cat "$log" >&2
  return 1
}

# run_mode NAME [init flags...]
run_mode() {
  local name=$1; shift
  local dir=$WORK/$name log=$WORK/$name.log
  echo "# $name mode"
  "$SCEPD" init --dir "$dir" --subject "CN=Bad Requests $name CA,O=scep tests" "$@" \
    > "$WORK/$name.init.txt" 2>&1 || { cat "$WORK/$name.init.txt" >&2; return 1; }
  start_server "$dir" "$log" || return 1
  local rc=0
  timeout 100 "$BAD_REQUESTS" ${VERBOSE:+-v} "http://127.0.0.1:$PORT/scep" "$dir" "$CHALLENGE" \
    || rc=$?
  if ! kill -0 "$SERVER_PID" 2>/dev/null; then
    echo "FAIL $name: scepd is no longer running" >&2
    rc=1
  fi
  if grep -q ' http=5' "$log"; then
    echo "FAIL $name: scepd answered 5xx:" >&2
    grep ' http=5' "$log" >&2
    rc=1
  fi
  if ! stop_server; then
    echo "FAIL $name: scepd did not stop cleanly" >&2
    rc=1
  fi
  if [ "$rc" != 0 ]; then
    echo "--- scepd log ($name), last lines:" >&2
    tail -n 30 "$log" >&2
  fi
  return "$rc"
}

run_mode ca || STATUS=1
run_mode ra --ra || STATUS=1
exit "$STATUS"
