#!/usr/bin/env bash
# scepd under ThreadSanitizer: concurrent enrollments in CA and RA mode, by POST and GET, with
# malformed requests and GetCACert in between and a reload (SIGHUP) under load, with key files
# and then with the keys in a fresh SoftHSM2 token (token-ca, token-ra: libp11's session shared
# by the workers). Any data race or lock-order report fails the test. Run by `make threads`, which builds the TSan binary;
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

no_reports() { # LABEL: fails when ThreadSanitizer wrote a report
  if ls "$WORK"/tsan.* > /dev/null 2>&1; then
    grep -h -A 12 "^WARNING" "$WORK"/tsan.* | head -n 60 >&2
    fail "$1: ThreadSanitizer reported $(cat "$WORK"/tsan.* | grep -c '^WARNING') problems"
  fi
}

# /readyz on the admin listener asks every token (scepd's own session) while workers sign.
(umask 077 && openssl rand -hex 24 > "$WORK/admin.token")
for mode in ca ra token-ca token-ra; do
  CA=$WORK/$mode
  if [ $mode = token-ca ]; then
    HSM_WORK=$WORK/hsm
    # shellcheck source=../hsm/token_env.sh
    source "$ROOT/tests/hsm/token_env.sh" # from now on new_ca makes the keys in the token
  fi
  if [[ $mode = *ra ]]; then new_ca "$CA" --ra; else new_ca "$CA"; fi
  if [[ $mode = token-* ]]; then
    grep -q "^pkcs11:token=" "$CA/ca.key" || fail "$mode: the CA key is not in the token"
  fi
  APORT=$(free_port)
  start_scepd "$CA" --challenge s3cret --set "admin_listen=127.0.0.1:$APORT" \
    --set "admin_token_file=$WORK/admin.token"
  bench "$mode-post" -n 120 -C 16
  bench "$mode-get" -n 60 -C 8 -m get &
  bench_pid=$!
  others=()
  for i in $(seq 1 10); do
    curl -s -o /dev/null "$URL?operation=GetCACert" & others+=($!)
    curl -s -o /dev/null -X POST --data-binary "not a pkiMessage $i" \
      "$URL?operation=PKIOperation" & others+=($!)
    curl -s -o /dev/null -w '%{http_code}\n' "http://127.0.0.1:$APORT/readyz" >> "$WORK/readyz.$mode" &
    others+=($!)
  done
  wait "${others[@]}"
  [ "$(grep -cx 200 "$WORK/readyz.$mode")" = 10 ] || fail "$mode: /readyz under load: $(sort "$WORK/readyz.$mode" | uniq -c)"
  wait $bench_pid || fail "$mode: the GET run beside malformed requests failed"
  # A reload while enrollments are in flight: the new configuration takes the listening socket.
  # The SIGHUP once the run's enrollments are arriving (not after a fixed sleep: a fast machine
  # finishes the run first, a slow one has not begun), with most of them still to come.
  sent=$(log_count "PKIOperation PKCSReq")
  bench "$mode-reload" -n 120 -C 8 &
  bench_pid=$!
  wait_for "$mode: the load before the reload did not start" more_lines "PKIOperation PKCSReq" $((sent + 8))
  kill -0 $bench_pid 2> /dev/null || fail "$mode: the run ended before the reload (not across it)"
  kill -HUP "$SCEPD_PID"
  wait $bench_pid || fail "$mode: enrollments across a reload failed"
  stop_scepd
  no_reports "$mode"
  ok "$mode mode: 300 concurrent enrollments (POST, GET, 120 across a reload), malformed requests and /readyz, no race reported"
done

# The token goes away under load and comes back (tests/hsm/faulty_pkcs11.c over SoftHSM): the
# workers whose key operation failed ask the token at once, and the reload that follows opens
# the keys afresh while other workers still hold the old ones.
cc -shared -fPIC -O1 $(pkg-config --cflags p11-kit-1) "$ROOT/tests/hsm/faulty_pkcs11.c" \
  -o "$WORK/faulty.so" -ldl || fail "cannot build the test module"
export FAULTY_PKCS11_REAL=$SCEP_TEST_PKCS11_MODULE FAULTY_PKCS11_DOWN=$WORK/token-gone
CA=$WORK/token-gone-ca
"$SCEPD" init --dir "$CA" --subject "CN=Faulty Token CA" --key-uri "$SCEP_TEST_TOKEN_URI;object=gone-$$" \
  --pkcs11-module "$WORK/faulty.so" --pkcs11-pin-file "$SCEP_TEST_PIN_FILE" > /dev/null ||
  fail "init on the test module"
start_scepd "$CA" --challenge s3cret
bench token-before -n 40 -C 8
touch "$WORK/token-gone"
"$BENCH" -u "$URL" -c s3cret --pool 4 --kv -n 40 -C 8 > "$WORK/token-gone.txt" 2>&1 &&
  fail "enrollments succeeded while the token was gone"
log_has "http=503 .*token '.*' is not available: CKR_DEVICE_REMOVED"
rm "$WORK/token-gone"
for _ in $(seq 1 30); do
  "$BENCH" -u "$URL" -c s3cret --pool 4 --kv -n 8 -C 8 > "$WORK/token-back.txt" 2>&1 && break
  sleep 0.3
done
log_has "was gone and is back (logged in again)"
bench token-after -n 60 -C 16
stop_scepd
no_reports token-gone
ok "token gone under 8 concurrent enrollments (503s), back (logged in again, keys reopened), 60 more: no race reported"
finish
