#!/usr/bin/env bash
# scepd on PostgreSQL end to end: `scepd init --store postgresql://...` (the password in a
# passfile), two `scepd serve` nodes on the one database, our client and strongSwan's pki
# enrolling, a request pending on one node, approved with `--store URL` and received from the
# other, a revocation in the CRL, a dropped database connection, and no password in any file
# or log scepd wrote.
source "$(dirname "$0")/../interop/lib.sh"
source "$(dirname "$0")/lib.sh"
SCEP=${SCEP:-$ROOT/build/scep}
command -v pki > /dev/null || fail "pki is not installed (Debian package strongswan-pki)"
NODE_B_PID=""
pg_start
trap 'stop_pid "$NODE_B_PID"; pg_stop; cleanup' EXIT

SECRET=pw-only-in-the-passfile-$$
pg_sql "CREATE ROLE scep_node LOGIN PASSWORD '$SECRET'"
pg_sql "CREATE DATABASE scepd OWNER scep_node"
printf '127.0.0.1:%s:scepd:scep_node:%s\n' "$PG_PORT" "$SECRET" > "$WORK/pgpass"
chmod 600 "$WORK/pgpass"
STORE="postgresql://scep_node@127.0.0.1:$PG_PORT/scepd?passfile=$WORK/pgpass&sslmode=disable"

CA=$WORK/ca
new_ca "$CA" --ra --store "$STORE"
grep -qxF "store = $STORE" "$CA/scepd.conf" || fail "init did not write the store: $(grep store "$CA/scepd.conf")"
[ "$(PG_DB=scepd pg_sql 'SELECT version FROM scepd_schema')" = 10 ] || fail "init did not make schema 10"
ok "scepd init --store postgresql://... makes schema 10 and names the store in scepd.conf"

# Only init creates a store: another command on an empty database refuses it.
pg_sql "CREATE DATABASE empty OWNER scep_node"
printf '127.0.0.1:%s:empty:scep_node:%s\n' "$PG_PORT" "$SECRET" >> "$WORK/pgpass"
EMPTY="postgresql://scep_node@127.0.0.1:$PG_PORT/empty?passfile=$WORK/pgpass"
"$SCEPD" certs --dir "$CA" --store "$EMPTY" > "$WORK/empty.out" 2>&1 && fail "certs opened an empty database"
grep -q "no store at postgresql://scep_node@127.0.0.1:$PG_PORT/empty.*run scepd init" "$WORK/empty.out" \
  || fail "unclear refusal of an empty database: $(cat "$WORK/empty.out")"
ok "a command other than init refuses an empty database (run scepd init)"

# Two nodes: A approves manually, B takes a challenge; both on the one database.
cp -a "$CA" "$WORK/ca-b"
echo s3cret > "$WORK/challenge" && chmod 600 "$WORK/challenge"
start_scepd "$CA" --approve manual
URL_A=$URL
PORT_B=$(free_port)
URL_B="http://127.0.0.1:$PORT_B/scep"
"$SCEPD" serve --dir "$WORK/ca-b" --listen "127.0.0.1:$PORT_B" --challenge-file "$WORK/challenge" \
  "${SERVE_ROOT[@]}" >> "$WORK/scepd-b.log" 2>&1 &
NODE_B_PID=$!
wait_for "no answer from $URL_B?operation=GetCACaps" answers "$URL_B?operation=GetCACaps"
curl -fs "$URL_B?operation=GetCACaps" > /dev/null || fail "node B did not start: $(tail -n 3 "$WORK/scepd-b.log")"

cd "$WORK"
"$SCEP" getca -u "$URL_A" -o cadir > /dev/null || fail "getca"
timeout 30 "$SCEP" enroll -u "$URL_A" --ca cadir --key dev.key --out dev.pem --subject CN=pg-device \
  --poll-interval 1 --max-poll-time 1 > ask.out 2>&1 || true
grep -q "still PENDING" ask.out || fail "the request did not stay pending at node A: $(cat ask.out)"
"$SCEPD" pending --dir "$WORK/ca-b" > pending.txt || fail "pending at node B's directory"
ID=$(awk '$NF == "CN=pg-device" {print $1}' pending.txt)
[ -n "$ID" ] || fail "node B's directory does not see node A's pending request: $(cat pending.txt)"
"$SCEPD" approve --dir "$WORK" --store "$STORE" "$ID" > approve.txt 2>&1 \
  && fail "approve without a configuration in --dir worked"
"$SCEPD" approve --dir "$CA" --store "$STORE" "$ID" > approve.txt || fail "approve --store: $(cat approve.txt)"
# The poll goes to node B: the approval is in the database, not in node A.
timeout 30 "$SCEP" enroll -u "$URL_B" --ca cadir --key dev.key --out dev.pem --subject CN=pg-device \
  --poll-interval 1 --max-poll-time 10 > got.out 2>&1 || fail "node B did not deliver: $(cat got.out)"
check_issued dev.pem dev.key "$CA/ca.pem" pg-device
ok "pending at node A, listed from node B's directory, approved with --store, received from node B"

# strongSwan's pki at node B (RA mode, challenge).
pki --gen --type rsa --size 2048 --outform pem > ss.key 2> /dev/null
timeout 60 pki --scep --url "$URL_B" --in ss.key --dn "CN=pg-strongswan,O=Interop" --password s3cret \
  --cacert-enc "$CA/ra.pem" --cacert-sig "$CA/ra.pem" --cacert "$CA/ca.pem" --cipher aes \
  --digest sha256 --outform pem > ss.pem 2> ss.err || fail "pki enrollment: $(grep -v -i tpm ss.err | tail -n 3)"
check_issued ss.pem ss.key "$CA/ca.pem" pg-strongswan
SS_SERIAL=$(openssl x509 -in ss.pem -noout -serial | cut -d= -f2)
"$SCEPD" certs --dir "$CA" | grep -q "^$SS_SERIAL .*CN=pg-strongswan" || fail "node A's directory lacks pki's certificate"
ok "strongSwan pki enrolls at node B; the certificate is in the shared store"

# Revoke with --store; the CRL from node A lists it.
SERIAL=$(openssl x509 -in dev.pem -noout -serial | cut -d= -f2)
"$SCEPD" revoke --dir "$CA" --store "$STORE" "$SERIAL" --reason keyCompromise > revoke.txt \
  || fail "revoke --store: $(cat revoke.txt)"
"$SCEP" getcrl -u "$URL_A" --ca cadir --cert ss.pem --key ss.key --out crl.pem > /dev/null 2> crl.err \
  || fail "getcrl: $(cat crl.err)"
openssl crl -in crl.pem -noout -text | grep -q "Serial Number: $SERIAL" || fail "the CRL lacks $SERIAL"
NUMBER=$(PG_DB=scepd pg_sql 'SELECT max(number) FROM crls')
[ "$NUMBER" -ge 1 ] || fail "no CRL number in the database"
ok "revoke --store; the CRL from node A lists the serial (CRL number $NUMBER in the database)"

# scepd backup leaves a PostgreSQL store out, says to use pg_dump, and archives the rest.
"$SCEPD" backup --dir "$CA" --out pg-backup.tgz > backup.out 2>&1 || fail "backup: $(cat backup.out)"
grep -q "the store is not in the archive.*pg_dump" backup.out || fail "backup does not point to pg_dump: $(cat backup.out)"
tar tzf pg-backup.tgz | sort | tr '\n' ' ' > backup.list
[ "$(cat backup.list)" = "ca.pem ra.pem scepd.conf " ] || fail "the PostgreSQL backup holds: $(cat backup.list)"
ok "scepd backup on PostgreSQL: scepd.conf and the CA and RA certificates, the store left to pg_dump"

# The database drops every connection: the node answers again (a 503 at the most, never a
# SUCCESS that was not committed).
pg_sql "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = 'scepd'" > /dev/null
timeout 30 "$SCEP" enroll -u "$URL_B" --ca cadir --key after.key --out after.pem --subject CN=pg-after \
  --challenge s3cret > after.out 2>&1 \
  || timeout 30 "$SCEP" enroll -u "$URL_B" --ca cadir --key after.key --out after.pem \
    --subject CN=pg-after --challenge s3cret > after.out 2>&1 \
  || fail "node B did not recover from the dropped connections: $(cat after.out)"
check_issued after.pem after.key "$CA/ca.pem" pg-after
ok "after the database dropped every connection, node B enrolls again"

stop_scepd
stop_pid "$NODE_B_PID"
NODE_B_PID=""
if grep -rqF "$SECRET" "$CA" "$WORK/ca-b" "$WORK"/*.log "$WORK"/*.txt "$WORK"/*.out; then
  fail "the database password is in a file or log scepd wrote"
fi
ok "the password is only in the passfile"
finish
