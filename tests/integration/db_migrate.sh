#!/usr/bin/env bash
# scepd db migrate on SQLite: an older schema is brought to the current version by the store's
# own steps, with the versions said and the rows kept; a current one is left alone; a newer one
# is refused and left as it was; no store, no subcommand, and a bad one are clear errors.
source "$(dirname "$0")/../interop/lib.sh"
cd "$WORK"
CA=$WORK/ca
new_ca "$CA"
DB=$CA/scepd.db
current=$(sqlite3 "$DB" 'PRAGMA user_version')
[ "$current" -ge 8 ] || fail "init made schema $current"

"$SCEPD" db migrate --dir "$CA" > same.out 2>&1 || fail "db migrate on a current store: $(cat same.out)"
grep -qx "db migrate: schema version $current, already current" same.out \
  || fail "db migrate on a current store said: $(cat same.out)"
ok "a current schema ($current) is left alone and said to be current"

# Schema 7: without requests.csr_hash (the 7 -> 8 step), the CA generations (8 -> 9), the
# admin tokens, the audit log and the waiting requests' index (9 -> 10).
TO7='DROP TABLE admin_tokens; DROP TABLE audit; DROP INDEX requests_waiting; CREATE INDEX requests_state ON requests (state); DROP TABLE ca_generations; DROP TABLE ca_generation_counter; ALTER TABLE requests DROP COLUMN csr_hash; PRAGMA user_version = 7;'
rows=$(sqlite3 "$DB" 'SELECT count(*) FROM certs')
sqlite3 "$DB" "$TO7"
"$SCEPD" db migrate --dir "$CA" > old.out 2>&1 || fail "db migrate from 7: $(cat old.out)"
grep -qx "db migrate: schema version 7 -> $current" old.out || fail "db migrate from 7 said: $(cat old.out)"
[ "$(sqlite3 "$DB" 'PRAGMA user_version')" = "$current" ] || fail "the schema is not at $current after db migrate"
sqlite3 "$DB" 'SELECT csr_hash FROM requests LIMIT 1' > /dev/null || fail "requests.csr_hash is missing after the migration"
sqlite3 "$DB" 'SELECT counter FROM ca_generation_counter' > /dev/null || fail "the CA generations are missing after the migration"
[ "$(sqlite3 "$DB" 'SELECT count(*) FROM certs')" = "$rows" ] || fail "the certificates changed in the migration"
ok "schema 7 -> $current by the store's step, column added, $rows certificate(s) kept"

# --store URI without DIR: the store alone.
sqlite3 "$DB" "$TO7"
"$SCEPD" db migrate --store "sqlite:$DB" > uri.out 2>&1 || fail "db migrate --store: $(cat uri.out)"
grep -qx "db migrate: schema version 7 -> $current" uri.out || fail "db migrate --store said: $(cat uri.out)"
ok "db migrate --store sqlite:PATH works without --dir"

newer=$((current + 1))
sqlite3 "$DB" "PRAGMA user_version = $newer"
rc=0
"$SCEPD" db migrate --dir "$CA" > newer.out 2>&1 || rc=$?
[ "$rc" = 1 ] || fail "db migrate on a newer schema: exit $rc, $(cat newer.out)"
grep -q "schema version $newer is newer than this scepd supports ($current): use a newer scepd" newer.out \
  || fail "unclear refusal of a newer schema: $(cat newer.out)"
[ "$(sqlite3 "$DB" 'PRAGMA user_version')" = "$newer" ] || fail "a refused newer schema was changed"
sqlite3 "$DB" "PRAGMA user_version = $current"
ok "a newer schema ($newer) is refused with exit 1 and left as it was"

rc=0
"$SCEPD" db migrate --store "sqlite:$WORK/none.db" > none.out 2>&1 || rc=$?
[ "$rc" = 1 ] && grep -q "no store at $WORK/none.db: run scepd init" none.out \
  || fail "db migrate on no store: exit $rc, $(cat none.out)"
[ ! -e "$WORK/none.db" ] || fail "db migrate made a store"
for args in "db --dir $CA" "db --dir $CA upgrade" "db --dir $CA migrate now" "db migrate"; do
  rc=0
  # shellcheck disable=SC2086
  "$SCEPD" $args > usage.out 2>&1 || rc=$?
  [ "$rc" = 2 ] && grep -q "see \`scepd db --help\`" usage.out || fail "scepd $args: exit $rc, $(cat usage.out)"
done
ok "no store is exit 1 (run scepd init, none made); a missing or unknown subcommand is exit 2"
finish
