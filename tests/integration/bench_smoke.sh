#!/usr/bin/env bash
# The benchmark tool itself works: a short verified run against a fresh scepd (CA and RA mode,
# POST and GET). Not a measurement: docs/performance.md has those, from bench/run-compare.
source "$(dirname "$0")/../interop/lib.sh"
BENCH=${BENCH:-$ROOT/build/bench/scep-bench}
FLOOR=${FLOOR:-$ROOT/build/bench/scep-floor}
[ -x "$BENCH" ] || fail "no load generator at $BENCH (make bench)"
[ -x "$FLOOR" ] || fail "no scep-floor at $FLOOR (make bench)"
for mode in ca ra; do
  CA=$WORK/$mode
  if [ $mode = ra ]; then new_ca "$CA" --ra; else new_ca "$CA"; fi
  start_scepd "$CA" --challenge s3cret
  for method in post get; do
    "$BENCH" -u "$URL" -c s3cret -n 40 -C 4 -m $method --pool 4 -p "$SCEPD_PID" --kv \
      > "$WORK/$mode-$method.txt" 2>&1 || fail "$mode $method: $(tail -n 3 "$WORK/$mode-$method.txt")"
    grep -q "valid=1" "$WORK/$mode-$method.txt" || fail "$mode $method: $(cat "$WORK/$mode-$method.txt")"
  done
  [ "$("$SCEPD" certs --dir "$CA" | grep -c valid)" -ge 80 ] || fail "$mode: the store does not hold the 80 certificates"
  ok "scep-bench: 80 verified enrollments in $mode mode by POST and GET"
  "$FLOOR" --dir "$CA" -n 20 -r 1 -t 2 > "$WORK/$mode-floor.txt" 2>&1 ||
    fail "scep-floor $mode: $(tail -n 3 "$WORK/$mode-floor.txt")"
  grep -q "verified 20/20, 0 repeated serials" "$WORK/$mode-floor.txt" ||
    fail "scep-floor $mode: $(cat "$WORK/$mode-floor.txt")"
  ok "scep-floor: scepd's path alone, 20 verified CertReps in $mode mode on two threads"
done
rc=0
"$FLOOR" --dir "$WORK/none" -n 2 > "$WORK/floor-none.txt" 2>&1 || rc=$?
[ $rc = 2 ] || fail "scep-floor without a CA directory exited $rc, not 2"
ok "scep-floor without a CA directory is a setup error"
# The verification can fail: a wrong challenge gives an invalid run, and --retry does not
# resend a refusal.
mkdir "$WORK/wrong"
"$BENCH" -u "$URL" -c wrong -n 8 -C 2 --pool 2 --retry 3 --save "$WORK/wrong" --kv > "$WORK/wrong.txt" 2>&1 && fail "a run of refused requests counted as valid"
[ "$(awk '$2 == "failed" && $4 == 1 && $5 == "not-success" && $6 == "not-success"' "$WORK/wrong/results" | wc -l)" = 8 ] \
  || fail "refused requests were resent or recorded wrongly: $(head -n 3 "$WORK/wrong/results")"
ok "a run whose requests are refused is reported invalid, and they are not resent"
# --retry: the server is away when the run fires (--start-at), and back 1.5 s later; what got
# no answer is sent again and verified. The run fetches the CA first: the server stops once it
# has (not after a fixed sleep, which raced with the run's start on a slow machine), well before
# the run fires.
mkdir "$WORK/retry"
CACERTS=$(log_count "GET GetCACert")
START_AT=$(($(date +%s%3N) + 5000))
"$BENCH" -u "$URL" -c s3cret -n 20 -C 2 --pool 2 --retry 10 --retry-wait 500 \
  --start-at "$START_AT" --save "$WORK/retry" --kv > "$WORK/retry.txt" 2>&1 &
BENCH_PID=$!
wait_for "scep-bench --retry did not fetch the CA" more_lines "GET GetCACert" "$CACERTS"
stop_scepd
[ "$(date +%s%3N)" -lt "$START_AT" ] || fail "the server stopped only after the run fired"
while [ "$(date +%s%3N)" -lt $((START_AT + 1500)) ]; do sleep 0.1; done
"$SCEPD" serve --dir "$CA" --listen "127.0.0.1:$PORT" --challenge s3cret "${SERVE_ROOT[@]}" >> "$WORK/scepd.log" 2>&1 &
SCEPD_PID=$!
wait "$BENCH_PID" || fail "the resent run is not valid: $(cat "$WORK/retry.txt")"
[ "$(awk '$2 == "ok" && $4 > 1 && $5 == "transport" && $6 == "ok"' "$WORK/retry/results" | wc -l)" = 20 ] \
  || fail "not every request was resent after a transport error: $(head -n 3 "$WORK/retry/results")"
[ "$(sed -n 's/.* resent=\([0-9]*\).*/\1/p' "$WORK/retry.txt")" -ge 20 ] || fail "resent count: $(cat "$WORK/retry.txt")"
ok "scep-bench --retry resends what got no answer once the server is back, and verifies it"
finish
