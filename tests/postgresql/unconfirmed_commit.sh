#!/usr/bin/env bash
# A COMMIT the server did not confirm durable is no SUCCESS. With a synchronous standby that
# does not answer, COMMIT waits; when the wait is cancelled (an operator's pg_cancel_backend),
# PostgreSQL commits locally, warns "canceling wait for synchronous replication" and reports
# COMMIT, although the standby may never have it. scepd must answer 503 then, and the client's
# resend, once the standby is back (here: no longer required), gets the certificate that was
# committed.
source "$(dirname "$0")/../interop/lib.sh"
source "$(dirname "$0")/lib.sh"
BENCH=${SCEP_BENCH:-$ROOT/build/bench/scep-bench}
[ -x "$BENCH" ] || fail "no load generator at $BENCH (make bench)"
pg_start
pg_node_store
CA=$WORK/ca
new_ca "$CA" --store "$STORE"

# A synchronous standby that never answers: from now on every COMMIT waits for it.
pg_sql "ALTER SYSTEM SET synchronous_standby_names = 'absent_standby'"
pg_sql "SELECT pg_reload_conf()" > /dev/null
start_scepd "$CA" --challenge s3cret

mkdir "$WORK/saved"
"$BENCH" -u "$URL" -c s3cret -n 1 -C 1 --pool 1 --retry 3 --retry-wait 3000 --timeout 30 \
  --save "$WORK/saved" --kv > "$WORK/bench.txt" 2>&1 &
BENCH_PID=$!
WAITING="SELECT pid FROM pg_stat_activity WHERE usename = 'scep_node' AND wait_event = 'SyncRep'"
wait_until eval '[ -n "$(pg_sql "$WAITING")" ]' || true
PID=$(pg_sql "$WAITING")
[ -n "$PID" ] || fail "no enrollment is waiting for the synchronous standby"
pg_sql "SELECT pg_cancel_backend($PID)" > /dev/null
wait_until eval 'grep -q "PKCSReq.*http=" "$WORK/scepd.log"' || true
grep -q "PKCSReq.*http=503" "$WORK/scepd.log" \
  || { wait "$BENCH_PID" || true; fail "an unconfirmed commit was answered: $(grep PKCSReq "$WORK/scepd.log"; cat "$WORK/saved/results")"; }
ok "a COMMIT whose wait for the synchronous standby was cancelled gets 503, not SUCCESS"
log_has "did not confirm"

# The standby is no longer required: the resend gets the certificate committed the first time.
pg_sql "ALTER SYSTEM RESET synchronous_standby_names"
pg_sql "SELECT pg_reload_conf()" > /dev/null
wait "$BENCH_PID" || fail "the resend failed: $(cat "$WORK/bench.txt" "$WORK/saved/results")"
read -r TID STATUS SERIAL ATTEMPTS FIRST LAST _ < "$WORK/saved/results"
[ "$STATUS $ATTEMPTS $FIRST $LAST" = "ok 2 http-503 ok" ] || fail "results: $(cat "$WORK/saved/results")"
STORED=$(PG_DB=scepd pg_sql "SELECT string_agg(serial, ' ') FROM certs WHERE transaction_id = '$TID'")
[ "$STORED" = "$SERIAL" ] || fail "the store holds '$STORED' for $TID, the client received $SERIAL"
ok "the resend gets the certificate the first attempt committed, and the store holds only it"
finish
