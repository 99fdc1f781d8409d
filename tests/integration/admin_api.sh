#!/usr/bin/env bash
# The admin API (/api/v1/ on admin_listen) with tokens from `scepd token`: roles (read: 403 on
# POST), a manual-approval server where a PENDING request is listed with its SANs and key,
# approved (the client then receives its certificate) or rejected (the client gets FAILURE);
# certificate search and paging; revocation (the CRL at /crl/ lists the serial); challenges
# minted, listed and revoked (a revoked one is refused); audit rows of every action; 413 (also
# past 1 MiB chunked), bad JSON, unknown paths (404 with a token, not counted; 401 without),
# 401 then 429; the token never in the log.
source "$(dirname "$0")/../interop/lib.sh"
SCEP=${SCEP:-$ROOT/build/scep}
cd "$WORK"
CA=$WORK/ca
new_ca "$CA"
APORT=$(free_port)
printf '%s\n' "admin_listen = 127.0.0.1:$APORT" "max_failures = 3" >> "$CA/scepd.conf"
API=http://127.0.0.1:$APORT/api/v1

# Tokens: printed once, listed without a hash, removed by name.
"$SCEPD" token add --dir "$CA" alice --role operate > alice.txt || fail "token add alice"
OP=$(tail -n 1 alice.txt)
RD=$("$SCEPD" token add --dir "$CA" bob --role read | tail -n 1)
"$SCEPD" token add --dir "$CA" carol --role read > /dev/null || fail "token add carol"
[ "${#OP}" = 64 ] || fail "the token is not 64 hex digits: $OP"
rc=0; "$SCEPD" token add --dir "$CA" alice --role read > dup.txt 2>&1 || rc=$?
[ "$rc" = 1 ] && grep -q "a token named 'alice' exists" dup.txt || fail "a second alice: exit $rc, $(cat dup.txt)"
rc=0; "$SCEPD" token add --dir "$CA" dave --role admin > role.txt 2>&1 || rc=$?
[ "$rc" = 2 ] && grep -q "bad --role 'admin'" role.txt || fail "--role admin: exit $rc, $(cat role.txt)"
"$SCEPD" token remove --dir "$CA" carol > /dev/null || fail "token remove carol"
"$SCEPD" token list --dir "$CA" > list.txt || fail "token list"
grep -q "^alice  *operate  *20" list.txt && grep -q "^bob  *read " list.txt || fail "token list: $(cat list.txt)"
grep -q carol list.txt && fail "a removed token is listed"
grep -qi "$OP" list.txt "$CA"/*.conf && fail "the token shows in the list or the config"
HASH=$(printf '%s' "$OP" | sha256sum | cut -c1-64 | tr a-f A-F)
[ "$(sqlite3 "$CA/scepd.db" "SELECT hash FROM admin_tokens WHERE name = 'alice'")" = "$HASH" ] \
  || fail "the store does not keep the token's SHA-256"
sqlite3 "$CA/scepd.db" "SELECT * FROM admin_tokens" > rows.txt
grep -qi "$OP" rows.txt && fail "the store keeps the token"
ok "token add prints a token once, list shows name/role/created only, the store keeps its hash"

start_scepd "$CA" --approve manual
# call TOKEN METHOD PATH [BODY]: the status on stdout, the answer in r.json.
call() {
  local data=()
  [ $# -ge 4 ] && data=(-H 'Content-Type: application/json' --data-binary "$4")
  curl -s -o r.json -D r.head -w '%{http_code}' -X "$2" -H "Authorization: Bearer $1" "${data[@]}" "$API$3"
}
# js EXPR: EXPR over the last answer (d).
js() { python3 -c 'import json,sys; d=json.load(open("r.json")); print(eval(sys.argv[1]))' "$1"; }
# js_has EXPR PATTERN: EXPR's value matches PATTERN (not a pipe: grep -q would cut it short).
js_has() { js "$1" > js.txt && grep -q -- "$2" js.txt; }
expect() { # expect STATUS TOKEN METHOD PATH [BODY]
  local want=$1 got; shift
  got=$(call "$@")
  [ "$got" = "$want" ] || fail "$2 $3: $got, expected $want: $(head -c 300 r.json)"
  grep -qi '^content-type: application/json' r.head || fail "$2 $3 is not application/json"
  grep -qi '^access-control' r.head && fail "$2 $3 has CORS headers"
  grep -qi '^cache-control: no-store' r.head && grep -qi '^x-content-type-options: nosniff' r.head ||
    fail "$2 $3: no Cache-Control: no-store or X-Content-Type-Options: nosniff"
  return 0
}

expect 200 "$OP" GET /whoami
[ "$(js 'd["name"]+" "+d["role"]')" = "alice operate" ] || fail "whoami: $(cat r.json)"
expect 200 "$RD" GET /whoami
[ "$(js 'd["role"]')" = read ] || fail "whoami bob: $(cat r.json)"
expect 403 "$RD" POST /crl '{}'
js_has 'd["error"]' "needs operate" || fail "403 says: $(cat r.json)"
expect 200 "$RD" GET /ca
[ "$(js 'd["mode"]+" "+d["generations"][0]["role"]')" = "ca current" ] || fail "GET /ca: $(cat r.json)"
ok "whoami names the token; read may GET, not POST (403 JSON); no CORS headers"

# A request that stays PENDING; the API lists it with its SANs and key; approve; the client gets it.
"$SCEP" getca -u "$URL" -o cadir > /dev/null || fail "getca"
ask() {
  timeout 30 "$SCEP" enroll -u "$URL" --ca cadir --key "$1.key" --out "$1.pem" --subject "$2" \
    --poll-interval 1 --max-poll-time 1 "${@:3}" > "$1.out" 2>&1 || true
  grep -q "still PENDING" "$1.out" || fail "$1 did not go PENDING: $(cat "$1.out")"
}
ask d1 "CN=device-1,O=API" --san dns:device-1.example,ip:10.0.0.1
ask d2 "CN=device-2,O=API"
expect 200 "$RD" GET "/requests?state=pending"
[ "$(js 'len(d["items"])')" = 2 ] || fail "pending: $(cat r.json)"
ID1=$(js '[i for i in d["items"] if i["subject"]=="CN=device-1,O=API"][0]["id"]')
ID2=$(js '[i for i in d["items"] if i["subject"]=="CN=device-2,O=API"][0]["id"]')
expect 200 "$RD" GET "/requests/$ID1"
[ "$(js '",".join(d["sans"])')" = "DNS:device-1.example,IP:10.0.0.1" ] || fail "sans: $(js 'd["sans"]')"
[ "$(js 'd["key"]["type"]+"-"+str(d["key"]["bits"])')" = RSA-2048 ] || fail "key: $(js 'd["key"]')"
[ "$(js 'd["state"]+" "+d["client"]+" "+str(d["csr_pem"].startswith("-----BEGIN CERTIFICATE REQUEST"))')" = "pending 127.0.0.1 True" ] \
  || fail "request: $(head -c 400 r.json)"
expect 200 "$RD" GET "/requests?state=pending&limit=1"
[ "$(js 'len(d["items"])')" = 1 ] && NEXT=$(js 'd["next"]') && [ "$NEXT" != None ] || fail "limit=1: $(cat r.json)"
expect 200 "$RD" GET "/requests?state=pending&limit=1&after=$NEXT"
[ "$(js 'len(d["items"]) == 1 and d["next"] is None')" = True ] || fail "the second page: $(cat r.json)"
expect 200 "$OP" POST "/requests/$ID1/approve" '{}'
[ "$(js 'd["state"]')" = approved ] || fail "approve: $(cat r.json)"
expect 409 "$OP" POST "/requests/$ID1/approve" '{}'
timeout 30 "$SCEP" enroll -u "$URL" --ca cadir --key d1.key --out d1.pem --subject "CN=device-1,O=API" \
  --san dns:device-1.example,ip:10.0.0.1 --poll-interval 1 --max-poll-time 10 > d1.got 2>&1 \
  || fail "the approved request was not received: $(cat d1.got)"
check_issued d1.pem d1.key "$CA/ca.pem" device-1
S1=$(openssl x509 -in d1.pem -noout -serial | cut -d= -f2)
ok "a PENDING request is listed with SANs, key and CSR, paged, approved (409 twice), and received"

expect 200 "$OP" POST "/requests/$ID2/reject" '{"reason":"not one of ours"}'
[ "$(js 'd["state"]+"/"+d["reason"]')" = "rejected/not one of ours" ] || fail "reject: $(cat r.json)"
rc=0
timeout 30 "$SCEP" enroll -u "$URL" --ca cadir --key d2.key --out d2.pem --subject "CN=device-2,O=API" \
  --poll-interval 1 --max-poll-time 10 > d2.got 2>&1 || rc=$?
[ "$rc" != 0 ] && grep -q "refused: failInfo badRequest: not one of ours" d2.got \
  || fail "the rejected client: exit $rc, $(cat d2.got)"
ok "reject with a reason: the client gets FAILURE naming it"

# Search by subject, serial and state; paging; one certificate, its PEM and DER.
ask d3 "CN=device-3,O=API"
ID3=$(sqlite3 "$CA/scepd.db" "SELECT id FROM requests WHERE subject = 'CN=device-3,O=API'")
expect 200 "$OP" POST "/requests/$ID3/approve" '{}'
timeout 30 "$SCEP" enroll -u "$URL" --ca cadir --key d3.key --out d3.pem --subject "CN=device-3,O=API" \
  --poll-interval 1 --max-poll-time 10 > d3.got 2>&1 || fail "d3: $(cat d3.got)"
S3=$(openssl x509 -in d3.pem -noout -serial | cut -d= -f2)
expect 200 "$RD" GET "/certificates?subject=device-1"
[ "$(js '[i["serial"] for i in d["items"]]')" = "['$S1']" ] || fail "subject=device-1: $(cat r.json)"
expect 200 "$RD" GET "/certificates?san=DNS:device-1.example"
[ "$(js '[i["serial"] for i in d["items"]]')" = "['$S1']" ] || fail "san=: $(cat r.json)"
expect 200 "$RD" GET "/certificates?serial=$(echo "$S3" | tr A-F a-f)"
[ "$(js 'd["items"][0]["subject"]+" "+d["items"][0]["state"]')" = "CN=device-3,O=API valid" ] || fail "serial=: $(cat r.json)"
expect 200 "$RD" GET "/certificates?limit=1"
P1=$(js 'd["items"][0]["serial"]'); NEXT=$(js 'd["next"]')
expect 200 "$RD" GET "/certificates?limit=1&after=$NEXT"
[ "$(js 'd["items"][0]["serial"]')" != "$P1" ] && [ "$(js 'd["next"]')" = None ] || fail "page 2: $(cat r.json)"
expect 200 "$RD" GET "/certificates/$S1"
js_has 'd["text"]' "Subject:.*device-1" || fail "text: $(js 'd["text"][:200]')"
curl -s -H "Authorization: Bearer $RD" -D pem.head "$API/certificates/$S1/pem" > s1.pem
cmp <(openssl x509 -in s1.pem -outform DER) <(openssl x509 -in d1.pem -outform DER) || fail "the PEM download differs"
grep -qi '^content-disposition: attachment' pem.head || fail "no Content-Disposition: $(cat pem.head)"
curl -s -H "Authorization: Bearer $RD" "$API/certificates/$S1/der" | openssl x509 -inform DER -noout || fail "DER download"
expect 404 "$RD" GET /certificates/ABCDEF
expect 400 "$RD" GET "/certificates?state=lost"
ok "certificates by subject, SAN, serial and state, paged; detail with text; PEM and DER downloads"

# Revoke: the certificate, then the CRL at /crl/ lists it; twice is 409; a bad reason is 400.
expect 400 "$OP" POST "/certificates/$S1/revoke" '{"reason":"bored"}'
js_has 'd["error"]' "'bored' is not a CRLReason" || fail "bad reason: $(cat r.json)"
expect 200 "$OP" POST "/certificates/$S1/revoke" '{"reason":"keyCompromise"}'
[ "$(js 'd["state"]+" "+d["reason"]')" = "revoked keyCompromise" ] && CRLN=$(js 'd["crl_number"]') \
  || fail "revoke: $(cat r.json)"
expect 409 "$OP" POST "/certificates/$S1/revoke" '{}'
curl -fs "http://127.0.0.1:$PORT/crl/ca.crl" > ca.crl || fail "GET /crl/ca.crl"
openssl crl -inform DER -in ca.crl -noout -text > crl.txt 2>/dev/null || openssl crl -in ca.crl -noout -text > crl.txt
grep -q "Serial Number: $S1" crl.txt || fail "the CRL does not list $S1: $(head -n 20 crl.txt)"
grep -q "Key Compromise" crl.txt || fail "the CRL has another reason"
expect 200 "$RD" GET /crl
[ "$(js 'd["number"]')" = "$CRLN" ] && [ "$(js 'd["revoked"]')" = 1 ] || fail "GET /crl: $(cat r.json)"
expect 200 "$RD" GET "/certificates?state=revoked"
[ "$(js '[i["serial"] for i in d["items"]]')" = "['$S1']" ] || fail "state=revoked: $(cat r.json)"
ok "revoke via the API: 200 with the CRL number, the CRL at /crl/ lists the serial, 409 again"

# Challenges: minted, listed by id only, revoked; the revoked one is refused.
expect 200 "$OP" POST /challenges '{"ttl":600,"subject_match":"^CN=mdm-"}'
SECRET=$(js 'd["challenge"]'); CID=$(js 'd["id"]')
expect 200 "$OP" POST /challenges '{}'
SECRET2=$(js 'd["challenge"]')
expect 200 "$RD" GET /challenges
[ "$(js 'len(d["items"])')" = 2 ] && grep -q "$CID" r.json || fail "challenges: $(cat r.json)"
grep -q "$SECRET" r.json && fail "the list shows a secret"
expect 200 "$OP" DELETE "/challenges/$(echo "$CID" | tr A-F a-f)"
[ "$(js 'd["revoked"]')" = True ] || fail "revoke challenge: $(cat r.json)"
expect 404 "$OP" DELETE "/challenges/$CID"
expect 400 "$OP" POST /challenges '{"ttl":"soon"}'
# The first endpoint, POST /challenge (text), takes the store's tokens too: operate only.
code=$(curl -s -o old.txt -w '%{http_code}' -X POST -H "Authorization: Bearer $OP" "http://127.0.0.1:$APORT/challenge")
[ "$code" = 200 ] && [ "$(wc -c < old.txt)" -gt 16 ] || fail "POST /challenge with alice: $code"
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST -H "Authorization: Bearer $RD" "http://127.0.0.1:$APORT/challenge")
[ "$code" = 403 ] || fail "POST /challenge with a read token: $code"
start_scepd "$CA" --challenge static-but-not-this
rc=0
timeout 30 "$SCEP" enroll -u "$URL" --ca cadir --key m1.key --out m1.pem --subject "CN=mdm-1" \
  --challenge "$SECRET" --poll-interval 1 --max-poll-time 2 > m1.got 2>&1 || rc=$?
[ "$rc" != 0 ] && [ ! -s m1.pem ] || fail "a revoked challenge enrolled: $(cat m1.got)"
timeout 30 "$SCEP" enroll -u "$URL" --ca cadir --key m2.key --out m2.pem --subject "CN=mdm-2" \
  --challenge "$SECRET2" --poll-interval 1 --max-poll-time 2 > m2.got 2>&1 || fail "a minted challenge: $(cat m2.got)"
ok "challenges minted (secret once), listed by id, revoked (refused at enrollment), 404, 400; POST /challenge by role"

# The audit log: a row per action, newest first, by action and actor.
expect 200 "$RD" GET "/audit?action=revoke"
[ "$(js 'd["items"][0]["serial"]+" "+d["items"][0]["actor"]+" "+d["items"][0]["peer"]')" = "$S1 token:alice 127.0.0.1" ] \
  || fail "audit revoke: $(cat r.json)"
for a in approve reject challenge.mint challenge.revoke issue token.add token.remove; do
  expect 200 "$RD" GET "/audit?action=$a"
  [ "$(js 'len(d["items"])')" -ge 1 ] || fail "no audit row for $a"
done
expect 200 "$RD" GET "/audit?action=challenge.mint&actor=token:alice"
[ "$(js 'len(d["items"])')" = 3 ] || fail "three mints by alice (two API, one POST /challenge): $(cat r.json)"
expect 200 "$RD" GET "/audit?actor=token:alice&limit=2"
[ "$(js 'len(d["items"])')" = 2 ] && [ "$(js 'd["items"][0]["id"] > d["items"][1]["id"]')" = True ] \
  && [ "$(js 'd["next"]')" != None ] || fail "audit paging: $(cat r.json)"
expect 400 "$RD" GET "/audit?since=yesterday"
expect 200 "$RD" GET /summary
[ "$(js 'd["certificates"]["revoked"]')" = 1 ] && [ "$(js 'd["pending"]')" = 0 ] \
  && [ "$(js 'len(d["recent"])')" = 10 ] || fail "summary: $(head -c 400 r.json)"
ok "audit rows for approve, reject, revoke, challenges, issue and tokens; filters, paging; summary"

# Bad input: 413 past 64 KiB, malformed JSON named, unknown routes, then 401 and 429.
head -c 70000 /dev/zero | tr '\0' ' ' > big.json
code=$(curl -s -o r.json -w '%{http_code}' -X POST -H "Authorization: Bearer $OP" --data-binary @big.json "$API/crl")
[ "$code" = 413 ] || fail "a 70000-byte body: $code"
head -c 300000 /dev/zero | tr '\0' ' ' > bigger.json
code=$(curl -s -o r.json -w '%{http_code}' -X POST -H "Authorization: Bearer $OP" \
  -H "Transfer-Encoding: chunked" --data-binary @bigger.json "$API/crl")
[ "$code" = 413 ] && js_has 'd["error"]' "larger than 64 KiB" || fail "a chunked 300000-byte body: $code"
# Past 1 MiB it was cut, not answered: read and dropped to its end, then the same 413.
head -c 3000000 /dev/zero | tr '\0' ' ' > huge.json
rm -f r.json
code=$(curl -s -o r.json -D r.head -w '%{http_code}' -X POST -H "Authorization: Bearer $OP" \
  -H "Transfer-Encoding: chunked" --data-binary @huge.json "$API/crl") || true # a cut: curl 55
[ "$code" = 413 ] && grep -qi '^content-type: application/json' r.head \
  && js_has 'd["error"]' "larger than 64 KiB" || fail "a chunked 3000000-byte body: $code $(cat r.json 2> /dev/null)"
n=$(grep -c "admin: refused POST /api/v1/crl from 127.0.0.1 with 413: the body is larger than 64 KiB" "$WORK/scepd.log")
[ "$n" = 3 ] || fail "three 413s logged $n times"
curl -s -o /dev/null -X POST --data-binary @big.json "http://127.0.0.1:$APORT/x%0Afake%0Dline" || true
log_has "admin: refused POST /x?fake?line from 127.0.0.1 with 413"
grep -q "^fake" "$WORK/scepd.log" && fail "a decoded newline in the path made a log line of its own"
# A body that does not end is cut once past 64 MiB or 5 s (logged), not read for ever.
python3 - "$APORT" "$OP" <<'PY' || fail "an endless body was read for 20 s"
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(b"POST /api/v1/crl HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + sys.argv[2].encode()
          + b"\r\nTransfer-Encoding: chunked\r\n\r\n")
chunk = b"10000\r\n" + b" " * 65536 + b"\r\n"
start = time.time()
try:
    while time.time() - start < 20:
        s.sendall(chunk)
except OSError:
    sys.exit(0)
sys.exit(1)
PY
log_has "admin: cut POST /api/v1/crl from 127.0.0.1: its body was still arriving after 64 MiB or 5 s"
expect 400 "$OP" POST /crl '{"a":'
js_has 'd["error"]' "not valid JSON" || fail "malformed JSON: $(cat r.json)"
expect 400 "$OP" POST /crl '[1]'
expect 404 "$RD" GET /nothing
expect 405 "$RD" PUT /crl
# Unknown paths with a valid token (past max_failures of them): 404 JSON, no failure counted.
for i in 1 2 3 4; do
  expect 404 "$RD" GET "/typo-$i"
  code=$(curl -s -o r.json -D r.head -w '%{http_code}' -H "Authorization: Bearer $OP" \
    "http://127.0.0.1:$APORT/typo-$i")
  [ "$code" = 404 ] && grep -qi '^content-type: application/json' r.head \
    && js_has 'd["error"]' "no route /typo-$i" || fail "/typo-$i with a token: $code $(cat r.json)"
done
"$SCEPD" lockouts --dir "$CA" > lockouts.txt || fail "scepd lockouts"
grep -q "^admin .*127.0.0.1" lockouts.txt && fail "unknown paths with a valid token counted: $(cat lockouts.txt)"
expect 200 "$OP" GET /whoami
# Without a valid token an unknown path is 401 like any other (no route shown) and counted.
expect 401 "wrong-token-1" GET /typo-1
grep -q "no route" r.json && fail "an unknown path shown without a token: $(cat r.json)"
code=$(curl -s -o r.json -w '%{http_code}' "http://127.0.0.1:$APORT/typo-1")
[ "$code" = 401 ] || fail "/typo-1 without a token: $code"
grep -q "^admin  *2 .*127.0.0.1" <("$SCEPD" lockouts --dir "$CA") || fail "the two 401s on unknown paths are not counted"
expect 401 "wrong-token-3" GET /whoami
grep -qi '^www-authenticate: bearer' r.head || fail "401 without WWW-Authenticate"
code=$(call "$OP" GET /whoami)
[ "$code" = 429 ] && grep -qi '^retry-after:' r.head && js_has 'd["error"]' "too many failed attempts" \
  || fail "after 3 bad tokens: $code $(cat r.json)"
ok "413 past 64 KiB (declared or chunked, logged once; an endless body cut), malformed JSON named (400), 404 (a typo not counted), 405, 401, then 429 (JSON)"

for t in "$OP" "$RD" "$SECRET" "$SECRET2"; do
  grep -qF "$t" "$WORK/scepd.log" && fail "a token or challenge is in the log"
done
ok "no token or challenge in the log"

# docs/openapi.yaml parses as OpenAPI 3.0 and names every route answered above.
python3 - "$ROOT/docs/openapi.yaml" <<'PY' || fail "docs/openapi.yaml"
import sys, yaml
d = yaml.safe_load(open(sys.argv[1]))
assert d["openapi"].startswith("3.0"), d["openapi"]
want = {"/whoami": "get", "/summary": "get", "/requests": "get", "/requests/{id}": "get",
        "/requests/{id}/approve": "post", "/requests/{id}/reject": "post",
        "/certificates": "get", "/certificates/{serial}": "get",
        "/certificates/{serial}/pem": "get", "/certificates/{serial}/der": "get",
        "/certificates/{serial}/revoke": "post", "/crl": "post", "/ca": "get",
        "/challenges": "post", "/challenges/{id}": "delete", "/audit": "get"}
for path, method in want.items():
    assert method in d["paths"].get(path, {}), path + " " + method
PY
ok "docs/openapi.yaml parses as OpenAPI 3.0 and has every route"
finish
