#!/usr/bin/env bash
# The store contract suite (every backend's) and the PostgreSQL suite (schema, passfile, lost
# connections, races of several processes) against a PostgreSQL 15 started here. Runs the
# sanitized unit tests of build-check/ (`make unit`), or TEST_BIN.
source "$(dirname "$0")/../interop/lib.sh"
source "$(dirname "$0")/lib.sh"
TEST_BIN=${TEST_BIN:-$ROOT/build-check/tests}
for t in test_store_contract test_store_postgresql; do
  [ -x "$TEST_BIN/$t" ] || fail "no $TEST_BIN/$t: run make unit first"
done
pg_start
export SCEPD_TEST_PG_HOST=$PG_HOST SCEPD_TEST_PG_PORT=$PG_PORT
for t in test_store_contract test_store_postgresql; do
  timeout 600 "$TEST_BIN/$t" > "$WORK/$t.log" 2>&1 || fail "$t: $(grep -E 'FAIL|ERROR|LINE' "$WORK/$t.log" | head -n 8)"
  grep -q "store contract on postgresql: skipped\|SKIPPED" "$WORK/$t.log" && fail "$t skipped PostgreSQL"
  ok "$t on PostgreSQL $(pg_sql 'SHOW server_version')"
done
finish
