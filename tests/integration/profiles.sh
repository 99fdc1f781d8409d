#!/usr/bin/env bash
# Profiles (docs/profiles.md): two profiles and the default on one server. Our client and
# strongSwan's pki against /scep/wifi get wifi's EKU, KU and validity; a SAN outside the rules
# is refused with a failInfoText naming it; a one-time challenge of one profile is refused in
# another; an unknown profile is a 404; GetCACert message=NAME selects NAME; `scepd profiles`
# lists them; a broken section is named in the error; SIGHUP reads the profiles again.
source "$(dirname "$0")/../interop/lib.sh"
SCEP=${SCEP:-$ROOT/build/scep}
cd "$WORK"
CA=$WORK/ca
new_ca "$CA" --ra
CONF=$CA/scepd.conf
cp "$CONF" base.conf
ADMIN_PORT=$(free_port)
umask 077
echo admin-token-for-profiles > "$CA/admin.token"
cat >> "$CONF" <<CONF
challenge = default-secret
admin_listen = 127.0.0.1:$ADMIN_PORT
admin_token_file = admin.token

[profile wifi]
challenge = wifi-secret
validity_days = 30
allowed_keys = rsa:2048-4096,ec:P-256
subject_require = CN,O
san_dns_domains = .wifi.example.com
key_usage = digitalSignature
ext_key_usage = clientAuth,1.3.6.1.4.1.99999.2.1
certificate_policies = 1.3.6.1.4.1.99999.1

[profile vpn]
challenge = none
approve = manual
validity_days = 7
ext_key_usage = serverAuth,clientAuth
san_ip_ranges = 10.0.0.0/8
san_template = DNS:{cn}.vpn.example.com
CONF
cp "$CONF" profiles.conf

"$SCEPD" profiles --dir "$CA" > profiles.txt 2> profiles.err || fail "scepd profiles: $(cat profiles.err)"
for want in "^default" "^wifi" "^vpn" "/scep/wifi, /scep/wifi/pkiclient.exe" "CN=Interop CA" \
  "challenge: *none (an operator approves)" "validity: *30 days" \
  "keys: *rsa:2048-4096,ec:P-256" "DNS .wifi.example.com" \
  "ext_key_usage: *clientAuth,1.3.6.1.4.1.99999.2.1" "approve: *manual"; do
  grep -q -- "$want" profiles.txt || fail "scepd profiles does not show '$want': $(cat profiles.txt)"
done
grep -q "secret" profiles.txt && fail "scepd profiles shows a challenge"
ok "scepd profiles lists the default, wifi and vpn with their rules, and no secret"

start_scepd "$CA"
BASE="http://127.0.0.1:$PORT"
"$SCEP" getca -u "$BASE/scep/wifi" -o cadir > /dev/null || fail "getca /scep/wifi"

# Our client against /scep/wifi: wifi's EKU, KU, policy and validity.
run_scep 0 "enroll at /scep/wifi" enroll -u "$BASE/scep/wifi" --ca cadir --key w1.key \
  --out w1.pem --subject "CN=laptop-1,O=Example" --san dns:laptop-1.wifi.example.com \
  --challenge wifi-secret
check_issued w1.pem w1.key "$CA/ca.pem" laptop-1
text=$(openssl x509 -in w1.pem -noout -text)
grep -q "TLS Web Client Authentication, 1.3.6.1.4.1.99999.2.1" <<< "$text" \
  || fail "wifi's extendedKeyUsage is not in the certificate: $(grep -A1 'Extended Key' <<< "$text")"
grep -A1 "X509v3 Key Usage" <<< "$text" | grep -q "^ *Digital Signature$" \
  || fail "wifi's keyUsage is not in the certificate: $(grep -A1 'X509v3 Key Usage' <<< "$text")"
grep -q "Policy: 1.3.6.1.4.1.99999.1" <<< "$text" || fail "wifi's certificate policy is missing"
days=$(( ($(date -d "$(openssl x509 -in w1.pem -noout -enddate | cut -d= -f2)" +%s) - $(date +%s) + 3600) / 86400 ))
[ "$days" = 30 ] || fail "wifi's certificate is valid $days days, not 30"
ok "scep enroll at /scep/wifi: wifi's EKU, KU, policy and 30 days"

# The default profile is today's: 365 days, clientAuth, its own challenge only.
run_scep 4 "wifi's challenge at the default path" enroll -u "$BASE/scep" --ca cadir \
  --key d0.key --out d0.pem --subject "CN=desk-0,O=Example" --challenge wifi-secret
run_scep 0 "enroll at /scep" enroll -u "$BASE/cgi-bin/pkiclient.exe" --ca cadir --key d1.key \
  --out d1.pem --subject "CN=desk-1" --challenge default-secret
days=$(( ($(date -d "$(openssl x509 -in d1.pem -noout -enddate | cut -d= -f2)" +%s) - $(date +%s) + 3600) / 86400 ))
[ "$days" = 365 ] || fail "the default profile's certificate is valid $days days, not 365"
ok "the default profile (/scep, /cgi-bin/pkiclient.exe) keeps the top-level settings"

# strongSwan's pki at /scep/wifi/pkiclient.exe.
if command -v pki > /dev/null; then
  pki --scepca --url "$BASE/scep/wifi/pkiclient.exe" --caout ss-ca.pem --raout ss-ra.pem \
    --outform pem > scepca.txt 2>&1 || fail "pki --scepca: $(tail -n 3 scepca.txt)"
  pki --gen --type rsa --size 2048 --outform pem > ss.key 2> /dev/null
  timeout 60 pki --scep --url "$BASE/scep/wifi/pkiclient.exe" --in ss.key \
    --dn "CN=phone-1,O=Example" --san phone-1.wifi.example.com --password wifi-secret \
    --cacert-enc ss-ra.pem --cacert-sig ss-ra.pem --cacert ss-ca.pem --outform pem \
    > ss.pem 2> ss.err || fail "pki --scep at /scep/wifi: $(grep -v -i tpm ss.err | tail -n 3)"
  check_issued ss.pem ss.key "$CA/ca.pem" phone-1
  openssl x509 -in ss.pem -noout -ext extendedKeyUsage | grep -q "1.3.6.1.4.1.99999.2.1" \
    || fail "pki's certificate lacks wifi's EKU"
  ok "strongSwan pki at /scep/wifi/pkiclient.exe gets wifi's certificate"
fi

# SAN and key rules: FAILURE with a failInfoText naming the SAN and the rule.
run_scep 4 "a SAN outside san_dns_domains" enroll -u "$BASE/scep/wifi" --ca cadir --key w2.key \
  --out w2.pem --subject "CN=laptop-2,O=Example" --san dns:laptop-2.evil.example \
  --challenge wifi-secret
grep -q "the SAN DNS:laptop-2.evil.example is outside san_dns_domains" "$ERR" \
  || fail "the refusal does not name the SAN and the rule: $(tail -n 3 "$ERR")"
run_scep 4 "a subject without O" enroll -u "$BASE/scep/wifi" --ca cadir --key w3.key \
  --out w3.pem --subject "CN=laptop-3" --challenge wifi-secret
grep -q "the subject has no O" "$ERR" || fail "subject_require: $(tail -n 3 "$ERR")"
run_scep 4 "an EC P-384 key" enroll -u "$BASE/scep/wifi" --ca cadir --key w4.key \
  --out w4.pem --subject "CN=laptop-4,O=Example" --key-type ec:P-384 --challenge wifi-secret
grep -q "not allowed (allowed_keys" "$ERR" || fail "allowed_keys: $(tail -n 3 "$ERR")"
ok "wifi refuses a SAN outside its domains, a subject without O and a P-384 key, naming the rule"

# One-time challenges are bound to the profile they were minted for.
mint() { # mint PARAM...: as docs/profiles.md's recipe does it
  local args=()
  for p in "$@"; do args+=(--data-urlencode "$p"); done
  curl -fsS -X POST -G -H "Authorization: Bearer admin-token-for-profiles" \
    "http://127.0.0.1:$ADMIN_PORT/challenge" "${args[@]}" | tail -n 1
}
otc=$(mint profile=wifi ttl=600 'subject_match=^CN=otc-[0-9](,|$)') \
  || fail "minting a challenge for wifi"
run_scep 4 "wifi's one-time challenge at the default path" enroll -u "$BASE/scep" --ca cadir \
  --key o1.key --out o1.pem --subject "CN=otc-1,O=Example" --challenge "$otc"
run_scep 0 "wifi's one-time challenge at wifi" enroll -u "$BASE/scep/wifi" --ca cadir \
  --key o2.key --out o2.pem --subject "CN=otc-2,O=Example" \
  --san dns:otc-2.wifi.example.com --challenge "$otc"
status=$(curl -s -o mint.txt -w '%{http_code}' -X POST \
  -H "Authorization: Bearer admin-token-for-profiles" \
  "http://127.0.0.1:$ADMIN_PORT/challenge?profile=nosuch")
[ "$status" = 404 ] && grep -q "no profile 'nosuch'" mint.txt \
  || fail "minting for an unknown profile: $status $(cat mint.txt)"
cli_otc=$("$SCEPD" challenge --dir "$CA" --profile wifi --ttl 10m | tail -n 1) \
  || fail "scepd challenge --profile wifi"
run_scep 0 "scepd challenge --profile wifi's challenge at wifi" enroll -u "$BASE/scep/wifi" \
  --ca cadir --key o3.key --out o3.pem --subject "CN=otc-3,O=Example" --challenge "$cli_otc"
"$SCEPD" challenge --dir "$CA" --profile nosuch > /dev/null 2> cli.err \
  && fail "scepd challenge --profile nosuch succeeded"
grep -q "nosuch" cli.err || fail "scepd challenge --profile nosuch: $(cat cli.err)"
ok "a one-time challenge minted for wifi is refused at the default profile, taken at wifi (admin API and scepd challenge --profile)"

# vpn: no challenge, manual approval, SANs from the template, IP ranges.
run_scep 4 "an IP SAN outside vpn's ranges" enroll -u "$BASE/scep/vpn" --ca cadir --key v0.key \
  --out v0.pem --subject "CN=gw-0" --san ip:192.0.2.1 --max-poll-time 1
grep -q "the SAN IP:192.0.2.1 is outside san_ip_ranges" "$ERR" \
  || fail "san_ip_ranges: $(tail -n 3 "$ERR")"
run_scep 5 "vpn waits for approval" enroll -u "$BASE/scep/vpn" --ca cadir --key v1.key \
  --out v1.pem --subject "CN=gw-1" --san ip:10.1.2.3 --poll-interval 1 --max-poll-time 1
id=$("$SCEPD" pending --dir "$CA" | awk '/CN=gw-1/ {print $1}')
[ -n "$id" ] || fail "vpn's request is not pending: $("$SCEPD" pending --dir "$CA")"
"$SCEPD" pending --dir "$CA" | grep "CN=gw-1" | grep -q "@profile:vpn " \
  || fail "scepd pending does not show the request's profile"

"$SCEPD" approve --dir "$CA" "$id" > /dev/null || fail "approve $id"
run_scep 0 "vpn's poll after approval" enroll -u "$BASE/scep/vpn" --ca cadir --key v1.key \
  --out v1.pem --subject "CN=gw-1" --san ip:10.1.2.3 --poll-interval 1 --max-poll-time 30
san=$(openssl x509 -in v1.pem -noout -ext subjectAltName)
grep -q "IP Address:10.1.2.3" <<< "$san" && grep -q "DNS:gw-1.vpn.example.com" <<< "$san" \
  || fail "vpn's SANs are not the request's plus the template's: $san"
openssl x509 -in v1.pem -noout -ext extendedKeyUsage | grep -q "TLS Web Server Authentication" \
  || fail "vpn's EKU is missing"
days=$(( ($(date -d "$(openssl x509 -in v1.pem -noout -enddate | cut -d= -f2)" +%s) - $(date +%s) + 3600) / 86400 ))
[ "$days" = 7 ] || fail "scepd approve issued vpn's request for $days days, not vpn's 7"
ok "vpn: no challenge, manual approval as vpn issues (7 days, serverAuth, the template's SAN)"

# Unknown profiles, and GetCACert's message naming one.
status=$(curl -s -o unknown.txt -w '%{http_code}' "$BASE/scep/nosuch?operation=GetCACert")
[ "$status" = 404 ] && grep -q "no profile 'nosuch' on this server" unknown.txt \
  || fail "an unknown profile: HTTP $status $(cat unknown.txt)"
status=$(curl -s -o unknown.txt -w '%{http_code}' "$BASE/scep/nosuch/pkiclient.exe?operation=GetCACaps")
[ "$status" = 404 ] || fail "an unknown profile's pkiclient.exe: HTTP $status"
curl -fs -o named.der "$BASE/scep?operation=GetCACert&message=vpn" || fail "GetCACert message=vpn"
grep -q 'GetCACert.*profile=vpn\|"profile":"vpn"' scepd.log \
  || fail "GetCACert message=vpn did not select vpn: $(grep GetCACert scepd.log | tail -n 2)"
curl -fs -o other.der "$BASE/scep?operation=GetCACert&message=SomeCA" \
  || fail "GetCACert with another CA identifier"
ok "an unknown profile is a 404; GetCACert message=vpn selects vpn, other text the default"

# A broken section: named with its file and line, by scepd profiles and by a reload.
cp profiles.conf "$CONF"
printf '%s\n' "[profile bad]" "min_rsa_bits = 12" >> "$CONF"
line=$(wc -l < "$CONF")
"$SCEPD" profiles --dir "$CA" > /dev/null 2> broken.err && fail "scepd profiles accepts a broken section"
grep -q "scepd.conf:$line: \[profile bad\]: bad value for min_rsa_bits: '12'" broken.err \
  || fail "the error does not name the file, line and profile: $(cat broken.err)"
cp profiles.conf "$CONF"; printf '%s\n' "[profile wifi2]" "listen = 127.0.0.1:1" >> "$CONF"
"$SCEPD" profiles --dir "$CA" > /dev/null 2> broken.err && fail "a server setting in a section"
grep -q "\[profile wifi2\]: 'listen' is not a profile setting" broken.err \
  || fail "a server setting in a section: $(cat broken.err)"
cp profiles.conf "$CONF"; printf '%s\n' "[profile open]" "challenge = none" >> "$CONF"
"$SCEPD" profiles --dir "$CA" > /dev/null 2> broken.err && fail "challenge = none with auto approval"
grep -q "\[profile open\]: challenge = none needs approve = manual" broken.err \
  || fail "challenge = none with approve = auto: $(cat broken.err)"
echo wifi-file-secret > "$CA/open.chal"; chmod 644 "$CA/open.chal"
cp profiles.conf "$CONF"; printf '%s\n' "[profile leaky]" "challenge_file = open.chal" >> "$CONF"
"$SCEPD" profiles --dir "$CA" > /dev/null 2> broken.err && fail "a challenge file readable by others"
grep -q "\[profile leaky\]: .*open.chal (challenge_file) is a symbolic link or readable by group" \
  broken.err || fail "a section's challenge file readable by others: $(cat broken.err)"
ok "a broken section is named with file, line and profile; exit 1"

# SIGHUP reads the profiles again: a new one serves, a removed one is a 404.
cp profiles.conf "$CONF"
printf '%s\n' "[profile iot]" "validity_days = 3" "challenge = iot-secret" >> "$CONF"
sed -i 's/^\[profile vpn\]/[profile vpn2]/' "$CONF"
reload_scepd
run_scep 0 "enroll at /scep/iot after SIGHUP" enroll -u "$BASE/scep/iot" --ca cadir --key i1.key \
  --out i1.pem --subject "CN=sensor-1" --challenge iot-secret
days=$(( ($(date -d "$(openssl x509 -in i1.pem -noout -enddate | cut -d= -f2)" +%s) - $(date +%s) + 3600) / 86400 ))
[ "$days" = 3 ] || fail "iot's certificate is valid $days days, not 3"
status=$(curl -s -o /dev/null -w '%{http_code}' "$BASE/scep/vpn?operation=GetCACaps")
[ "$status" = 404 ] || fail "a profile removed by the reload still answers: $status"
log_has "reload: configuration read; applied: .*profiles"
ok "SIGHUP: a new profile serves, a removed one is a 404"

# The admin API mints a challenge for one profile: accepted there, refused in the default one.
api() { curl -s -H "Authorization: Bearer admin-token-for-profiles" "$@"; }
APIURL="http://127.0.0.1:$ADMIN_PORT/api/v1"
code=$(api -o nope.json -w '%{http_code}' -X POST -d '{"profile":"nope"}' "$APIURL/challenges")
[ "$code" = 404 ] && grep -q "no profile 'nope'" nope.json || fail "API mint for an unknown profile: $code $(cat nope.json)"
chal=$(api -X POST -d '{"profile":"iot","ttl":600}' "$APIURL/challenges" |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["challenge"])') || fail "API mint for iot"
run_scep 4 "the iot challenge at the default profile" enroll -u "$BASE/scep" --ca cadir \
  --key i2.key --out i2.pem --subject "CN=sensor-2" --challenge "$chal"
run_scep 0 "the iot challenge at /scep/iot" enroll -u "$BASE/scep/iot" --ca cadir --key i3.key \
  --out i3.pem --subject "CN=sensor-3" --challenge "$chal"
ok "the admin API mints a profile's challenge (404 for an unknown profile); only that profile accepts it"

finish
