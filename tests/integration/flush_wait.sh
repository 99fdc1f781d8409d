#!/usr/bin/env bash
# While an answer waits for the store's flush, its worker thread serves other connections:
# scepd with one HTTP worker thread runs under strace, which makes every fdatasync/fsync return
# 2 s late. During an enrollment, GetCACaps on other connections must keep coming back at once
# (a thread that slept in the flush would hold them for 2 s), the enrollment's own answer must
# leave only after its flush (logged time >= the delay), and SIGTERM while an answer waits must
# still deliver it and stop cleanly.
source "$(dirname "$0")/../interop/lib.sh"
SCEP=${SCEP:-$ROOT/build/scep}
command -v strace > /dev/null || fail "strace is missing (scripts/install-deps)"
DELAY_MS=2000

CA=$WORK/ca
new_ca "$CA"
cd "$WORK"
# LeakSanitizer cannot run under ptrace and would turn a clean exit into 1 (sanitized runs).
ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" start_scepd_strace "$CA" \
  "-f -qq -o /dev/null -e trace=fdatasync,fsync -e inject=fdatasync,fsync:delay_exit=${DELAY_MS}000" \
  --challenge pw --threads 1
"$SCEP" getca -u "$URL" -o cadir > /dev/null || fail "getca"
# The first commit into a fresh SQLite log syncs the log's header (and its directory) in the
# committing thread itself, as SQLite does at each restart of the log: a first enrollment
# gets that out of the way.
"$SCEP" enroll -u "$URL" --ca cadir --key w.key --out w.pem --subject CN=w --challenge pw \
  > w.out 2>&1 || fail "enroll w: $(tail -n 2 w.out)"

# caps_while PID: GetCACaps every 0.1 s on a new connection while PID runs; each must answer
# within 1 s. Prints how many answered.
caps_while() {
  local n=0
  while kill -0 "$1" 2> /dev/null; do
    curl -fs --max-time 1 -o /dev/null "$URL?operation=GetCACaps" \
      || { echo "slow $n"; return 0; }
    n=$((n + 1))
    sleep 0.1
  done
  echo "$n"
}

"$SCEP" enroll -u "$URL" --ca cadir --key a.key --out a.pem --subject CN=a --challenge pw \
  > a.out 2>&1 &
A=$!
answered=$(caps_while $A)
wait $A || fail "enroll a: $(tail -n 2 a.out)"
check_issued a.pem a.key cadir/ca.pem a
case $answered in
  slow*) fail "GetCACaps took over 1 s while an enrollment waited for its flush (after ${answered#slow } fast ones): the only worker thread slept in the flush" ;;
esac
# The enrollment's answer left after its flush: its logged time covers the delay.
ms=$(grep "PKIOperation PKCSReq" scepd.log | tail -n 1 | sed -n 's/.* \([0-9.]*\)ms$/\1/p')
[ -n "$ms" ] || fail "no PKCSReq line with a time in the log"
awk -v ms="$ms" -v d="$DELAY_MS" 'BEGIN { exit !(ms >= d) }' \
  || fail "the CertRep left ${ms} ms after its request, before its ${DELAY_MS} ms flush ended"
ok "the CertRep left after its flush (${ms} ms)"
# The probes run back to back for the whole enrollment, and a blocked worker would hold the one
# in flight when the flush began: the count only shows the loop ran (a slow machine manages
# fewer than a fast one).
[ "$answered" -ge 5 ] || fail "only $answered GetCACaps during the enrollment; expected >= 5"
ok "one worker thread answered $answered GetCACaps, each within 1 s, while an enrollment waited ${DELAY_MS} ms for its flush"

# SIGTERM while an answer waits for its flush: the answer still goes out, the server stops.
wal_state() { stat -c '%s %y' "$CA/scepd.db-wal" 2> /dev/null || echo none; }
before=$(wal_state)
"$SCEP" enroll -u "$URL" --ca cadir --key b.key --out b.pem --subject CN=b --challenge pw \
  > b.out 2>&1 &
B=$!
# Its commit is written (the log file changed) and its flush has begun.
for _ in $(seq 1 600); do
  [ "$(wal_state)" != "$before" ] && break
  sleep 0.05
done
[ "$(wal_state)" != "$before" ] || fail "enroll b wrote nothing to the store within 30 s"
sleep 0.2
kill -TERM "$SCEPD_PID"
wait $B || fail "enroll b, with SIGTERM during its flush: $(tail -n 2 b.out)"
check_issued b.pem b.key cadir/ca.pem b
rc=0
wait "$STRACE_PID" 2> /dev/null || rc=$?
SCEPD_PID=""
[ "$rc" = 0 ] || fail "scepd exited with $rc after SIGTERM during a flush"
grep -q "scepd: stopped" scepd.log || fail "scepd did not log its stop"
ok "SIGTERM during a flush: the waiting answer went out, scepd stopped cleanly"
finish
