#!/usr/bin/env bash
# A CA per profile (docs/profiles.md, ca_dir): the default profile issues from the server's CA
# (CA mode), the profile iot from a second CA directory (RA mode). Our client and strongSwan's
# pki at /scep/iot get certificates of the second CA only; GetCACert there answers with its RA
# and CA; GetCert and CertPoll there find its certificates; a revocation lands in the second
# CA's CRL only; /crl/KEYID.crl serves each CA's; `scepd profiles` shows each profile's CA; a
# missing or broken ca_dir refuses start naming the profile; SIGHUP takes a changed ca_dir;
# auto_rollover_days prepares a profile CA's next generation.
source "$(dirname "$0")/../interop/lib.sh"
SCEP=${SCEP:-$ROOT/build/scep}
cd "$WORK"
CA=$WORK/ca
IOT=$WORK/iot
OTHER=$WORK/other
new_ca "$CA"
"$SCEPD" init --dir "$IOT" --subject "CN=IoT CA,O=scep tests" --ra > iot.init.txt \
  || fail "scepd init of the iot CA"
"$SCEPD" init --dir "$OTHER" --subject "CN=Other IoT CA,O=scep tests" > other.init.txt \
  || fail "scepd init of the third CA"
CONF=$CA/scepd.conf
ADMIN_PORT=$(free_port)
cat >> "$CONF" <<CONF
challenge = default-secret
crl_url = http://127.0.0.1/crl/{ca}.crl
admin_listen = 127.0.0.1:$ADMIN_PORT

[profile iot]
ca_dir = $IOT
challenge = iot-secret

[profile iotm]
ca_dir = ../iot
challenge = none
approve = manual
CONF
cp "$CONF" pca.conf

# not_verifies CERT CA: the certificate must not verify against that CA alone.
not_verifies() {
  openssl verify -CAfile "$2" "$1" > /dev/null 2>&1 && fail "$1 verifies against $2" || true
}

"$SCEPD" profiles --dir "$CA" > profiles.txt 2> profiles.err || fail "scepd profiles: $(cat profiles.err)"
sed -n '/^default/,/^iot$/p' profiles.txt | grep -q "CA: *CN=Interop CA" \
  || fail "scepd profiles: the default's CA: $(cat profiles.txt)"
sed -n '/^iot$/,/^iotm$/p' profiles.txt | grep -q "CA: *CN=IoT CA" \
  || fail "scepd profiles: iot's CA: $(cat profiles.txt)"
sed -n '/^iot$/,/^iotm$/p' profiles.txt | grep -q "ca_dir: *$IOT" \
  || fail "scepd profiles: iot's ca_dir: $(cat profiles.txt)"
ok "scepd profiles shows each profile's CA subject and ca_dir"

start_scepd "$CA"
BASE="http://127.0.0.1:$PORT"

# GetCACert at /scep/iot: the iot RA and CA (RA mode), not the server's.
curl -fs -o iot-ca.der "$BASE/scep/iot?operation=GetCACert" || fail "GetCACert at /scep/iot"
subjects=$(openssl pkcs7 -inform DER -in iot-ca.der -print_certs -noout | grep '^subject')
grep -q "CN = IoT CA RA$" <<< "$subjects" && grep -q "CN = IoT CA$" <<< "$subjects" \
  || fail "GetCACert at /scep/iot is not iot's RA and CA: $subjects"
grep -q "Interop" <<< "$subjects" && fail "GetCACert at /scep/iot holds the server's CA"
curl -fs -o def-ca.der "$BASE/scep?operation=GetCACert" || fail "GetCACert at /scep"
openssl x509 -inform DER -in def-ca.der -noout -subject | grep -q "Interop CA" \
  || fail "GetCACert at /scep is not the server's CA"
curl -fs -o named.der "$BASE/scep?operation=GetCACert&message=iot" || fail "GetCACert message=iot"
cmp -s named.der iot-ca.der || fail "GetCACert message=iot is not iot's CA"
ok "GetCACert: /scep/iot and message=iot answer with iot's RA and CA, /scep with the server's"

"$SCEP" getca -u "$BASE/scep/iot" -o iotdir > /dev/null || fail "getca /scep/iot"
"$SCEP" getca -u "$BASE/scep" -o defdir > /dev/null || fail "getca /scep"
run_scep 0 "enroll at /scep/iot" enroll -u "$BASE/scep/iot" --ca iotdir --key i1.key \
  --out i1.pem --subject "CN=sensor-1" --challenge iot-secret
check_issued i1.pem i1.key "$IOT/ca.pem" sensor-1
not_verifies i1.pem "$CA/ca.pem"
run_scep 0 "enroll at /scep" enroll -u "$BASE/scep" --ca defdir --key d1.key --out d1.pem \
  --subject "CN=desk-1" --challenge default-secret
check_issued d1.pem d1.key "$CA/ca.pem" desk-1
not_verifies d1.pem "$IOT/ca.pem"
run_scep 4 "the default's challenge at /scep/iot" enroll -u "$BASE/scep/iot" --ca iotdir \
  --key i0.key --out i0.pem --subject "CN=sensor-0" --challenge default-secret
ok "scep enroll at /scep/iot: issued by the iot CA only; at /scep by the server's only"

if command -v pki > /dev/null; then
  pki --scepca --url "$BASE/scep/iot/pkiclient.exe" --caout ss-ca.pem --raout ss-ra.pem \
    --outform pem > scepca.txt 2>&1 || fail "pki --scepca: $(tail -n 3 scepca.txt)"
  pki --gen --type rsa --size 2048 --outform pem > ss.key 2> /dev/null
  timeout 60 pki --scep --url "$BASE/scep/iot/pkiclient.exe" --in ss.key --dn "CN=sensor-ss" \
    --password iot-secret --cacert-enc ss-ra.pem --cacert-sig ss-ra.pem --cacert ss-ca.pem \
    --outform pem > ss.pem 2> ss.err || fail "pki --scep at /scep/iot: $(grep -v -i tpm ss.err | tail -n 3)"
  check_issued ss.pem ss.key "$IOT/ca.pem" sensor-ss
  not_verifies ss.pem "$CA/ca.pem"
  ok "strongSwan pki at /scep/iot/pkiclient.exe gets a certificate of the iot CA"
fi

# GetCert at /scep/iot finds iot's certificates, not the server CA's.
serial=$(openssl x509 -in i1.pem -noout -serial | cut -d= -f2)
run_scep 0 "getcert at /scep/iot" getcert -u "$BASE/scep/iot" --ca iotdir --cert i1.pem \
  --key i1.key --serial "$serial" --out got.pem
cmp -s <(openssl x509 -in got.pem -outform DER) <(openssl x509 -in i1.pem -outform DER) \
  || fail "getcert at /scep/iot returned another certificate"
dserial=$(openssl x509 -in d1.pem -noout -serial | cut -d= -f2)
run_scep 4 "getcert at /scep/iot of the server CA's certificate" getcert -u "$BASE/scep/iot" \
  --ca iotdir --cert i1.pem --key i1.key --serial "$dserial" --out got2.pem
ok "GetCert at /scep/iot: iot's certificate; the server CA's serial there is a FAILURE"

# CertPoll at /scep/iotm (the same ca_dir, manual approval): approved as iotm, by iot's CA.
run_scep 5 "iotm waits for approval" enroll -u "$BASE/scep/iotm" --ca iotdir --key m1.key \
  --out m1.pem --subject "CN=meter-1" --poll-interval 1 --max-poll-time 1
id=$("$SCEPD" pending --dir "$CA" | awk '/CN=meter-1/ {print $1}')
[ -n "$id" ] || fail "iotm's request is not pending: $("$SCEPD" pending --dir "$CA")"
"$SCEPD" approve --dir "$CA" "$id" > approve.txt 2>&1 || fail "approve $id: $(cat approve.txt)"
run_scep 0 "iotm's poll after approval" enroll -u "$BASE/scep/iotm" --ca iotdir --key m1.key \
  --out m1.pem --subject "CN=meter-1" --poll-interval 1 --max-poll-time 30
check_issued m1.pem m1.key "$IOT/ca.pem" meter-1
not_verifies m1.pem "$CA/ca.pem"
ok "CertPoll at /scep/iotm after scepd approve: a certificate of the iot CA (one CA, two profiles)"

# Revocation: iot's certificate lands in iot's CRL only, the server's in the server's.
"$SCEPD" revoke --dir "$CA" "$serial" --reason keyCompromise > revoke.txt 2>&1 \
  || fail "scepd revoke $serial: $(cat revoke.txt)"
"$SCEPD" revoke --dir "$CA" "$dserial" > revoke2.txt 2>&1 || fail "scepd revoke $dserial: $(cat revoke2.txt)"
keyid() { openssl x509 -in "$1" -noout -pubkey | openssl pkey -pubin -outform DER | sha256sum | cut -c1-64 | tr a-f A-F; }
IOT_ID=$(keyid "$IOT/ca.pem")
CA_ID=$(keyid "$CA/ca.pem")
crl_of() { # crl_of KEYID CA_PEM OUT: /crl/KEYID.crl, verified against CA_PEM
  curl -fs -o "$3.der" "$BASE/crl/$1.crl" || fail "GET /crl/$1.crl"
  openssl crl -inform DER -in "$3.der" -CAfile "$2" -noout > "$3.verify" 2>&1 \
    && grep -q "verify OK" "$3.verify" || fail "/crl/$1.crl does not verify against $2"
  openssl crl -inform DER -in "$3.der" -noout -text > "$3.txt"
}
crl_of "$IOT_ID" "$IOT/ca.pem" iotcrl
crl_of "$CA_ID" "$CA/ca.pem" defcrl
grep -q "Serial Number: $serial" iotcrl.txt || fail "iot's CRL does not list $serial: $(cat iotcrl.txt)"
grep -q "Serial Number: $dserial" iotcrl.txt && fail "iot's CRL lists the server CA's $dserial"
grep -q "Serial Number: $dserial" defcrl.txt || fail "the server's CRL does not list $dserial"
grep -q "Serial Number: $serial" defcrl.txt && fail "the server's CRL lists iot's $serial"
openssl x509 -in i1.pem -noout -ext crlDistributionPoints | grep -q "/crl/$IOT_ID.crl" \
  || fail "iot's certificate does not point at iot's CRL"
run_scep 0 "getcrl at /scep/iot" getcrl -u "$BASE/scep/iot" --ca iotdir --cert m1.pem \
  --key m1.key --out getcrl.pem
openssl crl -in getcrl.pem -noout -text | grep -q "Serial Number: $serial" \
  || fail "GetCRL at /scep/iot is not iot's CRL"
ok "revocations land in the issuing CA's CRL only (/crl/KEYID.crl, GetCRL at /scep/iot)"

# The admin API's revoke of an iot certificate reissues iot's CRL.
OP=$("$SCEPD" token add --dir "$CA" op --role operate | tail -n 1) || fail "token add"
mserial=$(openssl x509 -in m1.pem -noout -serial | cut -d= -f2)
code=$(curl -s -o api-revoke.json -w '%{http_code}' -X POST -H "Authorization: Bearer $OP" \
  -d '{"reason":"superseded"}' "http://127.0.0.1:$ADMIN_PORT/api/v1/certificates/$mserial/revoke")
[ "$code" = 200 ] && ! grep -q crl_error api-revoke.json \
  || fail "API revoke of iot's $mserial: $code $(cat api-revoke.json)"
crl_of "$IOT_ID" "$IOT/ca.pem" iotcrl2
grep -q "Serial Number: $mserial" iotcrl2.txt || fail "iot's CRL does not list $mserial after the API's revoke"
crl_of "$CA_ID" "$CA/ca.pem" defcrl2
grep -q "Serial Number: $mserial" defcrl2.txt && fail "the server's CRL lists iot's $mserial"
ok "the admin API's revoke of an iot certificate lands in iot's CRL"

status=$(curl -s -o ready.txt -w '%{http_code}' "http://127.0.0.1:$ADMIN_PORT/readyz")
[ "$status" = 200 ] || fail "/readyz: $status $(cat ready.txt)"
ok "/readyz: ready with both CAs valid"

# /api/v1/ca: the server's CA as before, and one entry per profile CA (iot and iotm share one).
curl -fs -H "Authorization: Bearer $OP" -o api-ca.json "http://127.0.0.1:$ADMIN_PORT/api/v1/ca" \
  || fail "GET /api/v1/ca"
js() { python3 -c 'import json,sys; d=json.load(open("api-ca.json")); print(eval(sys.argv[1]))' "$1"; }
[ "$(js 'd["mode"], "Interop CA" in d["generations"][0]["subject"], len(d["profiles"])')" \
  = "('ca', True, 1)" ] || fail "/api/v1/ca: the server's CA or the profile list: $(cat api-ca.json)"
[ "$(js '[(p["profile"], p["ca_dir"], p["mode"], p["generations"][0]["role"],
  p["generations"][0]["key_id"].upper(), "IoT CA RA" in p["ra"]["subject"]) for p in d["profiles"]][0]')" \
  = "('iot', '$IOT', 'ra', 'current', '$IOT_ID', True)" ] \
  || fail "/api/v1/ca: iot's CA: $(cat api-ca.json)"
ok "/api/v1/ca: the server's CA as before, and iot's CA under profiles (ca_dir, mode, generations)"

# /metrics: the expiry gauges of iot's CA and RA, labelled ca="iot"; promtool accepts it.
curl -fs -o metrics.txt "http://127.0.0.1:$ADMIN_PORT/metrics" || fail "GET /metrics"
promtool check metrics < metrics.txt > promtool.out 2>&1 || fail "promtool: $(cat promtool.out)"
gauge() { awk -v s="$1" '$1 == s {print $2}' metrics.txt; }
iot_end=$(date -d "$(openssl x509 -in "$IOT/ca.pem" -noout -enddate | cut -d= -f2)" +%s)
have=$(gauge 'scepd_certificate_expiry_seconds{certificate="ca",ca="iot"}')
[ -n "$have" ] && [ $((iot_end - $(date +%s) - have)) -le 5 ] && [ $((iot_end - $(date +%s) - have)) -ge -5 ] \
  || fail "iot's CA expiry gauge '$have', openssl says $((iot_end - $(date +%s))) s: $(grep expiry metrics.txt)"
[ -n "$(gauge 'scepd_certificate_expiry_seconds{certificate="ra",ca="iot"}')" ] \
  || fail "no RA expiry gauge for iot: $(grep expiry metrics.txt)"
[ -n "$(gauge 'scepd_certificate_expiry_seconds{certificate="ca"}')" ] \
  || fail "the server's CA expiry gauge changed: $(grep expiry metrics.txt)"
ok "/metrics: seconds until iot's CA and RA expire, labelled ca=\"iot\"; promtool check metrics passes"

# A rollover of iot's CA (scepd rollover --dir of that directory), taken at SIGHUP.
"$SCEPD" rollover --dir "$IOT" > rollover.txt 2>&1 || fail "scepd rollover --dir iot: $(cat rollover.txt)"
reload_scepd
curl -fs "$BASE/scep/iot?operation=GetCACaps" | grep -q GetNextCACert \
  || fail "GetCACaps at /scep/iot does not offer GetNextCACert after iot's rollover"
curl -fs "$BASE/scep?operation=GetCACaps" | grep -q GetNextCACert \
  && fail "the server's GetCACaps offers GetNextCACert after iot's rollover"
run_scep 0 "getnextca at /scep/iot" getnextca -u "$BASE/scep/iot" --ca iotdir -o nextdir
tr -d '\n' < nextdir/certs.pem | grep -qF "$(grep -v -- ----- "$IOT/next-ca.pem" | tr -d '\n')" \
  || fail "GetNextCACert at /scep/iot is not iot's next CA"
ok "scepd rollover --dir of iot's CA: /scep/iot offers and serves its next CA after SIGHUP, /scep not"

# SIGHUP with iot's ca_dir changed to a third CA.
sed -i "s|^ca_dir = $IOT\$|ca_dir = $OTHER|" "$CONF"
reload_scepd
curl -fs -o other-ca.der "$BASE/scep/iot?operation=GetCACert" || fail "GetCACert after SIGHUP"
openssl x509 -inform DER -in other-ca.der -noout -subject | grep -q "Other IoT CA" \
  || fail "after SIGHUP /scep/iot does not answer with the new ca_dir's CA"
"$SCEP" getca -u "$BASE/scep/iot" -o otherdir > /dev/null || fail "getca /scep/iot after SIGHUP"
run_scep 0 "enroll at /scep/iot after SIGHUP" enroll -u "$BASE/scep/iot" --ca otherdir \
  --key o1.key --out o1.pem --subject "CN=sensor-2" --challenge iot-secret
check_issued o1.pem o1.key "$OTHER/ca.pem" sensor-2
not_verifies o1.pem "$IOT/ca.pem"
ok "SIGHUP: a changed ca_dir serves the new CA at once"

# A reload with a missing ca_dir keeps the old configuration serving.
sed -i "s|^ca_dir = $OTHER\$|ca_dir = $WORK/nosuch|" "$CONF"
reload_scepd
log_has "\[profile iot\]: ca_dir $WORK/nosuch: No such file or directory"
curl -fs -o still.der "$BASE/scep/iot?operation=GetCACert" && cmp -s still.der other-ca.der \
  || fail "a reload with a missing ca_dir did not keep the old CA serving"
ok "SIGHUP with a missing ca_dir: refused in the log, the old CAs keep serving"
stop_scepd

# Start refuses a bad ca_dir, naming the profile and the file.
refused() { # refused PATTERN: scepd serve must exit non-zero with it
  PORT=$(free_port)
  timeout 20 "$SCEPD" serve --dir "$CA" --listen "127.0.0.1:$PORT" "${SERVE_ROOT[@]}" \
    > refused.log 2>&1 && fail "scepd serve started with a bad ca_dir"
  grep -q -- "$1" refused.log || fail "the refusal does not say '$1': $(cat refused.log)"
}
refused "\[profile iot\]: ca_dir $WORK/nosuch: No such file or directory"
mkdir -p "$WORK/empty"
sed -i "s|^ca_dir = .*nosuch\$|ca_dir = $WORK/empty|" "$CONF"
refused "\[profile iot\]: ca_dir $WORK/empty is not a scepd directory (no scepd.conf"
cp pca.conf "$CONF"
chmod 644 "$IOT/ra.key"
refused "\[profile iot\]: ca_dir $IOT: $IOT/ra.key (ra_key) is .*readable by group or others"
chmod 600 "$IOT/ra.key"
mv "$IOT/ca.key" "$IOT/ca.key.away"
refused "\[profile iot\]: ca_dir $IOT: .*ca.key"
mv "$IOT/ca.key.away" "$IOT/ca.key"
sed -i "1i ca_dir = $IOT" "$CONF"
refused "ca_dir is for \[profile NAME\] sections"
cp pca.conf "$CONF"
ok "start refuses a missing ca_dir, one that is no scepd directory, a key readable by others, a key that does not load, and ca_dir at the top level"

# /readyz names a profile whose CA has expired: a CA directory whose CA (made with
# `openssl ca`, dated_cert) ended in 2021.
"$SCEPD" init --dir "$WORK/old" --subject "CN=Old CA" > old.init.txt || fail "init old"
dated_cert "$WORK/oldca" "/CN=Old CA" 20200101000000Z 20210101000000Z ca
cp "$WORK/oldca.pem" "$WORK/old/ca.pem"
install -m 600 "$WORK/oldca.key" "$WORK/old/ca.key"
echo "auto_rollover_days = 30" >> "$WORK/old/scepd.conf"
sed -i "s|^ca_dir = $IOT\$|ca_dir = $WORK/old|" "$CONF"
# A profile CA ending in 3 days with auto_rollover_days = 5: the server prepares its next CA.
SHORT=$WORK/short
"$SCEPD" init --dir "$SHORT" --subject "CN=Short IoT CA" --days 3 > short.init.txt || fail "init short"
echo "auto_rollover_days = 5" >> "$SHORT/scepd.conf"
printf '\n[profile short]\nca_dir = %s\nchallenge = short-secret\n' "$SHORT" >> "$CONF"
start_scepd "$CA"
BASE="http://127.0.0.1:$PORT"
status=$(curl -s -o ready.txt -w '%{http_code}' "http://127.0.0.1:$ADMIN_PORT/readyz")
[ "$status" = 503 ] && grep -q "error: profile iot (ca_dir): the CA certificate expired" ready.txt \
  || fail "/readyz with iot's CA expired: $status $(cat ready.txt)"
log_has "profile iot (ca_dir): the CA certificate expired"
[ -e "$WORK/old/next-ca.pem" ] && fail "auto rollover prepared a successor of an expired CA"
"$SCEP" getca -u "$BASE/scep/iot" -o olddir > /dev/null || fail "getca of the expired CA"
run_scep 4 "enroll at /scep/iot with its CA expired" enroll -u "$BASE/scep/iot" \
  --ca olddir --key x1.key --out x1.pem --subject "CN=sensor-x" --challenge iot-secret
run_scep 0 "enroll at /scep beside it" enroll -u "$BASE/scep" --ca defdir --key d2.key \
  --out d2.pem --subject "CN=desk-2" --challenge default-secret
ok "an expired profile CA: /readyz 503 naming the profile, a FAILURE there, the default issues; auto_rollover_days leaves it to the operator"

wait_for "auto rollover of profile short's CA prepared nothing" test -f "$SHORT/next-ca.pem"
[ "$(openssl x509 -in "$SHORT/next-ca.pem" -noout -startdate | cut -d= -f2)" = \
  "$(openssl x509 -in "$SHORT/ca.pem" -noout -enddate | cut -d= -f2)" ] \
  || fail "auto rollover of profile short's CA does not switch at its expiry"
wait_until log_grep "auto rollover: profile short"
log_has "auto rollover: profile short (ca_dir): prepared the next CA in $SHORT"
# The rollover is followed by a reload, which serves the next CA once it has taken over.
offers_next() { curl -fs "$1?operation=GetCACaps" | grep -q GetNextCACert; }
wait_until offers_next "$BASE/scep/short" \
  || fail "GetCACaps at /scep/short does not offer GetNextCACert after the auto rollover"
"$SCEP" getca -u "$BASE/scep/short" -o shortdir > /dev/null || fail "getca /scep/short"
run_scep 0 "getnextca at /scep/short" getnextca -u "$BASE/scep/short" --ca shortdir -o shortnext
tr -d '\n' < shortnext/certs.pem | grep -qF "$(grep -v -- ----- "$SHORT/next-ca.pem" | tr -d '\n')" \
  || fail "GetNextCACert at /scep/short is not short's prepared CA"
[ -e "$CA/next-ca.pem" ] && fail "auto rollover of a profile CA prepared the server's"
stop_scepd
cp pca.conf "$CONF"
ok "auto_rollover_days of a profile CA near its end: its next CA in its ca_dir, logged, served by GetNextCACert at /scep/short"

finish
