#!/usr/bin/env bash
# Certificate lifecycle with our client against our server: revocation and CRLs (GetCRL, the
# CDP URL), one-time challenges, and a CA rollover end to end. Checked with openssl.
source "$(dirname "$0")/../interop/lib.sh"
SCEP=${SCEP:-$ROOT/build/scep}

CA=$WORK/ca
new_ca "$CA" --ra --days 400
PORT_FIXED=$(free_port)
CRL_URL="http://127.0.0.1:$PORT_FIXED/crl/ca.crl"
start_on() { # a server on the fixed port, so that the CDP URL stays right
  [ -n "$SCEPD_PID" ] && stop_scepd
  URL="http://127.0.0.1:$PORT_FIXED/scep"
  "$SCEPD" serve --dir "$CA" --listen "127.0.0.1:$PORT_FIXED" "${SERVE_ROOT[@]}" "$@" >> "$WORK/scepd.log" 2>&1 &
  SCEPD_PID=$!
  wait_until answers "$URL?operation=GetCACaps" && return 0
  fail "scepd did not start"
}
start_on --challenge s3cret --set renewal_window=0% --set "crl_url=$CRL_URL"
cd "$WORK"
"$SCEP" getca -u "$URL" -o cadir > /dev/null || fail "getca"

enroll() { "$SCEP" enroll -u "$URL" --ca cadir --key "$1.key" --out "$1.pem" --subject "CN=$1" "${@:2}" > "$1.out" 2>&1; }

# Revocation and CRLs.
enroll keep --challenge s3cret || fail "enroll keep"
enroll lost --challenge s3cret || fail "enroll lost"
openssl x509 -in keep.pem -noout -ext crlDistributionPoints | grep -q "URI:$CRL_URL" \
  || fail "issued certificates carry no CRL Distribution Points"
LOST=$(openssl x509 -in lost.pem -noout -serial | cut -d= -f2)
KEEP=$(openssl x509 -in keep.pem -noout -serial | cut -d= -f2)
"$SCEPD" revoke --dir "$CA" "$LOST" --reason keyCompromise > revoke.txt || fail "scepd revoke"
"$SCEP" getcrl -u "$URL" --ca cadir --cert keep.pem --key keep.key --out crl.pem > /dev/null \
  || fail "GetCRL"
openssl crl -in crl.pem -noout -CAfile cadir/ca.pem 2>&1 | grep -q "verify OK" || fail "the CRL is not signed by the CA"
openssl crl -in crl.pem -noout -text > crl.txt
grep -q "Serial Number: $LOST" crl.txt || fail "the CRL does not list the revoked serial"
grep -q "Key Compromise" crl.txt || fail "the CRL does not carry the reason"
grep -q "Serial Number: $KEEP" crl.txt && fail "the CRL lists a valid certificate"
curl -fs -o cdp.der "$CRL_URL" || fail "the CDP URL serves nothing"
cmp -s cdp.der <(openssl crl -in crl.pem -outform DER) || fail "the CDP URL serves another CRL than GetCRL"
[ "$(curl -s -o /dev/null -w '%{content_type}' "$CRL_URL")" = application/pkix-crl ] || fail "CRL content type"
openssl verify -crl_check -CAfile cadir/ca.pem -CRLfile crl.pem lost.pem > /dev/null 2>&1 \
  && fail "openssl accepts the revoked certificate"
openssl verify -crl_check -CAfile cadir/ca.pem -CRLfile crl.pem keep.pem > /dev/null || fail "openssl refuses a valid certificate"
ok "revoke, GetCRL and the CDP URL give the same CA-signed CRL listing the revoked serial"

# The draft's manual revocation check: the caller proves the challenge they enrolled with.
enroll verified --challenge s3cret || fail "enroll verified"
VER=$(openssl x509 -in verified.pem -noout -serial | cut -d= -f2)
if echo wrong | "$SCEPD" revoke --dir "$CA" "$VER" --verify-challenge > v1.txt 2>&1; then
  fail "revoke --verify-challenge accepted a wrong challenge"
fi
grep -q "does not match" v1.txt || fail "unclear refusal: $(cat v1.txt)"
echo s3cret | "$SCEPD" revoke --dir "$CA" "$VER" --verify-challenge > v2.txt 2>&1 \
  || fail "revoke --verify-challenge refused the right challenge: $(cat v2.txt)"
ok "revoke --verify-challenge revokes only with the challenge the certificate was enrolled with"

if "$SCEP" renew -u "$URL" --ca cadir --cert lost.pem --key lost.key --new-key lost2.key --out lost2.pem > r.out 2>&1; then
  fail "a revoked certificate was renewed"
fi
grep -q "revoked" r.out || fail "no reason given for refusing a revoked certificate: $(cat r.out)"
ok "renewal of a revoked certificate is refused, saying why"

# One-time challenges: once, never twice, not after expiry, only for matching subjects.
OTC=$("$SCEPD" challenge --dir "$CA" --ttl 10m | tail -n 1)
grep -q "$OTC" "$WORK/scepd.log" "$CA/scepd.db" && fail "the one-time challenge is stored or logged in clear"
enroll otc1 --challenge "$OTC" || fail "a fresh one-time challenge was refused: $(cat otc1.out)"
if enroll otc2 --challenge "$OTC"; then fail "a one-time challenge worked twice"; fi
grep -q "already used" otc2.out || fail "unclear reason for a used challenge: $(cat otc2.out)"
LATE=$("$SCEPD" challenge --dir "$CA" --ttl 1 | tail -n 1)
sleep 2
if enroll late --challenge "$LATE"; then fail "an expired one-time challenge worked"; fi
LAB=$("$SCEPD" challenge --dir "$CA" --subject-match '^CN=lab-' | tail -n 1)
if enroll other --challenge "$LAB"; then fail "a subject-bound challenge worked for another subject"; fi
enroll lab-7 --challenge "$LAB" || fail "a subject-bound challenge was refused for its subject"
ok "one-time challenges: once, not twice, not after expiry, only for matching subjects"

# The admin endpoint mints them over HTTP, for a bearer token only.
ADMIN_PORT=$(free_port)
TOKEN=admin-token-0123456789abcdef
# From here on the CDP names the issuing CA generation, so that it survives the rollover.
GEN_CRL_URL="http://127.0.0.1:$PORT_FIXED/crl/{ca}.crl"
start_on --challenge s3cret --set renewal_window=0% --set "crl_url=$GEN_CRL_URL" \
  --set "admin_listen=127.0.0.1:$ADMIN_PORT" --set "admin_token=$TOKEN"
ADMIN="http://127.0.0.1:$ADMIN_PORT/challenge"
wait_for "the admin listener did not start" curl -s -o /dev/null "$ADMIN"
[ "$(curl -s -o /dev/null -w '%{http_code}' -X POST "$ADMIN")" = 401 ] || fail "the admin endpoint answers without a token"
[ "$(curl -s -o /dev/null -w '%{http_code}' -X POST -H 'Authorization: Bearer nope' "$ADMIN")" = 401 ] \
  || fail "the admin endpoint answers a wrong token"
MINTED=$(curl -fs -X POST -H "Authorization: Bearer $TOKEN" "$ADMIN?ttl=300") || fail "minting over HTTP"
enroll minted --challenge "$MINTED" || fail "a challenge minted over HTTP was refused"
if enroll minted2 --challenge "$MINTED"; then fail "an HTTP-minted challenge worked twice"; fi
grep -q "$TOKEN" "$WORK/scepd.log" && fail "the admin token reached the log"
ok "admin endpoint: bearer token required; a minted challenge works once"

# Rollover: prepare, GetNextCACert (signature checked with openssl), shadow certificate,
# switch, renewal under the new CA.
# The switch 15 s away: the steps before it (a key generated by a sanitized client, say) must
# fit on a slow machine.
"$SCEPD" rollover --dir "$CA" --switch-in 15 > rollover.txt || fail "scepd rollover"
kill -HUP "$SCEPD_PID"
offers_next() { "$SCEP" getcaps -u "$URL" 2> /dev/null | grep -q GetNextCACert; }
wait_until offers_next
"$SCEP" getcaps -u "$URL" | grep -q GetNextCACert || fail "GetNextCACert is not advertised after SIGHUP"
curl -fs -o next.p7 "$URL?operation=GetNextCACert" || fail "GetNextCACert over HTTP"
openssl cms -verify -inform DER -in next.p7 -certfile cadir/ca.pem -CAfile cadir/ca.pem -out next-inner.der -binary > /dev/null 2>&1 \
  || fail "openssl does not verify GetNextCACert's signature against the current CA"
openssl pkcs7 -inform DER -in next-inner.der -print_certs | openssl x509 -noout -fingerprint -sha256 > /dev/null \
  || fail "GetNextCACert holds no certificate"
"$SCEP" getnextca -u "$URL" --ca cadir -o nextdir > /dev/null || fail "scep getnextca"
# The saved bundle holds the next CA certificate, byte for byte (same PEM body).
grep -qF "$(sed -n '2,4p' "$CA/next-ca.pem")" nextdir/certs.pem || fail "getnextca saved another certificate"
"$SCEP" renew -u "$URL" --ca cadir --cert keep.pem --key keep.key --new-key shadow.key --out shadow.pem > /dev/null \
  || fail "renewal during the rollover"
SWITCH=$(openssl x509 -in "$CA/next-ca.pem" -noout -startdate | cut -d= -f2)
[ "$(openssl x509 -in shadow.pem -noout -startdate | cut -d= -f2)" = "$SWITCH" ] || fail "the shadow certificate is not valid from the switch"
openssl verify -CAfile "$CA/next-ca.pem" -attime $(( $(date -d "$SWITCH" +%s) + 60 )) shadow.pem > /dev/null \
  || fail "the shadow certificate is not issued by the next CA"
ok "rollover prepared: GetNextCACert signed by the current CA, shadow certificate from the next CA valid from the switch"
# Wait for the switch (the next CA's notBefore), then a little more.
while [ "$(date +%s)" -le "$(date -d "$SWITCH" +%s)" ]; do sleep 0.5; done
"$SCEP" getca -u "$URL" -o newca > /dev/null || fail "getca after the switch"
cmp -s <(openssl x509 -in newca/ca.pem -outform DER) <(openssl x509 -in "$CA/next-ca.pem" -outform DER) \
  || fail "after the switch GetCACert does not return the new CA"
"$SCEP" renew -u "$URL" --ca newca --cert shadow.pem --key shadow.key --new-key after.key --out after.pem > /dev/null \
  || fail "renewal after the switch"
openssl verify -CAfile newca/ca.pem after.pem > /dev/null || fail "the renewed certificate is not from the new CA"
"$SCEPD" certs --dir "$CA" | awk '$2 == "ca"' | wc -l | grep -q '^2$' || fail "both CA generations are not in scepd certs"
ok "switch: the new CA is current, renewal under it works, both generations listed"

# The previous generation still publishes its CRL: revoke one of its certificates.
OLDGEN=$(openssl x509 -in keep.pem -noout -serial | cut -d= -f2)
"$SCEPD" revoke --dir "$CA" "$OLDGEN" --reason superseded > /dev/null || fail "revoke an old-generation certificate"
"$SCEP" getcrl -u "$URL" --ca newca --cert shadow.pem --key shadow.key --out newgen.crl > /dev/null \
  || fail "GetCRL for the new generation"
openssl crl -in newgen.crl -noout -CAfile newca/ca.pem 2>&1 | grep -q "verify OK" || fail "new CRL not signed by the new CA"
curl -fs -o prev.crl "${URL%/scep}/crl/prev.crl" || fail "/crl/prev.crl"
openssl crl -inform DER -in prev.crl -noout -CAfile cadir/ca.pem 2>&1 | grep -q "verify OK" \
  || fail "the previous generation's CRL is not signed by the previous CA"
openssl crl -inform DER -in prev.crl -noout -text | grep -q "Serial Number: $OLDGEN" \
  || fail "the previous generation's CRL does not list its revoked certificate"
openssl crl -in newgen.crl -noout -text | grep -q "Serial Number: $OLDGEN" \
  && fail "the new CA's CRL lists a certificate the previous CA issued"
ok "after the switch the previous CA generation still publishes its own CRL (/crl/prev.crl)"

# crl_url with {ca}: each certificate's CDP names its own generation's CRL, before and after
# the switch; the URL serves that generation's CRL whichever generation is current.
cdp_of() { openssl x509 -in "$1" -noout -ext crlDistributionPoints | grep -o 'URI:[^ ]*' | cut -c5-; }
OLD_CDP=$(cdp_of minted.pem)
NEW_CDP=$(cdp_of after.pem)
KEYID=$(openssl x509 -in cadir/ca.pem -noout -pubkey | openssl pkey -pubin -outform DER | sha256sum | cut -c1-64 | tr a-f A-F)
[ "$OLD_CDP" = "http://127.0.0.1:$PORT_FIXED/crl/$KEYID.crl" ] \
  || fail "an old-generation certificate's CDP is not its CA's key id URL: $OLD_CDP"
grep -qx "CA key id (crl_url {ca}): $KEYID" "$CA.init.txt" || fail "scepd init does not print the CA's key id"
NEXT_KEYID=$(openssl x509 -in newca/ca.pem -noout -pubkey | openssl pkey -pubin -outform DER | sha256sum | cut -c1-64 | tr a-f A-F)
grep -qx "next CA key id (crl_url {ca}): $NEXT_KEYID" rollover.txt || fail "scepd rollover does not print the next CA's key id"
[ "$NEW_CDP" = "http://127.0.0.1:$PORT_FIXED/crl/$NEXT_KEYID.crl" ] || fail "the new generation's CDP is not its key id URL"
[ "$NEW_CDP" != "$OLD_CDP" ] && [ "$(cdp_of shadow.pem)" = "$NEW_CDP" ] \
  || fail "new-generation certificates do not share their own CDP: $NEW_CDP"
curl -fs -o oldgen.crl "$OLD_CDP" || fail "the old generation's CDP URL"
openssl crl -inform DER -in oldgen.crl -noout -CAfile cadir/ca.pem 2>&1 | grep -q "verify OK" \
  || fail "the old generation's CDP serves a CRL its CA did not sign"
openssl crl -inform DER -in oldgen.crl -noout -text | grep -q "Serial Number: $OLDGEN" \
  || fail "the old generation's CDP CRL does not list its revoked certificate"
curl -fs -o newgen-cdp.crl "$NEW_CDP" || fail "the new generation's CDP URL"
openssl crl -inform DER -in newgen-cdp.crl -noout -CAfile newca/ca.pem 2>&1 | grep -q "verify OK" \
  || fail "the new generation's CDP serves a CRL its CA did not sign"
openssl verify -crl_check -CAfile cadir/ca.pem -CRLfile <(openssl crl -inform DER -in oldgen.crl) minted.pem > /dev/null \
  || fail "openssl refuses a valid old-generation certificate with its CDP's CRL"
LOWER=$(echo "$OLD_CDP" | tr A-F a-f)
curl -fs -o /dev/null "$LOWER" || fail "a lower-case key id is refused"
[ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT_FIXED/crl/$(printf 'AB%.0s' $(seq 32)).crl")" = 404 ] \
  || fail "an unknown key id is not a 404"
grep -q "crl_url has no {ca}" "$WORK/scepd.log" rollover.txt && fail "a crl_url with {ca} was warned about"
ok "crl_url with {ca}: every certificate's CDP serves its own generation's CRL across the switch"

# A fixed crl_url would point the current CA's certificates at the next CA's CRL after the
# switch: preparing a rollover, and serving with one prepared, say so.
FIXED=$WORK/fixed
"$SCEPD" init --dir "$FIXED" --subject "CN=Fixed CDP CA" > /dev/null || fail "init fixed-CDP CA"
echo "crl_url = http://127.0.0.1:$PORT_FIXED/crl/ca.crl" >> "$FIXED/scepd.conf"
"$SCEPD" rollover --dir "$FIXED" --switch-in 3600 > /dev/null 2> fixed-rollover.err || fail "rollover of the fixed-CDP CA"
grep -q "crl_url has no {ca}" fixed-rollover.err || fail "scepd rollover does not warn about a fixed crl_url"
start_scepd "$FIXED" --challenge s3cret
grep -q "crl_url has no {ca}" "$WORK/scepd.log" || fail "scepd serve does not warn about a fixed crl_url with a next CA prepared"
ok "a fixed crl_url is warned about by scepd rollover and by the server while a next CA waits"

# auto_rollover_days: a CA ending within that many days gets its successor prepared by itself,
# switching at its expiry.
SHORT=$WORK/short
"$SCEPD" init --dir "$SHORT" --subject "CN=Short CA" --days 3 > /dev/null || fail "init short CA"
start_scepd "$SHORT" --challenge s3cret --set auto_rollover_days=5
wait_for "auto rollover prepared nothing" test -f "$SHORT/next-ca.pem"
[ "$(openssl x509 -in "$SHORT/next-ca.pem" -noout -startdate | cut -d= -f2)" = \
  "$(openssl x509 -in "$SHORT/ca.pem" -noout -enddate | cut -d= -f2)" ] || fail "auto rollover does not switch at expiry"
# The rollover is followed by a reload, which advertises the next CA once it has taken over.
wait_until offers_next || fail "the prepared next CA is not advertised"
ok "auto_rollover_days prepares the next CA, switching at the current one's expiry"
finish
