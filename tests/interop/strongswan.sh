#!/usr/bin/env bash
# strongSwan's pki --scepca / --scep (Debian strongswan-pki 5.9.8) against scepd in RA mode.
source "$(dirname "$0")/lib.sh"
command -v pki > /dev/null || fail "pki is not installed (Debian package strongswan-pki)"

# pki prints TPM plugin noise on every run; keep the logs readable.
pki_quiet() { pki "$@" 2> >(grep -v -i tpm >&2); }

CA=$WORK/ca
new_ca "$CA" --ra
start_scepd "$CA" --challenge s3cret
cd "$WORK"

pki_quiet --scepca --url "$URL" --caout ca.pem --raout ra.pem --outform pem > scepca.txt 2>&1 \
  || fail "pki --scepca failed: $(tail -n 3 scepca.txt)"
cmp -s <(openssl x509 -in ca.pem -outform DER) <(openssl x509 -in "$CA/ca.pem" -outform DER) \
  || fail "GetCACert did not return our CA certificate"
# With an RA signing certificate (INTEROP_RA_SIGN) pki writes both RA certificates, ra.pem and
# ra-2.pem in an order of its own: ra.pem becomes the RSA RA, ra-sign.pem the signing one.
if [ -n "${INTEROP_RA_SIGN:-}" ]; then
  [ -f ra-2.pem ] || fail "pki --scepca wrote one RA certificate, not the RA and the signing one"
  for f in ra.pem ra-2.pem; do
    if cmp -s <(openssl x509 -in $f -outform DER) <(openssl x509 -in "$CA/ra.pem" -outform DER); then
      cp $f ra-enc.pem
    else
      cp $f ra-sign.pem
    fi
  done
  mv ra-enc.pem ra.pem
  cmp -s <(openssl x509 -in ra-sign.pem -outform DER) <(openssl x509 -in "$CA/ra-sign.pem" -outform DER) \
    || fail "GetCACert did not return our RA signing certificate"
fi
cmp -s <(openssl x509 -in ra.pem -outform DER) <(openssl x509 -in "$CA/ra.pem" -outform DER) \
  || fail "GetCACert did not return our RA certificate"
ok "pki --scepca gets the CA and RA certificates (degenerate PKCS#7)"

# enroll NAME CIPHER DIGEST PASSWORD [more pki flags]: writes NAME.key and NAME.pem.
enroll() {
  local name=$1 cipher=$2 digest=$3 password=$4; shift 4
  pki --gen --type rsa --size 2048 --outform pem > "$name.key" 2> /dev/null
  timeout 60 pki --scep --url "$URL" --in "$name.key" --dn "CN=$name,O=Interop" \
    --san "$name.example" --password "$password" --cacert-enc ra.pem --cacert-sig ra.pem \
    --cacert ca.pem --cipher "$cipher" --digest "$digest" --outform pem "$@" \
    > "$name.pem" 2> "$name.err"
}

enroll ss-aes aes sha256 s3cret || fail "AES + SHA-256 enrollment: $(grep -v -i tpm ss-aes.err | tail -n 3)"
check_issued ss-aes.pem ss-aes.key ca.pem ss-aes
openssl x509 -in ss-aes.pem -noout -ext subjectAltName | grep -q "DNS:ss-aes.example" \
  || fail "the subjectAltName was not copied"
ok "enrollment AES-128 + SHA-256 with challenge, SAN copied"

enroll ss-des3 des3 sha1 s3cret || fail "3DES + SHA-1 enrollment: $(grep -v -i tpm ss-des3.err | tail -n 3)"
check_issued ss-des3.pem ss-des3.key ca.pem ss-des3
ok "enrollment 3DES + SHA-1 with challenge"

enroll ss-sha512 aes sha512 s3cret || fail "AES + SHA-512 enrollment"
check_issued ss-sha512.pem ss-sha512.key ca.pem ss-sha512
ok "enrollment AES-128 + SHA-512 with challenge"

if enroll ss-wrong aes sha256 wrong; then fail "a wrong challenge was accepted"; fi
grep -q "badRequest" ss-wrong.err || fail "pki did not report badRequest: $(tail -n 2 ss-wrong.err)"
[ ! -s ss-wrong.pem ] || fail "a certificate was written despite the wrong challenge"
log_has "PKCSReq .* FAILURE failInfo=badRequest"
ok "wrong challenge gives FAILURE badRequest and no certificate"

# Renewal with RenewalReq signed by the old certificate, a new key, no challenge.
start_scepd "$CA" --challenge s3cret --set renewal_window=0%
pki --gen --type rsa --size 2048 --outform pem > ss-renewed.key 2> /dev/null
timeout 60 pki --scep --url "$URL" --in ss-renewed.key --dn "CN=ss-aes,O=Interop" \
  --cacert-enc ra.pem --cacert-sig ra.pem --cacert ca.pem --cert ss-aes.pem --key ss-aes.key \
  --outform pem > ss-renewed.pem 2> ss-renewed.err \
  || fail "RenewalReq renewal failed: $(grep -v -i tpm ss-renewed.err | tail -n 3)"
check_issued ss-renewed.pem ss-renewed.key ca.pem ss-aes
log_has "POST PKIOperation RenewalReq .* SUCCESS"
OLD=$(openssl x509 -in ss-aes.pem -noout -serial | cut -d= -f2)
"$SCEPD" certs --dir "$CA" | grep -q "^$OLD *superseded" || fail "the renewed certificate is not marked superseded"
ok "renewal (RenewalReq signed by the old certificate, new key): new certificate, old one superseded"

# A renewal before the window opens (default 50% of the lifetime) is refused with a reason.
start_scepd "$CA" --challenge s3cret
pki --gen --type rsa --size 2048 --outform pem > ss-early.key 2> /dev/null
if timeout 60 pki --scep --url "$URL" --in ss-early.key --dn "CN=ss-des3,O=Interop" \
  --cacert-enc ra.pem --cacert-sig ra.pem --cacert ca.pem --cert ss-des3.pem --key ss-des3.key \
  --outform pem > ss-early.pem 2> ss-early.err; then fail "a renewal before its window was accepted"; fi
log_has "RenewalReq .* FAILURE failInfo=badRequest .*renewal window opens"
ok "renewal before the window opens gives FAILURE badRequest saying when it opens"

# Manual approval: PENDING, pki polls with CertPoll, an operator approves, pki gets the cert.
start_scepd "$CA" --challenge s3cret --approve manual
POLLS=$(log_count "POST PKIOperation CertPoll .* PENDING")
enroll ss-manual aes sha256 s3cret --interval 1 --maxpolltime 50 &
POLLER=$!
for _ in $(seq 1 150); do
  "$SCEPD" pending --dir "$CA" | grep -q "CN=ss-manual" && break
  sleep 0.2
done
"$SCEPD" pending --dir "$CA" | grep -q "CN=ss-manual" || fail "the request did not appear in scepd pending"
wait_for "pki did not poll while pending" more_lines "POST PKIOperation CertPoll .* PENDING" "$POLLS"
"$SCEPD" approve --dir "$CA" --all > approve.txt || fail "scepd approve failed"
wait "$POLLER" || fail "pki did not get the certificate after approval: $(tail -n 3 ss-manual.err)"
check_issued ss-manual.pem ss-manual.key ca.pem ss-manual
log_has "POST PKIOperation CertPoll .* PENDING"
log_has "POST PKIOperation CertPoll .* SUCCESS"
ok "manual approval: PENDING, CertPoll while pending, approve, SUCCESS"

# Manual rejection: pki receives FAILURE while polling.
enroll ss-reject aes sha256 s3cret --interval 1 --maxpolltime 30 &
POLLER=$!
for _ in $(seq 1 150); do
  ID=$("$SCEPD" pending --dir "$CA" | awk '/CN=ss-reject/ {print $1}')
  [ -n "$ID" ] && break
  sleep 0.2
done
[ -n "$ID" ] || fail "the request to reject did not appear"
"$SCEPD" reject --dir "$CA" "$ID" --reason "not on the device list" > /dev/null || fail "scepd reject failed"
if wait "$POLLER"; then fail "pki succeeded after a rejection"; fi
log_has "CertPoll .* FAILURE failInfo=badRequest .*not on the device list"
ok "manual rejection: the poller gets FAILURE with the operator's reason"
finish
