#!/usr/bin/env bash
# scepd db migrate on PostgreSQL: the SQLite backend's versioned steps, with the versions said;
# a current schema left alone; a newer one refused and left as it was; a database that is no
# store refused. Then `serve` on an older schema migrates it on its own, as on SQLite.
source "$(dirname "$0")/../interop/lib.sh"
source "$(dirname "$0")/lib.sh"
pg_start
pg_sql "CREATE DATABASE scepd"
pg_sql "CREATE DATABASE other"
STORE=$(pg_uri scepd)
version() { PG_DB=scepd pg_sql 'SELECT version FROM scepd_schema'; }
CA=$WORK/ca
new_ca "$CA" --store "$STORE"
current=$(version)
[ "$current" -ge 8 ] || fail "init made schema $current"
cd "$WORK"

"$SCEPD" db migrate --store "$STORE" > same.out 2>&1 || fail "db migrate on a current store: $(cat same.out)"
grep -qx "db migrate: schema version $current, already current" same.out \
  || fail "db migrate on a current store said: $(cat same.out)"
ok "a current schema ($current) is left alone and said to be current"

# Schema 7: without requests.csr_hash (the 7 -> 8 step), the CA generations (8 -> 9), the
# admin tokens, the audit log and the waiting requests' index (9 -> 10).
TO7='DROP TABLE admin_tokens; DROP TABLE audit; DROP INDEX requests_waiting; CREATE INDEX requests_state ON requests (state); DROP TABLE ca_generations; DROP TABLE ca_generation_counter; ALTER TABLE requests DROP COLUMN csr_hash; UPDATE scepd_schema SET version = 7'
rows=$(PG_DB=scepd pg_sql 'SELECT count(*) FROM certs')
PG_DB=scepd pg_sql "$TO7"
"$SCEPD" db migrate --dir "$CA" > old.out 2>&1 || fail "db migrate from 7: $(cat old.out)"
grep -qx "db migrate: schema version 7 -> $current" old.out || fail "db migrate from 7 said: $(cat old.out)"
[ "$(version)" = "$current" ] || fail "the schema is not at $current after db migrate"
PG_DB=scepd pg_sql 'SELECT csr_hash FROM requests LIMIT 1' > /dev/null \
  || fail "requests.csr_hash is missing after the migration"
PG_DB=scepd pg_sql 'SELECT counter FROM ca_generation_counter' > /dev/null \
  || fail "the CA generations are missing after the migration"
[ "$(PG_DB=scepd pg_sql 'SELECT count(*) FROM certs')" = "$rows" ] || fail "the certificates changed"
ok "schema 7 -> $current by the same step as SQLite (--dir, the store from scepd.conf), $rows certificate(s) kept"

newer=$((current + 1))
PG_DB=scepd pg_sql "UPDATE scepd_schema SET version = $newer"
rc=0
"$SCEPD" db migrate --store "$STORE" > newer.out 2>&1 || rc=$?
[ "$rc" = 1 ] || fail "db migrate on a newer schema: exit $rc, $(cat newer.out)"
grep -q "schema version $newer is newer than this scepd supports ($current): use a newer scepd" newer.out \
  || fail "unclear refusal of a newer schema: $(cat newer.out)"
[ "$(version)" = "$newer" ] || fail "a refused newer schema was changed"
PG_DB=scepd pg_sql "UPDATE scepd_schema SET version = $current"
ok "a newer schema ($newer) is refused with exit 1 and left as it was"

rc=0
"$SCEPD" db migrate --store "$(pg_uri other)" > other.out 2>&1 || rc=$?
[ "$rc" = 1 ] && grep -q "no store at .*other.*run scepd init" other.out \
  || fail "db migrate on an empty database: exit $rc, $(cat other.out)"
[ "$(PG_DB=other pg_sql "SELECT to_regclass('scepd_schema') IS NULL")" = t ] || fail "db migrate made a store"
PG_DB=other pg_sql 'CREATE TABLE unrelated (x int)'
rc=0
"$SCEPD" db migrate --store "$(pg_uri other)" > unrelated.out 2>&1 || rc=$?
[ "$rc" = 1 ] && grep -q "not a scepd database" unrelated.out \
  || fail "db migrate on another application's database: exit $rc, $(cat unrelated.out)"
ok "an empty database (run scepd init, none made) and another application's are refused"

# serve keeps migrating on its own: an old schema is current once it answers.
PG_DB=scepd pg_sql "$TO7"
start_scepd "$CA"
[ "$(version)" = "$current" ] || fail "serve did not migrate schema 7"
ok "serve on schema 7 migrates it to $current itself"
finish
