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
# The verification can fail: a wrong challenge gives an invalid run.
"$BENCH" -u "$URL" -c wrong -n 8 -C 2 --pool 2 --kv > "$WORK/wrong.txt" 2>&1 && fail "a run of refused requests counted as valid"
ok "a run whose requests are refused is reported invalid"
finish
