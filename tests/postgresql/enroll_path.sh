#!/usr/bin/env bash
# An automatic enrollment on PostgreSQL, as the database sees it: how many statements (round
# trips) it costs, and what a client gets when the database is away.
# - At most 3 statements per enrollment: the lockout read (address and subject in one), the
#   transactionID lookup, and the certificate with its request in one statement that commits on
#   its own (it was BEGIN, two INSERTs and COMMIT, and a read per lockout scope: 7 in all).
# - When the store cannot answer the lockout read (its table locked past lock_timeout, as a
#   primary going down between two statements), a request with the right challenge gets HTTP
#   503, never a SCEP FAILURE ("the challenge could not be checked" was one): the client
#   retries, and succeeds. The same with the database stopped.
source "$(dirname "$0")/../interop/lib.sh"
source "$(dirname "$0")/lib.sh"
BENCH=${SCEP_BENCH:-$ROOT/build/bench/scep-bench}
[ -x "$BENCH" ] || fail "no load generator at $BENCH (make bench)"
pg_start
pg_node_store
CA=$WORK/ca
new_ca "$CA" --store "$STORE"
start_scepd "$CA" --challenge s3cret

# Every statement of the node's sessions from now on, one log line each, by application name.
pg_sql "ALTER SYSTEM SET log_line_prefix = '[%a] '"
pg_sql "ALTER SYSTEM SET log_statement = 'all'"
pg_sql "SELECT pg_reload_conf()" > /dev/null
"$BENCH" -u "$URL" -c s3cret -n 2 -C 1 --pool 1 --kv > "$WORK/warm.txt" 2>&1 || fail "enrollment: $(cat "$WORK/warm.txt")"
# Every operation runs a prepared statement; a new connection's settings (a worker's first
# use) and the CA generations poll (every 5 s, its own connection) are not the enrollment's.
statements() {
  grep '^\[scepd\] LOG:  execute' "$WORK/pg/server.log" | grep -vc ca_generation_counter || true
}
BEFORE=$(statements)
N=10
"$BENCH" -u "$URL" -c s3cret -n "$N" -C 1 --pool 1 --kv > "$WORK/bench.txt" 2>&1 || fail "enrollments: $(cat "$WORK/bench.txt")"
sleep 0.5
COUNT=$(($(statements) - BEFORE))
[ "$COUNT" -gt 0 ] || fail "no statement of the node was logged: $(tail -n 3 "$WORK/pg/server.log")"
[ "$COUNT" -le $((3 * N)) ] || fail "$N enrollments took $COUNT statements (more than 3 each): $(grep '^\[scepd\] LOG' "$WORK/pg/server.log" | tail -n 8 | cut -c1-100)"
ok "$N enrollments took $COUNT statements ($((COUNT / N)) each, the certificate and its request in one)"
pg_sql "ALTER SYSTEM RESET log_statement"
pg_sql "SELECT pg_reload_conf()" > /dev/null

# first_503 WHAT: the enrollment saved in WORK/saved got a 503 first, then succeeded.
first_503() {
  read -r _ STATUS _ ATTEMPTS FIRST LAST _ < "$WORK/saved/results"
  [ "$STATUS $FIRST $LAST" = "ok http-503 ok" ] && [ "$ATTEMPTS" -ge 2 ] \
    || fail "$1: the first answer was not a 503: $(cat "$WORK/saved/results"; grep PKCSReq "$WORK/scepd.log" | tail -n 3)"
}

# The lockout table held by another session past the node's lock_timeout (5 s).
PG_DB=scepd pg_sql "BEGIN; LOCK TABLE failures IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(8); COMMIT" > /dev/null &
LOCK_PID=$!
for _ in $(seq 1 300); do
  [ "$(PG_DB=scepd pg_sql "SELECT count(*) FROM pg_locks WHERE relation = 'failures'::regclass AND mode = 'AccessExclusiveLock' AND granted")" = 1 ] && break
  sleep 0.1
done
mkdir "$WORK/saved"
"$BENCH" -u "$URL" -c s3cret -n 1 -C 1 --pool 1 --retry 10 --retry-wait 1000 --timeout 30 \
  --save "$WORK/saved" --kv > "$WORK/busy.txt" 2>&1 || fail "the resend failed: $(cat "$WORK/busy.txt" "$WORK/saved/results")"
wait "$LOCK_PID" || fail "the locking session failed"
first_503 "lockout table locked"
ok "a lockout read that waits past lock_timeout gets 503 (not a FAILURE), and the resend succeeds"

# The database away: 503, then the resend succeeds once it is back.
rm -rf "$WORK/saved"
"${PG_AS[@]}" "$PG_BIN/pg_ctl" -D "$PG_DATA" -m fast -w stop > /dev/null || fail "pg_ctl stop"
mkdir "$WORK/saved"
answered() { grep -c "PKCSReq.*http=" "$WORK/scepd.log" || true; }
ANSWERED=$(answered)
"$BENCH" -u "$URL" -c s3cret -n 1 -C 1 --pool 1 --retry 10 --retry-wait 1000 --timeout 30 \
  --save "$WORK/saved" --kv > "$WORK/away.txt" 2>&1 &
BENCH_PID=$!
wait_until eval '[ "$(answered)" -gt "$ANSWERED" ]' || true
"${PG_AS[@]}" "$PG_BIN/pg_ctl" -D "$PG_DATA" -l "$WORK/pg/server.log" -w -t 60 \
  -o "-p $PG_PORT -k $PG_HOST -c listen_addresses=127.0.0.1 -c fsync=on" start > /dev/null \
  || fail "pg_ctl start: $(tail -n 5 "$WORK/pg/server.log")"
wait "$BENCH_PID" || fail "the resend failed: $(cat "$WORK/away.txt" "$WORK/saved/results")"
first_503 "database stopped"
ok "with the database stopped the enrollment gets 503 (not a FAILURE), and its resend succeeds once it is back"
finish
