#!/usr/bin/env bash
# micromdm's scepclient (Debian package scep) against scepd in CA mode. It only speaks single
# DES + SHA-1, so the server needs --legacy-algorithms.
source "$(dirname "$0")/lib.sh"
command -v scepclient > /dev/null || fail "scepclient is not installed (Debian package scep)"

CA=$WORK/ca
new_ca "$CA"
start_scepd "$CA" --challenge s3cret --legacy-algorithms

# Enrollment with the right challenge.
mkdir "$WORK/good" && cd "$WORK/good"
timeout 30 scepclient -server-url "$URL" -challenge s3cret -private-key key.pem \
  -certificate cert.pem -cn mm-device -organization Interop > out.txt 2>&1 \
  || fail "scepclient enrollment failed: $(tail -n 3 out.txt)"
check_issued cert.pem key.pem "$CA/ca.pem" mm-device
log_has "POST PKIOperation PKCSReq .* SUCCESS"
ok "enrollment with challenge, DES + SHA-1, certificate checked with openssl"

# The same request again (what scepclient does on PENDING): the same certificate, not a new one.
"$SCEPD" certs --dir "$CA" > certs-before.txt
timeout 30 scepclient -server-url "$URL" -challenge s3cret -private-key key.pem \
  -certificate cert2.pem -cn mm-device -organization Interop > out2.txt 2>&1 \
  || fail "scepclient repeat failed: $(tail -n 3 out2.txt)"
"$SCEPD" certs --dir "$CA" > certs-after.txt
cmp -s certs-before.txt certs-after.txt || fail "a repeated request issued another certificate"
cmp -s <(openssl x509 -in cert.pem -noout -serial) <(openssl x509 -in cert2.pem -noout -serial) \
  || fail "a repeated request got another certificate"
ok "a repeated PKCSReq returns the same certificate and issues nothing new"

# Renewal with -certificate: a RenewalReq signed by the issued certificate, same key.
start_scepd "$CA" --challenge s3cret --legacy-algorithms --set renewal_window=0%
cp cert.pem old.pem
timeout 30 scepclient -server-url "$URL" -challenge s3cret -private-key key.pem \
  -certificate cert.pem -cn mm-device -organization Interop > renew.txt 2>&1 \
  || fail "scepclient renewal failed: $(tail -n 3 renew.txt)"
log_has "POST PKIOperation RenewalReq .* SUCCESS"
cmp -s <(openssl x509 -in old.pem -noout -serial) <(openssl x509 -in cert.pem -noout -serial) \
  && fail "the renewal did not write a new certificate"
check_issued cert.pem key.pem "$CA/ca.pem" mm-device
ok "renewal with -certificate (RenewalReq, same key) gives a new certificate"

# A wrong challenge: FAILURE, reported by the client, nothing issued.
mkdir "$WORK/bad" && cd "$WORK/bad"
if timeout 30 scepclient -server-url "$URL" -challenge wrong -private-key key.pem \
  -certificate cert.pem -cn mm-intruder > out.txt 2>&1; then
  grep -q "failInfo: badRequest" out.txt || fail "wrong challenge was not refused: $(tail -n 2 out.txt)"
else
  grep -q "badRequest" out.txt || fail "scepclient did not report badRequest: $(tail -n 2 out.txt)"
fi
[ ! -s cert.pem ] || fail "a certificate was written despite the wrong challenge"
log_has "PKCSReq .* FAILURE failInfo=badRequest .*challenge"
"$SCEPD" certs --dir "$CA" | grep -q mm-intruder && fail "a certificate was issued to mm-intruder"
ok "wrong challenge gives FAILURE badRequest and no certificate"

# Without the legacy switch, the same client is refused with badAlg, not an HTTP error.
start_scepd "$CA" --challenge s3cret
mkdir "$WORK/nolegacy" && cd "$WORK/nolegacy"
timeout 30 scepclient -server-url "$URL" -challenge s3cret -private-key key.pem \
  -certificate cert.pem -cn mm-legacy > out.txt 2>&1 || true
grep -q "badAlg" out.txt || fail "single DES without --legacy-algorithms was not refused with badAlg"
log_has "FAILURE failInfo=badAlg"
ok "single DES without --legacy-algorithms gives FAILURE badAlg"
finish
