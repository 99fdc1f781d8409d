#!/usr/bin/env bash
# certmonger 0.79 (Debian package certmonger) against scepd in RA mode: its scep-submit helper
# alone (GetCACaps, GetCACert, GetCertInitial) and a private certmonger daemon that discovers the
# CA, enrolls (PKCSReq by GET, AES-256 + SHA-256), renews (getcert resubmit, getcert rekey), is refused a wrong
# challenge, and waits through manual approval and rejection.
#
# certmonger treats a lone self-signed certificate from GetCACert as the RA and then has no CA,
# so scepd runs with an RA (`scepd init --ra`): GetCACert returns RA + CA.
#
# The daemon keeps to private state: the CERTMONGER_*_DIR variables and
# CERTMONGER_SYSTEM_LOCK_FILE point into $WORK (without the last one even a private session
# daemon holds /var/lib/certmonger/lock), and -L -P makes it listen on a private socket with no
# D-Bus. The daemon hands CERTMONGER_PVT_ADDRESS to the command given with -c; getcert connects
# to whatever that variable names, so this script sets it and drives getcert itself, one checked
# step at a time, instead of running every step inside a -c script.
source "$(dirname "$0")/lib.sh"
SUBMIT=/usr/lib/certmonger/scep-submit
command -v certmonger > /dev/null || fail "certmonger is not installed (Debian package certmonger)"
command -v getcert > /dev/null || fail "getcert is not installed (Debian package certmonger)"
[ -x "$SUBMIT" ] || fail "$SUBMIT is missing (Debian package certmonger)"

CM=$WORK/cm
CM_PID=""
stop_certmonger() {
  # setsid made the daemon a process group leader: this also ends its helpers.
  [ -n "$CM_PID" ] && kill -- "-$CM_PID" 2> /dev/null && wait "$CM_PID" 2> /dev/null || true
  CM_PID=""
}
trap 'stop_certmonger; cleanup' EXIT
trap 'exit 130' INT TERM
# set -e (from lib.sh) would end the script silently on an unchecked failure: say what failed.
trap 'fail "line $LINENO: \`$BASH_COMMAND\` failed"' ERR

CA=$WORK/ca
new_ca "$CA" --ra
# renewal_window=0%: a certificate may be renewed at once (section 2b renews right away).
start_scepd "$CA" --challenge s3cret --set renewal_window=0%
cd "$WORK" || fail "cannot enter $WORK"

# --- 1. scep-submit alone: GetCACaps and GetCACert ----------------------------------------------
rc=0; timeout 20 "$SUBMIT" -u "$URL" -c > caps.txt 2> caps.err || rc=$?
[ "$rc" = 0 ] || fail "scep-submit -c exited $rc: $(head -n 3 caps.err)"
for cap in AES POSTPKIOperation SHA-256 SCEPStandard; do
  grep -qx "$cap" caps.txt || fail "scep-submit -c did not print $cap: $(tr '\n' ' ' < caps.txt)"
done
log_has "GET GetCACaps .* http=200"
ok "scep-submit -c (GetCACaps) prints AES, POSTPKIOperation, SHA-256, SCEPStandard"

# -C prints the RA certificate, then the CA certificate, then any others.
rc=0; timeout 20 "$SUBMIT" -u "$URL" -C > cacert.txt 2> cacert.err || rc=$?
[ "$rc" = 0 ] || fail "scep-submit -C exited $rc: $(head -n 3 cacert.err)"
# Three with an RA signing certificate (INTEROP_RA_SIGN): it comes last.
WANT=2; [ -n "${INTEROP_RA_SIGN:-}" ] && WANT=3
[ "$(grep -c -- '-----BEGIN CERTIFICATE-----' cacert.txt)" = $WANT ] \
  || fail "scep-submit -C did not print exactly $WANT certificates: $(grep -c BEGIN cacert.txt)"
awk '/-----BEGIN CERTIFICATE-----/ {n++} n == 1' cacert.txt > ra.pem
awk '/-----BEGIN CERTIFICATE-----/ {n++} n == 2' cacert.txt > ca.pem
cmp -s <(openssl x509 -in ra.pem -outform DER) <(openssl x509 -in "$CA/ra.pem" -outform DER) \
  || fail "scep-submit -C: the first certificate (the RA) is not our RA certificate"
cmp -s <(openssl x509 -in ca.pem -outform DER) <(openssl x509 -in "$CA/ca.pem" -outform DER) \
  || fail "scep-submit -C: the second certificate (the CA) is not our CA certificate"
log_has "GET GetCACert .* http=200"
ok "scep-submit -C (GetCACert) prints our RA certificate, then our CA certificate"

# --- a private certmonger daemon ----------------------------------------------------------------
mkdir -p "$CM"/{config,requests,cas,local,tmp}
export CERTMONGER_CONFIG_DIR=$CM/config CERTMONGER_REQUESTS_DIR=$CM/requests \
  CERTMONGER_CAS_DIR=$CM/cas CERTMONGER_LOCAL_CA_DIR=$CM/local CERTMONGER_TMPDIR=$CM/tmp \
  CERTMONGER_SYSTEM_LOCK_FILE=$CM/lock CERTMONGER_PVT_ADDRESS=unix:path=$CM/socket
# Any attempt to use a message bus fails here instead of reaching the system's.
export DBUS_SYSTEM_BUS_ADDRESS=unix:path=$CM/no-system-bus
export DBUS_SESSION_BUS_ADDRESS=unix:path=$CM/no-session-bus
setsid certmonger -s -L -P "$CM/socket" -n > "$CM/daemon.log" 2>&1 &
CM_PID=$!
for _ in $(seq 1 50); do
  timeout 5 getcert list-cas > /dev/null 2>&1 && break
  kill -0 "$CM_PID" 2> /dev/null || fail "certmonger exited: $(tail -n 3 "$CM/daemon.log")"
  sleep 0.1
done
timeout 5 getcert list-cas > /dev/null 2>&1 || fail "the private certmonger daemon does not answer"

gc() { timeout 30 getcert "$@"; }
# The status (MONITORING, CA_WORKING, CA_REJECTED, ...) of a request, and another field.
cm_status() { gc list -i "$1" 2> /dev/null | sed -n 's/^[[:space:]]*status: //p'; }
cm_field() { gc list -i "$1" 2> /dev/null | sed -n "s/^[[:space:]]*$2: //p"; }
# wait_status ID STATUS SECONDS
wait_status() {
  for _ in $(seq 1 $(($3 * 10))); do
    [ "$(cm_status "$1")" = "$2" ] && return 0
    sleep 0.1
  done
  fail "request $1 is $(cm_status "$1"), not $2, after $3 s"
}
# certmonger's saved file for a request or CA named $1 in folder $2 (not a half-written .tmp).
saved_file() {
  { grep -l -x "id=$1" "$2"/* 2> /dev/null || true; } | { grep -v '\.tmp$' || true; } | head -n 1
}
# A value (with its continuation lines) from the saved request ID. Read the SCEP messages
# only while the request waits for the CA: they are gone after an issuance.
req_value() {
  local file
  file=$(saved_file "$1" "$CM/requests")
  [ -n "$file" ] || fail "certmonger saved no request file for $1"
  awk -v k="$2" 'index($0, k "=") == 1 {p = 1; print substr($0, length(k) + 2); next}
                 p && /^ / {print substr($0, 2); next} {p = 0}' "$file"
}
# certmonger's transactionID: the SHA-256 of the key's SubjectPublicKeyInfo, as a decimal number.
tx_of() {
  openssl pkey -in "$1" -pubout -outform DER \
    | python3 -c 'import hashlib, sys; print(int.from_bytes(hashlib.sha256(sys.stdin.buffer.read()).digest(), "big"))'
}
# enrolled_key ID KEYFILE: the key whose CSR certmonger sent. Normally KEYFILE. But if the daemon
# restarts a request while its key is being generated (it restarts every request of a CA whose
# data it has just fetched), the second key generation finds KEYFILE taken and writes a "next"
# key, KEYFILE.MARKER.key, which it enrolls and moves over KEYFILE once issued.
enrolled_key() {
  local marker
  marker=$(req_value "$1" key_next_marker)
  if [ -n "$marker" ] && [ -f "$2.$marker.key" ]; then
    echo "note $NAME: certmonger enrolls a second key for $1 ($2.$marker.key)" >&2
    echo "$2.$marker.key"
  else
    echo "$2"
  fi
}
# scep_msg ID req|gic: the PKCSReq or GetCertInitial that certmonger built for the enrolled key
# (scep_req_next, scep_gic_next when it is a "next" key).
scep_msg() {
  if [ -n "$(req_value "$1" key_next_marker)" ]; then req_value "$1" "scep_$2_next"
  else req_value "$1" "scep_$2"; fi
}
# add_ca NAME: a SCEP CA for $URL without -N/-r, so the daemon fetches caps and RA + CA itself.
# Wait until it has them: a request started meanwhile gets restarted (see enrolled_key).
add_ca() {
  local file=""
  gc add-scep-ca -c "$1" -u "$URL" > "add-$1.txt" 2>&1 || fail "getcert add-scep-ca: $(cat "add-$1.txt")"
  for _ in $(seq 1 100); do
    file=$(saved_file "$1" "$CM/cas")
    [ -n "$file" ] && grep -q '^ca_capabilities=' "$file" \
      && grep -q '^ca_encryption_issuer_cert=' "$file" && break
    sleep 0.1
  done
  grep -q '^ca_encryption_issuer_cert=' "$file" 2> /dev/null \
    || fail "the certmonger daemon did not fetch the caps and certificates of CA $1"
}

# --- 2. enrollment with the challenge (automatic approval) --------------------------------------
add_ca scepd
THUMB=$(gc list-cas -c scepd | sed -n 's/.*SCEP CA certificate thumbprint (SHA1): //p' | tr -d ' ') || true
[ "$THUMB" = "$(openssl x509 -in "$CA/ca.pem" -noout -fingerprint -sha1 | sed 's/.*=//; s/://g')" ] \
  || fail "getcert list-cas does not show our CA certificate's thumbprint: '$THUMB'"
grep -q '^ca_capabilities=AES,.*SHA-256' "$(saved_file scepd "$CM/cas")" \
  || fail "the daemon did not store our capabilities"
ok "getcert add-scep-ca: the daemon fetches our caps and CA certificate itself"

rc=0
gc request -c scepd -k "$CM/enroll.key" -f "$CM/enroll.pem" -N "CN=cm-enroll,O=Interop" \
  -L s3cret -I enroll -w --wait-timeout 25 > enroll.txt 2>&1 || rc=$?
[ "$rc" = 0 ] || fail "getcert request exited $rc ($(cm_status enroll)): $(tail -n 1 enroll.txt)"
[ "$(cm_status enroll)" = MONITORING ] || fail "request enroll is $(cm_status enroll), not MONITORING"
check_issued "$CM/enroll.pem" "$CM/enroll.key" "$CA/ca.pem" cm-enroll
openssl x509 -in "$CM/enroll.pem" -noout -checkend 86400 > /dev/null \
  || fail "the issued certificate expires within a day"
TX=$(tx_of "$CM/enroll.key") || fail "cannot read certmonger's key $CM/enroll.key"
log_has "GET PKIOperation PKCSReq tid=$TX .* SUCCESS"
ok "getcert request: PKCSReq by GET, SUCCESS, certificate checked with openssl"

# --- 2b. renewal -----------------------------------------------------------------------------
# `getcert resubmit` re-sends a PKCSReq with the same key and transactionID, signed by the
# certificate it holds: scepd takes it as a renewal of that certificate (stored under
# TRANSACTIONID~OLDSERIAL; with the default renewal window it would be "too early to renew").
OLD_SERIAL=$(openssl x509 -in "$CM/enroll.pem" -noout -serial | cut -d= -f2)
rc=0
gc resubmit -i enroll -w --wait-timeout 25 > resubmit.txt 2>&1 || rc=$?
[ "$rc" = 0 ] || fail "getcert resubmit exited $rc ($(cm_status enroll)): $(tail -n 1 resubmit.txt)"
[ "$(cm_status enroll)" = MONITORING ] || fail "request enroll is $(cm_status enroll) after resubmit"
NEW_SERIAL=$(openssl x509 -in "$CM/enroll.pem" -noout -serial | cut -d= -f2)
[ "$NEW_SERIAL" != "$OLD_SERIAL" ] || fail "getcert resubmit kept the old certificate"
check_issued "$CM/enroll.pem" "$CM/enroll.key" "$CA/ca.pem" cm-enroll
[ "$(grep -c "GET PKIOperation PKCSReq tid=$TX .* SUCCESS" "$WORK/scepd.log")" = 2 ] \
  || fail "scepd's log does not show the renewal's SUCCESS for transaction $TX"
sqlite3 "file:$CA/scepd.db?mode=ro" "SELECT cert_serial FROM requests WHERE transaction_id = '$TX~$OLD_SERIAL'" \
  | grep -qx "$NEW_SERIAL" || fail "the new certificate is not recorded as a renewal of $OLD_SERIAL"
ok "getcert resubmit: a PKCSReq signed by the old certificate renews it (new serial, same key)"

# `getcert rekey`: a new key, its own transactionID, a PKCSReq signed by the current certificate.
OLD_PUB=$(openssl pkey -in "$CM/enroll.key" -pubout)
OLD_SERIAL=$NEW_SERIAL
rc=0
gc rekey -i enroll -w --wait-timeout 25 > rekey.txt 2>&1 || rc=$?
[ "$rc" = 0 ] || fail "getcert rekey exited $rc ($(cm_status enroll)): $(tail -n 1 rekey.txt)"
[ "$(cm_status enroll)" = MONITORING ] || fail "request enroll is $(cm_status enroll) after rekey"
[ "$(openssl pkey -in "$CM/enroll.key" -pubout)" != "$OLD_PUB" ] || fail "getcert rekey kept the old key"
NEW_SERIAL=$(openssl x509 -in "$CM/enroll.pem" -noout -serial | cut -d= -f2)
check_issued "$CM/enroll.pem" "$CM/enroll.key" "$CA/ca.pem" cm-enroll
TX2=$(tx_of "$CM/enroll.key") || fail "cannot read certmonger's new key"
sqlite3 "file:$CA/scepd.db?mode=ro" "SELECT cert_serial FROM requests WHERE transaction_id = '$TX2~$OLD_SERIAL'" \
  | grep -qx "$NEW_SERIAL" || fail "the rekeyed certificate is not recorded as a renewal of $OLD_SERIAL"
ok "getcert rekey: a new key renews the certificate (PKCSReq signed by the old certificate)"

# --- 3. a wrong challenge -----------------------------------------------------------------------
rc=0
gc request -c scepd -k "$CM/bad.key" -f "$CM/bad.pem" -N "CN=cm-bad,O=Interop" -L wrong \
  -I bad -w --wait-timeout 25 > bad.txt 2>&1 || rc=$?
[ "$rc" != 0 ] || fail "getcert request succeeded with a wrong challenge"
[ "$(cm_status bad)" = CA_REJECTED ] || fail "request bad is $(cm_status bad), not CA_REJECTED"
# certmonger shows its own text for failInfo badRequest, not scepd's failInfoText.
ERR=$(cm_field bad ca-error) || true
[[ $ERR == *"not permitted or is not supported"* ]] || fail "certmonger shows no badRequest error: $ERR"
[ ! -s "$CM/bad.pem" ] || fail "a certificate was written despite the wrong challenge"
KEY=$(enrolled_key bad "$CM/bad.key")
TX=$(tx_of "$KEY") || fail "cannot read certmonger's key $KEY"
log_has "GET PKIOperation PKCSReq tid=$TX .* FAILURE failInfo=badRequest"
ok "wrong challenge: CA_REJECTED, FAILURE failInfo=badRequest in scepd's log, no certificate"

# --- 4. manual approval -------------------------------------------------------------------------
# After PENDING the daemon schedules its next poll 604800 s (a week) later, and when it polls it
# sends the same PKCSReq again (same transactionID), not its GetCertInitial. `getcert refresh`
# makes it poll at once. The GetCertInitial it built (scep_gic in its request file) is sent here
# with its own `scep-submit -g`, as scripts/capture-vectors does.
start_scepd "$CA" --challenge s3cret --approve manual
add_ca manual
rc=0
gc request -c manual -k "$CM/manual.key" -f "$CM/manual.pem" -N "CN=cm-manual,O=Interop" \
  -L s3cret -I manual -w --wait-timeout 25 > manual.txt 2>&1 || rc=$?
[ "$rc" = 5 ] || fail "getcert request exited $rc, not 5 (still waiting): $(tail -n 1 manual.txt)"
wait_status manual CA_WORKING 5
KEY=$(enrolled_key manual "$CM/manual.key")
TX=$(tx_of "$KEY") || fail "cannot read certmonger's key $KEY"
log_has "GET PKIOperation PKCSReq tid=$TX .* PENDING"
"$SCEPD" pending --dir "$CA" > pending.txt || fail "scepd pending failed"
grep -q "CN=cm-manual" pending.txt || fail "scepd pending does not list CN=cm-manual"
[ ! -s "$CM/manual.pem" ] || fail "a certificate was written before approval"
ok "manual approval: PENDING, certmonger waits in CA_WORKING, scepd lists the request"

# What certmonger sent, from its request file: signed with SHA-256, an AES-256 envelope to the
# RA, a CSR for certmonger's key with the challenge. (grep reads files here, not pipes: grep -q
# on a pipe can SIGPIPE the writer, which pipefail turns into a failure.)
scep_msg manual req > pkcsreq.pem
openssl cms -cmsout -print -inform PEM -in pkcsreq.pem > pkcsreq.txt 2>&1 \
  || fail "openssl cannot read certmonger's PKCSReq (scep_req)"
[ "$(grep -E -A1 'digestAlgorithms?:' pkcsreq.txt | grep -c 'algorithm: sha256 ')" = 2 ] \
  || fail "the PKCSReq is not signed with SHA-256"
[ "$(grep -A2 '2.16.840.1.113733.1.9.2)' pkcsreq.txt | grep -c 'PRINTABLESTRING:19$')" = 1 ] \
  || fail "certmonger's scep_req is not a PKCSReq (messageType 19)"
[ "$(grep -A2 '2.16.840.1.113733.1.9.7)' pkcsreq.txt | grep -c "PRINTABLESTRING:$TX\$")" = 1 ] \
  || fail "certmonger's scep_req does not carry the transactionID $TX"
openssl cms -verify -noverify -binary -inform PEM -in pkcsreq.pem -out envelope.der 2> /dev/null \
  || fail "the PKCSReq signature does not verify"
openssl cms -cmsout -print -inform DER -in envelope.der > envelope.txt
grep -A1 contentEncryptionAlgorithm envelope.txt > cipher.txt
grep -q 'aes-256-cbc' cipher.txt || fail "the PKCSReq envelope is not AES-256-CBC: $(cat cipher.txt)"
# openssl opens the envelope with the RA key file; a token's RA key (tests/hsm/run-all) only
# scepd can use, which the enrollments below prove.
if [ -z "${SCEP_TEST_TOKEN_URI:-}" ]; then
  openssl cms -decrypt -binary -inform DER -in envelope.der -recip "$CA/ra.pem" \
    -inkey "$CA/ra.key" -out csr.der 2> /dev/null || fail "the RA key cannot open the PKCSReq envelope"
  openssl req -inform DER -in csr.der -noout -text > csr.txt
  grep -q 'challengePassword *: *s3cret$' csr.txt || fail "the CSR does not carry the challenge"
  [ "$(openssl req -inform DER -in csr.der -noout -pubkey | openssl sha256)" = \
    "$(openssl pkey -in "$KEY" -pubout | openssl sha256)" ] || fail "the CSR is not for certmonger's key"
fi
ok "certmonger's PKCSReq: SHA-256, AES-256-CBC to the RA, CSR with its key and the challenge"

scep_msg manual gic > gic.pem
grep -q 'BEGIN PKCS7' gic.pem || fail "no GetCertInitial (scep_gic) in certmonger's request file"
rc=0; timeout 20 "$SUBMIT" -u "$URL" -r ra.pem -N ca.pem -g gic.pem > gic1.txt 2> gic1.err || rc=$?
[ "$rc" = 1 ] || [ "$rc" = 5 ] \
  || fail "scep-submit -g before approval exited $rc, not 1 or 5 (waiting): $(head -n 1 gic1.err)"
log_has "GET PKIOperation CertPoll tid=$TX .* PENDING"

"$SCEPD" approve --dir "$CA" --all > approve.txt || fail "scepd approve failed"
SERIAL=$(sed -n "s/.*issued serial \([0-9A-Fa-f]*\) to .*CN=cm-manual.*/\1/p" approve.txt)
[ -n "$SERIAL" ] || fail "scepd approve did not issue CN=cm-manual: $(cat approve.txt)"

rc=0; timeout 20 "$SUBMIT" -u "$URL" -r ra.pem -N ca.pem -g gic.pem > gic2.pem 2> gic2.err || rc=$?
[ "$rc" = 0 ] || fail "scep-submit -g after approval exited $rc: $(head -n 1 gic2.err)"
log_has "GET PKIOperation CertPoll tid=$TX .* SUCCESS"
# It prints the reply's pkcsPKIEnvelope, encrypted to certmonger's signer: the CSR key.
openssl cms -cmsout -print -inform PEM -in gic2.pem > gic2.txt || fail "scep-submit -g printed no envelope"
grep -A1 contentEncryptionAlgorithm gic2.txt > cipher2.txt
grep -q 'aes-256-cbc' cipher2.txt \
  || fail "the CertRep envelope is not AES-256-CBC (the request's cipher): $(cat cipher2.txt)"
openssl cms -decrypt -binary -inform PEM -in gic2.pem -inkey "$KEY" -out certs.der 2> /dev/null \
  || fail "certmonger's key cannot open the CertRep envelope"
openssl pkcs7 -inform DER -in certs.der -print_certs > gic-cert.pem \
  || fail "no certs-only PKCS#7 in the CertRep"
check_issued gic-cert.pem "$KEY" "$CA/ca.pem" cm-manual
[ "$(openssl x509 -in gic-cert.pem -noout -serial)" = "serial=$SERIAL" ] \
  || fail "GetCertInitial got another certificate than the approved one"
ok "certmonger's GetCertInitial (scep-submit -g): PENDING, then after approval the certificate"

gc refresh -i manual > refresh.txt 2>&1 || fail "getcert refresh: $(cat refresh.txt)"
wait_status manual MONITORING 20
check_issued "$CM/manual.pem" "$CM/manual.key" "$CA/ca.pem" cm-manual
[ "$(openssl x509 -in "$CM/manual.pem" -noout -serial)" = "serial=$SERIAL" ] \
  || fail "certmonger got another certificate than the approved one"
log_has "GET PKIOperation PKCSReq tid=$TX .* SUCCESS"
ok "getcert refresh after approval: the repeated PKCSReq gets the approved certificate"

# --- manual rejection ---------------------------------------------------------------------------
rc=0
gc request -c manual -k "$CM/reject.key" -f "$CM/reject.pem" -N "CN=cm-reject,O=Interop" \
  -L s3cret -I reject -w --wait-timeout 25 > reject.txt 2>&1 || rc=$?
[ "$rc" = 5 ] || fail "getcert request exited $rc, not 5 (still waiting): $(tail -n 1 reject.txt)"
wait_status reject CA_WORKING 5
ID=$("$SCEPD" pending --dir "$CA" | awk '/CN=cm-reject/ {print $1}') || fail "scepd pending failed"
[ -n "$ID" ] || fail "scepd pending does not list CN=cm-reject"
"$SCEPD" reject --dir "$CA" "$ID" --reason "not on the device list" > /dev/null \
  || fail "scepd reject failed"
gc refresh -i reject > refresh2.txt 2>&1 || fail "getcert refresh: $(cat refresh2.txt)"
wait_status reject CA_REJECTED 20
[ ! -s "$CM/reject.pem" ] || fail "a certificate was written despite the rejection"
KEY=$(enrolled_key reject "$CM/reject.key")
TX=$(tx_of "$KEY") || fail "cannot read certmonger's key $KEY"
log_has "GET PKIOperation PKCSReq tid=$TX .* FAILURE failInfo=badRequest .*not on the device list"
ok "manual rejection: certmonger ends in CA_REJECTED"

# --- the daemon kept to its private state -------------------------------------------------------
readlink "/proc/$CM_PID/fd/"* > daemon-fds.txt 2> /dev/null || true
! grep -q '^/var/lib/certmonger' daemon-fds.txt \
  || fail "the private certmonger daemon holds files in /var/lib/certmonger"
grep -qx "$CM/lock" daemon-fds.txt || fail "the private certmonger daemon does not hold its lock in $CM"
for id in enroll bad manual reject; do
  [ -n "$(saved_file $id "$CM/requests")" ] || fail "certmonger did not save request $id in $CM/requests"
done
! grep -rqs -- "$WORK" /var/lib/certmonger || fail "/var/lib/certmonger mentions this test's $WORK"
ok "the daemon kept its lock and requests under \$WORK, nothing in /var/lib/certmonger"
finish
