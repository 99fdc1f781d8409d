#!/usr/bin/env bash
# Overload: 1,100 clients at once against max_connections = 512, each on its own keep-alive
# connection, each enrolling (scep-bench, every answer verified). Every connection gets an
# answer: a certificate, or at once a 503 with Retry-After, after which the client sends the
# same request again 200 ms later until it is served. Nothing hangs (no exchange without an
# answer), the server stays up, the 503s come quickly, and its peak memory stays under 64 MiB.
# The same over a server that must also answer the HTTPS refusals is in tests/integration/tls.sh.
source "$(dirname "$0")/../interop/lib.sh"
BENCH=${BENCH:-$ROOT/build/bench/scep-bench}
[ -x "$BENCH" ] || fail "no load generator at $BENCH (make bench)"
CLIENTS=1100
REQUESTS=2200
HWM_LIMIT_KIB=$((64 * 1024))
REFUSED_P99_LIMIT_MS=1000
# 1,100 sockets here and as many in scepd (which inherits the limit).
ulimit -n 4096 2> /dev/null || ulimit -n "$(ulimit -Hn)"
[ "$(ulimit -n)" -ge $((CLIENTS + 200)) ] || fail "need $((CLIENTS + 200)) descriptors, have $(ulimit -n)"
cd "$WORK"
CA=$WORK/ca
new_ca "$CA"
start_scepd "$CA" --challenge s3cret --set max_connections=512 --set max_connections_per_address=0
"$BENCH" -u "$URL" -c s3cret -n $REQUESTS -C $CLIENTS --pool 8 --refused-wait 200 --timeout 30 \
  -p "$SCEPD_PID" --kv > bench.txt 2> bench.err || true
[ -s bench.txt ] || fail "scep-bench: $(cat bench.err)"
kv() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" bench.txt; }
kill -0 "$SCEPD_PID" 2> /dev/null || fail "scepd died under the load: $(cat bench.txt)"
[ "$(kv transport_errs)" = 0 ] || fail "$(kv transport_errs) exchanges got no answer: $(cat bench.txt)"
[ "$(kv ok)" = $REQUESTS ] || fail "$(kv ok) of $REQUESTS enrollments verified: $(cat bench.txt)"
[ "$(kv refused_no_retry_after)" = 0 ] || fail "503s without Retry-After: $(cat bench.txt)"
# At least every client past the limit was refused once, the first time it sent.
[ "$(kv refused)" -ge $((CLIENTS - 512)) ] || fail "only $(kv refused) refusals: $(cat bench.txt)"
awk -v p="$(kv refused_p99_ms)" -v l=$REFUSED_P99_LIMIT_MS 'BEGIN { exit !(p < l) }' ||
  fail "the 503s took up to $(kv refused_p99_ms) ms (p99), over $REFUSED_P99_LIMIT_MS ms: $(cat bench.txt)"
[ "$(kv server_hwm_kib)" -lt $HWM_LIMIT_KIB ] ||
  fail "scepd's peak memory (VmHWM) is $(kv server_hwm_kib) KiB, over $HWM_LIMIT_KIB KiB"
[ "$(kv valid)" = 1 ] || fail "the run is not valid: $(cat bench.txt)"
log_has "refused a connection with 503: max_connections (512)"
ok "$CLIENTS clients, $REQUESTS enrollments, max_connections 512: all verified, $(kv refused) answers 503 with Retry-After (p99 $(kv refused_p99_ms) ms), none unanswered; accepted p99 $(kv p99_ms) ms; VmHWM $(($(kv server_hwm_kib) / 1024)) MiB"
curl -fs "$URL?operation=GetCACaps" > /dev/null || fail "GetCACaps after the load"
ok "the server serves on after the load"
finish
