#!/usr/bin/env bash
# The CA's and RA's lifetime: a CA that is expired or not yet valid is refused at import and
# issues nothing (signed FAILURE, an error in the log, /readyz 503); an imported chain is kept
# and served; encrypted CA keys are read with a passphrase file; --ra-days and scepd ra-renew.
# Checked with openssl; certificates with chosen dates are made with `openssl ca` (dated_cert).
source "$(dirname "$0")/../interop/lib.sh"
SCEP=${SCEP:-$ROOT/build/scep}
cd "$WORK"

stamp() { date -u -d "$1" +%Y%m%d%H%M%SZ; }

openssl rand -hex 24 > token
chmod 600 token
APORT=$(free_port)
ADMIN=(--set "admin_listen=127.0.0.1:$APORT" --set "admin_token_file=$WORK/token")
# readyz: the status of GET /readyz; its body in ready.txt.
readyz() { curl -s -o ready.txt -w '%{http_code}' "http://127.0.0.1:$APORT/readyz"; }
enroll() { # enroll NAME CADIR: a new certificate with the challenge "pw"
  "$SCEP" enroll -u "$URL" --ca "$2" --key "$1.key" --out "$1.pem" --subject "CN=$1" --challenge pw \
    > "$1.out" 2>&1
}

# 1. Import: an expired or not yet valid CA is refused, one that ends soon is taken with a warning.
dated_cert old "/CN=Old CA" 20200101000000Z 20210101000000Z ca
if "$SCEPD" init --dir old --import-ca old.pem old.key > old.txt 2>&1; then
  fail "init imported a CA that expired in 2021"
fi
grep -q "cannot import old.pem: the CA certificate expired at 2021-01-01T00:00:00Z" old.txt \
  || fail "unclear refusal of an expired CA: $(cat old.txt)"
[ -e old ] && fail "a refused import left its directory behind"
dated_cert later "/CN=Later CA" "$(stamp '+1 day')" "$(stamp '+400 days')" ca
if "$SCEPD" init --dir later --import-ca later.pem later.key > later.txt 2>&1; then
  fail "init imported a CA that is not valid yet"
fi
grep -q "the CA certificate is not valid before" later.txt || fail "unclear refusal: $(cat later.txt)"
dated_cert soon "/CN=Soon CA" "$(stamp '-1 day')" "$(stamp '+100 days')" ca
"$SCEPD" init --dir soon --import-ca soon.pem soon.key > soon.txt 2>&1 || fail "init --import-ca soon: $(cat soon.txt)"
grep -q "warning: the CA certificate expires at .*within the default certificate validity (365 days)" soon.txt \
  || fail "no warning for a CA that ends within the default validity: $(cat soon.txt)"
ok "init --import-ca refuses an expired and a not yet valid CA, warns about one that ends within 365 days"

# 2. A CA that expired while in service: nothing issued, a signed FAILURE that says why, an error
# in the log at start and for each refused request, and /readyz 503.
new_ca lapsed
rm -f lapsed/ca.pem lapsed/ca.key
cp old.pem lapsed/ca.pem
cp old.key lapsed/ca.key
start_scepd lapsed --challenge pw "${ADMIN[@]}"
log_has "scepd: error: the CA certificate expired at 2021-01-01T00:00:00Z"
"$SCEP" getca -u "$URL" -o lapsed-ca > /dev/null || fail "getca from an expired CA"
if enroll l1 lapsed-ca; then fail "an expired CA issued a certificate: $(openssl x509 -in l1.pem -noout -dates)"; fi
grep -q "failInfo badRequest: the CA certificate expired at 2021-01-01T00:00:00Z" l1.out \
  || fail "the client did not get a FAILURE saying why: $(cat l1.out)"
log_has "scepd: error: refused to issue (transaction [0-9A-F]*): the CA certificate expired at 2021"
"$SCEPD" certs --dir lapsed > certs.txt || fail "scepd certs"
grep -q "CN=l1" certs.txt && fail "the store holds a certificate from an expired CA"
[ "$(readyz)" = 503 ] || fail "/readyz answered $(cat ready.txt) for an expired CA"
head -1 ready.txt | grep -qx "not ready" || fail "/readyz body: $(cat ready.txt)"
grep -q "^error: the CA certificate expired at 2021-01-01T00:00:00Z$" ready.txt || fail "/readyz body: $(cat ready.txt)"
ok "an expired CA answers FAILURE badRequest with the reason, logs an error, issues nothing, /readyz 503"

# 3. An expired RA: not ready and no issuance; scepd ra-renew and SIGHUP make it ready again.
new_ca raexp --ra
start_scepd raexp --approve manual
"$SCEP" getca -u "$URL" -o raexp-ca0 > /dev/null || fail "getca"
rc=0
"$SCEP" enroll -u "$URL" --ca raexp-ca0 --key p1.key --out p1.pem --subject CN=p1 --poll-interval 1 \
  --max-poll-time 1 > p1.out 2>&1 || rc=$?
[ $rc = 5 ] || fail "a manual-approval enrollment did not stay pending: $(cat p1.out)"
stop_scepd
dated_cert raexp-old-ra "/CN=Interop CA RA" "$(stamp '-3 days')" "$(stamp '-1 day')" ra raexp/ca
rm -f raexp/ra.pem raexp/ra.key
cp raexp-old-ra.pem raexp/ra.pem
cp raexp-old-ra.key raexp/ra.key
start_scepd raexp --challenge pw "${ADMIN[@]}"
log_has "scepd: error: the RA certificate expired at"
[ "$(readyz)" = 503 ] && grep -q "^error: the RA certificate expired at" ready.txt \
  || fail "/readyz with an expired RA: $(cat ready.txt)"
"$SCEP" getca -u "$URL" -o raexp-ca > /dev/null || fail "getca with an expired RA"
if enroll r1 raexp-ca; then fail "an expired RA signed a SUCCESS"; fi
log_has "refused to issue (transaction [0-9A-F]*): the RA certificate expired at"
if "$SCEPD" approve --dir raexp --all > approve.txt 2>&1; then fail "approve issued under an expired RA"; fi
grep -q "the RA certificate expired at" approve.txt || fail "unclear approve refusal: $(cat approve.txt)"
"$SCEPD" ra-renew --dir raexp > renew.txt 2>&1 || fail "scepd ra-renew: $(cat renew.txt)"
grep -q "send SIGHUP" renew.txt || fail "ra-renew does not say how to serve the new RA: $(cat renew.txt)"
cmp -s raexp/prev-ra.pem raexp-old-ra.pem || fail "the previous RA is not kept in prev-ra.pem"
kill -HUP "$SCEPD_PID"
wait_until eval '[ "$(readyz)" = 200 ]' || true
[ "$(readyz)" = 200 ] || fail "/readyz after ra-renew and SIGHUP: $(cat ready.txt)"
"$SCEP" getca -u "$URL" -o raexp-ca2 > /dev/null || fail "getca after ra-renew"
enroll r2 raexp-ca2 || fail "enrollment after ra-renew: $(cat r2.out)"
"$SCEPD" approve --dir raexp --all > approve2.txt 2>&1 || fail "approve after ra-renew: $(cat approve2.txt)"
check_issued r2.pem r2.key raexp/ca.pem r2
ok "an expired RA: /readyz 503, nothing issued, approve refused; after ra-renew and SIGHUP ready and issuing"

# 4. An imported chain with an encrypted key.
dated_cert root "/CN=Test Root CA" "$(stamp '-1 day')" "$(stamp '+3000 days')" ca
dated_cert issuing "/CN=Test Issuing CA" "$(stamp '-1 day')" "$(stamp '+2000 days')" ca root
dated_cert stray "/CN=Stray CA" "$(stamp '-1 day')" "$(stamp '+2000 days')" ca
cat issuing.pem root.pem > chain.pem
cat issuing.pem stray.pem > broken.pem
printf 'correct horse battery\n' > pass
printf 'wrong horse\n' > wrong-pass
chmod 600 pass wrong-pass
openssl pkcs8 -topk8 -v2 aes-256-cbc -in issuing.key -passout file:pass -out issuing.enc.key
expect_refusal() { # expect_refusal TEXT INIT-ARGS...: init fails and says TEXT
  local text=$1; shift
  if "$SCEPD" init --dir refused "$@" > refusal.txt 2>&1; then fail "init $* succeeded"; fi
  grep -q -- "$text" refusal.txt || fail "init $*: expected '$text', got: $(cat refusal.txt)"
}
expect_refusal "issuing.enc.key: the key is encrypted" --import-ca chain.pem issuing.enc.key
expect_refusal "issuing.enc.key: wrong passphrase" --import-ca chain.pem issuing.enc.key --key-pass-file wrong-pass
chmod 640 pass
expect_refusal "passphrase file pass: readable by group or others" --import-ca chain.pem issuing.enc.key --key-pass-file pass
chmod 600 pass
expect_refusal "the CA chain is broken: certificate 2 (CN=Stray CA)" --import-ca broken.pem issuing.key
ok "init --import-ca names the file and the reason: encrypted key, wrong passphrase, open pass file, broken chain"

"$SCEPD" init --dir chained --import-ca chain.pem issuing.enc.key --key-pass-file pass --ra > chained.txt 2>&1 \
  || fail "init --import-ca with a chain and an encrypted key: $(cat chained.txt)"
[ "$(grep -c BEGIN chained/ca.pem)" = 1 ] || fail "ca.pem holds more than the CA"
cmp -s chained/chain.pem root.pem || fail "chain.pem does not hold the certificate above the CA"
head -1 chained/ca.key | grep -q "BEGIN ENCRYPTED PRIVATE KEY" || fail "the imported key was written unencrypted"
[ "$(stat -c %a chained/ca.key)" = 600 ] || fail "ca.key is not 0600"
grep -qx "ca_key_pass_file = $WORK/pass" chained/scepd.conf || fail "scepd.conf does not name the pass file"
grep -qx "ca_chain = chain.pem" chained/scepd.conf || fail "scepd.conf does not name the chain"
start_scepd chained --challenge pw
curl -fs -o gca.der "$URL?operation=GetCACert" || fail "GetCACert"
openssl pkcs7 -inform DER -in gca.der -print_certs -noout | grep '^subject' > gca.txt
[ "$(sed -n 1p gca.txt)" = "subject=CN = Test Issuing CA RA" ] && [ "$(grep -c . gca.txt)" = 3 ] \
  || fail "GetCACert in RA mode: $(cat gca.txt)"
grep -q "CN = Test Issuing CA" gca.txt && grep -q "CN = Test Root CA" gca.txt \
  || fail "GetCACert lacks the chain: $(cat gca.txt)"
curl -fs -o chain.der "$URL?operation=GetCACertChain" || fail "GetCACertChain"
[ "$(openssl pkcs7 -inform DER -in chain.der -print_certs -noout | grep -c '^subject')" = 2 ] \
  || fail "GetCACertChain does not hold the CA and the root"
"$SCEP" getca -u "$URL" -o chained-ca > /dev/null || fail "getca from the chained CA"
enroll c1 chained-ca || fail "enrollment under the chained CA: $(cat c1.out)"
openssl verify -CAfile root.pem -untrusted issuing.pem c1.pem > /dev/null 2>&1 \
  || fail "the certificate does not verify up to the root"
stop_scepd
if "$SCEPD" serve --dir chained --listen "127.0.0.1:$(free_port)" --set "ca_key_pass_file=$WORK/wrong-pass" \
  > wrong-serve.txt 2>&1; then
  fail "serve started with a wrong passphrase"
fi
grep -q "ca.key: wrong passphrase" wrong-serve.txt || fail "serve with a wrong passphrase: $(cat wrong-serve.txt)"
if "$SCEPD" rollover --dir chained > roll.txt 2>&1; then fail "rollover made a self-signed successor of an intermediate"; fi
grep -q "imported intermediate" roll.txt || fail "rollover refusal: $(cat roll.txt)"
ok "an imported chain is kept (chain.pem) and served by GetCACert and GetCACertChain; the encrypted key is read with ca_key_pass_file"

"$SCEPD" init --dir chained-ca-mode --import-ca chain.pem issuing.key > /dev/null 2>&1 || fail "init CA mode with a chain"
start_scepd chained-ca-mode --challenge pw
[ "$(curl -fs -o gca2.der -w '%{content_type}' "$URL?operation=GetCACert")" = application/x-x509-ca-ra-cert ] \
  || fail "GetCACert of a CA with a chain is not a certs-only message"
openssl pkcs7 -inform DER -in gca2.der -print_certs -noout | grep '^subject' > gca2.txt
[ "$(cat gca2.txt)" = "subject=CN = Test Issuing CA
subject=CN = Test Root CA" ] || fail "GetCACert in CA mode: $(cat gca2.txt)"
# The client must encrypt to the issuing CA, not to the root it is sent with (RFC 8894 2.2).
"$SCEP" getca -u "$URL" -o chained-ca-mode-certs > getca2.txt || fail "getca from the CA-mode chain"
grep -q "CA (issuing CA" getca2.txt || fail "getca does not name the issuing CA: $(cat getca2.txt)"
enroll c2 chained-ca-mode-certs || fail "CA-mode enrollment under the chained CA: $(cat c2.out)"
openssl verify -CAfile root.pem -untrusted issuing.pem c2.pem > /dev/null 2>&1 \
  || fail "the CA-mode certificate does not verify up to the root"
ok "GetCACert in CA mode sends the CA then the chain above it; the client enrolls through it"

# 5. A generated CA with an encrypted key; the RA's validity, its 30-day warning, ra-renew.
"$SCEPD" init --dir gen --subject "CN=Gen CA" --ra --ra-days 20 --key-pass-file pass > gen.txt 2>&1 \
  || fail "init --key-pass-file --ra-days: $(cat gen.txt)"
head -1 gen/ca.key | grep -q "BEGIN ENCRYPTED PRIVATE KEY" || fail "the new CA key was written unencrypted"
openssl x509 -in gen/ra.pem -noout -checkend $((19 * 86400)) > /dev/null || fail "--ra-days 20: the RA ends too soon"
if openssl x509 -in gen/ra.pem -noout -checkend $((21 * 86400)) > /dev/null; then fail "--ra-days 20: the RA lasts longer"; fi
start_scepd gen --challenge pw "${ADMIN[@]}"
log_has "scepd: warning: the RA certificate expires at .*renew it with scepd ra-renew"
[ "$(readyz)" = 200 ] || fail "/readyz with an RA valid for 20 days: $(cat ready.txt)"
grep -q "^warning: the RA certificate expires at" ready.txt || fail "/readyz has no RA warning: $(cat ready.txt)"
"$SCEP" getca -u "$URL" -o gen-ca > /dev/null || fail "getca"
enroll g1 gen-ca || fail "enroll: $(cat g1.out)"
OLD_RA=$(openssl x509 -in gen/ra.pem -noout -fingerprint -sha256)
"$SCEPD" ra-renew --dir gen --days 400 > renew2.txt 2>&1 || fail "ra-renew: $(cat renew2.txt)"
NEW_RA=$(openssl x509 -in gen/ra.pem -noout -fingerprint -sha256)
[ "$OLD_RA" != "$NEW_RA" ] || fail "ra-renew kept the RA certificate"
[ "$(openssl x509 -in gen/prev-ra.pem -noout -fingerprint -sha256)" = "$OLD_RA" ] || fail "prev-ra.pem is not the old RA"
[ "$(openssl pkey -in gen/ra.key -pubout | openssl sha256)" = "$(openssl x509 -in gen/ra.pem -noout -pubkey | openssl sha256)" ] \
  || fail "the new RA key does not match the new RA certificate"
[ "$(openssl pkey -in gen/ra.key -pubout | openssl sha256)" != "$(openssl pkey -in gen/prev-ra.key -pubout | openssl sha256)" ] \
  || fail "ra-renew kept the RA key"
openssl x509 -in gen/ra.pem -noout -checkend $((399 * 86400)) > /dev/null || fail "ra-renew --days 400 ends too soon"
served_ra() {
  curl -fs "$URL?operation=GetCACert" | openssl pkcs7 -inform DER -print_certs 2> /dev/null \
    | openssl x509 -noout -fingerprint -sha256
}
[ "$(served_ra)" = "$OLD_RA" ] || fail "the new RA was served before SIGHUP"
kill -HUP "$SCEPD_PID"
wait_until eval '[ "$(served_ra)" = "$NEW_RA" ]' || true
[ "$(served_ra)" = "$NEW_RA" ] || fail "the new RA is not served after SIGHUP"
[ "$(readyz)" = 200 ] || fail "/readyz after ra-renew: $(cat ready.txt)"
grep -q "warning" ready.txt && fail "/readyz still warns after ra-renew: $(cat ready.txt)"
enroll g2 gen-ca || fail "a client that still holds the old RA cannot enroll: $(cat g2.out)"
"$SCEP" getca -u "$URL" -o gen-ca2 > /dev/null || fail "getca after ra-renew"
enroll g3 gen-ca2 || fail "enroll with the new RA: $(cat g3.out)"
check_issued g3.pem g3.key gen/ca.pem g3
"$SCEPD" rollover --dir gen > gen-roll.txt 2>&1 || fail "rollover of a CA with an encrypted key: $(cat gen-roll.txt)"
head -1 gen/next-ca.key | grep -q "BEGIN ENCRYPTED PRIVATE KEY" || fail "rollover wrote the next CA key unencrypted"
if "$SCEPD" ra-renew --dir soon > ca-mode.txt 2>&1; then fail "ra-renew in CA mode succeeded"; fi
grep -q "no RA to renew" ca-mode.txt || fail "ra-renew in CA mode: $(cat ca-mode.txt)"
ok "--ra-days sets the RA's life; /readyz and the log warn within 30 days; ra-renew serves a new RA after SIGHUP, the old one still decrypts"

finish
