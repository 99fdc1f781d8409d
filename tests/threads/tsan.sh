#!/usr/bin/env bash
# scepd under ThreadSanitizer: concurrent enrollments in CA and RA mode, by POST and GET, with
# malformed requests and GetCACert in between and a reload (SIGHUP) under load. Any data race
# or lock-order report fails the test. Run by `make threads`, which builds the TSan binary;
# SCEPD must point at it.
source "$(dirname "$0")/../interop/lib.sh"
BENCH=${BENCH:-$ROOT/build/bench/scep-bench}
[ -x "$BENCH" ] || fail "no load generator at $BENCH (make bench)"
# Not vacuous: the server under test must carry the TSan runtime.
grep -q __tsan_init <(nm "$SCEPD" 2> /dev/null) || fail "$SCEPD is not built with -fsanitize=thread"
export TSAN_OPTIONS="halt_on_error=0 second_deadlock_stack=1 log_path=$WORK/tsan"

bench() { # bench MODE-LABEL ARGS...: one verified run
  local label=$1; shift
  "$BENCH" -u "$URL" -c s3cret --pool 4 --kv "$@" > "$WORK/$label.txt" 2>&1 ||
    fail "$label: $(tail -n 3 "$WORK/$label.txt")"
  grep -q "valid=1" "$WORK/$label.txt" || fail "$label: $(cat "$WORK/$label.txt")"
}

for mode in ca ra; do
  CA=$WORK/$mode
  if [ $mode = ra ]; then new_ca "$CA" --ra; else new_ca "$CA"; fi
  start_scepd "$CA" --challenge s3cret
  bench "$mode-post" -n 120 -C 16
  bench "$mode-get" -n 60 -C 8 -m get &
  bench_pid=$!
  others=()
  for i in $(seq 1 10); do
    curl -s -o /dev/null "$URL?operation=GetCACert" & others+=($!)
    curl -s -o /dev/null -X POST --data-binary "not a pkiMessage $i" \
      "$URL?operation=PKIOperation" & others+=($!)
  done
  wait "${others[@]}"
  wait $bench_pid || fail "$mode: the GET run beside malformed requests failed"
  # A reload while enrollments are in flight: the new configuration takes the listening socket.
  bench "$mode-reload" -n 60 -C 8 &
  bench_pid=$!
  sleep 0.5
  kill -HUP "$SCEPD_PID"
  wait $bench_pid || fail "$mode: enrollments across a reload failed"
  stop_scepd
  if ls "$WORK"/tsan.* > /dev/null 2>&1; then
    grep -h -A 12 "^WARNING" "$WORK"/tsan.* | head -n 60 >&2
    fail "$mode: ThreadSanitizer reported $(cat "$WORK"/tsan.* | grep -c '^WARNING') problems"
  fi
  ok "$mode mode: 240 concurrent enrollments (POST, GET, across a reload) and malformed requests, no race reported"
done
finish
