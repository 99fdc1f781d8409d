#!/usr/bin/env bash
# The static challenge is not kept at rest: stored CSRs lose their challengePassword (the
# store keeps a hash of the CSR as sent, for resends), so neither the database nor
# show-request holds it; requests still wait, get approved and reach their requester, an EC
# one at its poll by key agreement (the poll carries no challenge). --challenge on the command
# line gets a warning that names --challenge-file.
source "$(dirname "$0")/../interop/lib.sh"
SCEP=${SCEP:-$ROOT/build/scep}
SECRET=at-rest-S3CRET-$$

CA=$WORK/ca
new_ca "$CA"
cd "$WORK"
start_scepd "$CA" --approve manual --challenge "$SECRET"
grep -q "warning: --challenge .*--challenge-file" scepd.log \
  || fail "no warning about --challenge on the command line: $(head -n 3 scepd.log)"
ok "--challenge on the command line: a warning naming --challenge-file"

"$SCEP" getca -u "$URL" -o cadir > /dev/null || fail "getca"
# ask NAME [enroll flags...]: a request that stays PENDING (the client gives up at once).
ask() {
  timeout 30 "$SCEP" enroll -u "$URL" --ca cadir --key "$1.key" --out "$1.pem" --subject "CN=$1" \
    --challenge "$SECRET" --poll-interval 1 --max-poll-time 1 "${@:2}" > "$1.out" 2>&1 || true
  grep -q "still PENDING" "$1.out" || fail "$1 is not pending: $(cat "$1.out")"
}
ask rsa
ask ec --key-type ec:P-256
# held: whether the store's files hold the secret anywhere.
held() { cat "$CA"/scepd.db* | grep -a -q -F "$SECRET"; }
held && fail "the store holds the challenge in cleartext"
ID=$("$SCEPD" pending --dir "$CA" | awk '$NF == "CN=rsa" {print $1}')
EC_ID=$("$SCEPD" pending --dir "$CA" | awk '$NF == "CN=ec" {print $1}')
[ -n "$ID" ] && [ -n "$EC_ID" ] || fail "pending: $("$SCEPD" pending --dir "$CA")"
"$SCEPD" show-request --dir "$CA" --pem "$ID" > rsa.csr || fail "show-request --pem"
openssl req -in rsa.csr -noout -text > rsa.csr.txt 2>&1 || fail "show-request --pem is no CSR: $(cat rsa.csr.txt)"
grep -q "challengePassword" rsa.csr.txt && fail "the stored CSR still has a challengePassword"
grep -q -F "$SECRET" rsa.csr.txt && fail "show-request --pem holds the challenge"
[ "$(openssl req -in rsa.csr -noout -pubkey | openssl sha256)" = "$(openssl pkey -in rsa.key -pubout | openssl sha256)" ] \
  || fail "the stored CSR is another key's"
ok "pending requests: no challenge in the store's files nor in show-request --pem"

# A resend of the same request finds its transaction (the hash of the CSR as sent): the client
# resumes with a poll, so send the very PKCSReq again through the recording proxy's log.
"$SCEPD" approve --dir "$CA" "$ID" "$EC_ID" > approve.txt || fail "approve: $(cat approve.txt)"
recording_proxy "$URL"
run_scep 0 "poll for the RSA certificate" enroll -u "$PURL" --ca cadir --key rsa.key --out rsa.pem \
  --subject CN=rsa --challenge "$SECRET" --poll-interval 1 --max-poll-time 10
check_issued rsa.pem rsa.key "$CA/ca.pem" rsa
rm -f "$WORK"/rec/reply-*.der
run_scep 0 "poll for the EC certificate" enroll -u "$PURL" --ca cadir --key ec.key --out ec.pem \
  --subject CN=ec --challenge "$SECRET" --key-type ec:P-256 --poll-interval 1 --max-poll-time 10
stop_pid "$PROXY_PID"
check_issued ec.pem ec.key "$CA/ca.pem" ec
REPLY=$(ls "$WORK"/rec/reply-*.der | tail -n 1)
openssl cms -verify -noverify -inform DER -in "$REPLY" -binary -out ec-env.der > /dev/null 2>&1 \
  || fail "the EC CertRep is not SignedData"
openssl cms -cmsout -print -inform DER -in ec-env.der > ec-env.txt 2>&1 || fail "the EC envelope is not CMS"
grep -q "d.kari:" ec-env.txt || fail "the EC SUCCESS at poll is not by key agreement: $(grep -m1 'd\.' ec-env.txt)"
log_has "CertPoll tid=.* SUCCESS"
ok "approved requests reach their requesters at poll: RSA by key transport, EC by key agreement"

# Automatic approval, and a challenge from a file: no warning, nothing kept either.
echo "$SECRET" > challenge.txt
chmod 600 challenge.txt
: > scepd.log
start_scepd "$CA" --challenge-file challenge.txt
grep -q "warning: --challenge" scepd.log && fail "a warning for --challenge-file: $(cat scepd.log)"
run_scep 0 "enroll at once" enroll -u "$URL" --ca cadir --key auto.key --out auto.pem \
  --subject CN=auto --challenge "$SECRET"
check_issued auto.pem auto.key "$CA/ca.pem" auto
stop_scepd
held && fail "the store holds the challenge in cleartext after an automatic enrollment"
ok "--challenge-file: no warning; an automatic enrollment keeps no challenge either"
finish
