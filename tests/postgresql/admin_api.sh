#!/usr/bin/env bash
# The admin API on a PostgreSQL store shared by two nodes: a token added once works on both;
# a request pending at node A is approved through node B's API and received from node A; the
# audit rows of node B's actions and of node A's issuing are read from node A's API; a revoke
# through node A's API is in the CRL node B serves; a challenge minted at B is revoked at A.
source "$(dirname "$0")/../interop/lib.sh"
source "$(dirname "$0")/lib.sh"
SCEP=${SCEP:-$ROOT/build/scep}
NODE_B_PID=""
pg_start
trap 'stop_pid "$NODE_B_PID"; pg_stop; cleanup' EXIT
pg_sql "CREATE DATABASE scepd"
STORE="postgresql://postgres@/scepd?host=$PG_HOST&port=$PG_PORT"
CA=$WORK/ca
new_ca "$CA" --store "$STORE"
cp -a "$CA" "$WORK/ca-b"
AP_A=$(free_port); AP_B=$(free_port)
echo "admin_listen = 127.0.0.1:$AP_A" >> "$CA/scepd.conf"
echo "admin_listen = 127.0.0.1:$AP_B" >> "$WORK/ca-b/scepd.conf"
TOKEN=$("$SCEPD" token add --dir "$CA" ops --role operate | tail -n 1)
[ "$(PG_DB=scepd pg_sql "SELECT role FROM admin_tokens WHERE name = 'ops'")" = operate ] \
  || fail "the token is not in the PostgreSQL store"
start_scepd "$CA" --approve manual
PORT_B=$(free_port)
"$SCEPD" serve --dir "$WORK/ca-b" --listen "127.0.0.1:$PORT_B" --approve manual "${SERVE_ROOT[@]}" \
  >> "$WORK/scepd-b.log" 2>&1 &
NODE_B_PID=$!
wait_for "no answer from http://127.0.0.1:$AP_B/healthz" answers "http://127.0.0.1:$AP_B/healthz"
cd "$WORK"
call() { # call NODE_PORT METHOD PATH [BODY]: the status; the answer in r.json
  local data=()
  [ $# -ge 4 ] && data=(--data-binary "$4")
  curl -s -o r.json -w '%{http_code}' -X "$2" -H "Authorization: Bearer $TOKEN" "${data[@]}" \
    "http://127.0.0.1:$1/api/v1$3"
}
js() { python3 -c 'import json,sys; d=json.load(open("r.json")); print(eval(sys.argv[1]))' "$1"; }
[ "$(call "$AP_A" GET /whoami)" = 200 ] && [ "$(call "$AP_B" GET /whoami)" = 200 ] \
  || fail "the token is refused by a node: $(cat r.json)"
ok "one token from scepd token works on both nodes of the store"

"$SCEP" getca -u "$URL" -o cadir > /dev/null || fail "getca"
timeout 30 "$SCEP" enroll -u "$URL" --ca cadir --key d.key --out d.pem --subject CN=pg-api \
  --poll-interval 1 --max-poll-time 1 > ask.out 2>&1 || true
grep -q "still PENDING" ask.out || fail "not pending at node A: $(cat ask.out)"
[ "$(call "$AP_B" GET '/requests?state=pending')" = 200 ] || fail "list at B: $(cat r.json)"
ID=$(js '[i["id"] for i in d["items"] if i["subject"] == "CN=pg-api"][0]')
[ "$(call "$AP_B" POST "/requests/$ID/approve" '{}')" = 200 ] || fail "approve at B: $(cat r.json)"
timeout 30 "$SCEP" enroll -u "$URL" --ca cadir --key d.key --out d.pem --subject CN=pg-api \
  --poll-interval 1 --max-poll-time 10 > got.out 2>&1 || fail "node A did not deliver: $(cat got.out)"
check_issued d.pem d.key "$CA/ca.pem" pg-api
SERIAL=$(openssl x509 -in d.pem -noout -serial | cut -d= -f2)
[ "$(call "$AP_A" GET "/audit?serial=$SERIAL")" = 200 ] \
  && [ "$(js 'd["items"][0]["action"]+" "+d["items"][0]["actor"]')" = "issue scepd" ] || fail "audit at A: $(cat r.json)"
[ "$(call "$AP_A" GET '/audit?action=approve')" = 200 ] \
  && [ "$(js 'd["items"][0]["actor"]+" "+d["items"][0]["subject"]')" = "token:ops CN=pg-api" ] \
  || fail "node B's approval in node A's audit log: $(cat r.json)"
ok "pending at A, approved through B's API, received from A; both actions in the shared audit log"

[ "$(call "$AP_A" POST "/certificates/$SERIAL/revoke" '{"reason":"superseded"}')" = 200 ] || fail "revoke at A: $(cat r.json)"
curl -fs "http://127.0.0.1:$PORT_B/crl/ca.crl" > ca.crl || fail "the CRL from B"
openssl crl -inform DER -in ca.crl -noout -text > crl.txt || fail "B's CRL does not parse"
grep -q "Serial Number: $SERIAL" crl.txt || fail "B's CRL misses $SERIAL"
[ "$(call "$AP_B" GET "/certificates?serial=$SERIAL")" = 200 ] && [ "$(js 'd["items"][0]["state"]')" = revoked ] \
  || fail "search at B: $(cat r.json)"
[ "$(call "$AP_B" POST /challenges '{"ttl":60}')" = 200 ] && CID=$(js 'd["id"]') || fail "mint at B"
[ "$(call "$AP_A" DELETE "/challenges/$CID")" = 200 ] || fail "revoke at A: $(cat r.json)"
[ "$(call "$AP_B" GET /challenges)" = 200 ] && [ "$(js 'len(d["items"])')" = 0 ] || fail "list at B: $(cat r.json)"
ok "revoked through A, in the CRL B serves; a challenge minted at B is revoked at A"
finish
