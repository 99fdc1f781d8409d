#!/usr/bin/env bash
# Our client `scep` against our server `scepd`, in RA mode and in CA mode: getcaps, getca with
# pinning, enroll (RSA, EC, SAN, GET), wrong challenge, manual approval with polling and with
# resuming, getcert, renew with a new key, getcrl after a revocation, and getnextca (the
# server has no rollover yet).
#
#   SCEP / SCEPD   the binaries (default: build/scep, build/scepd)
#   KEEP_WORK=1    keep the work folder
source "$(dirname "$0")/../interop/lib.sh"
SCEP=${SCEP:-$ROOT/build/scep}
FAKE=$ROOT/tests/integration/fake_scep_server.py
[ -x "$SCEP" ] || fail "no client at $SCEP"

PROXY_PID=""
POLLER=""
stop_proxy() {
  [ -n "$PROXY_PID" ] || return 0
  kill "$PROXY_PID" 2>/dev/null || true
  wait "$PROXY_PID" 2>/dev/null || true
  PROXY_PID=""
}
stop_poller() {
  [ -n "$POLLER" ] || return 0
  kill "$POLLER" 2>/dev/null || true
  wait "$POLLER" 2>/dev/null || true
  POLLER=""
}
trap 'stop_poller; stop_proxy; cleanup' EXIT

# start_proxy MODE [fake_scep_server flags]: the python proxy in front of $URL; sets PURL.
start_proxy() {
  stop_proxy
  local mode=$1; shift
  rm -f "$WORK/proxy.port"
  python3 "$FAKE" --upstream "$URL" --mode "$mode" --port-file "$WORK/proxy.port" "$@" \
    >> "$WORK/proxy.log" 2>&1 &
  PROXY_PID=$!
  for _ in $(seq 1 600); do
    [ -s "$WORK/proxy.port" ] && break
    kill -0 "$PROXY_PID" 2>/dev/null || fail "the python proxy died: $(tail -n 3 "$WORK/proxy.log")"
    sleep 0.05
  done
  [ -s "$WORK/proxy.port" ] || fail "the python proxy did not start"
  PURL="http://127.0.0.1:$(cat "$WORK/proxy.port")/scep"
}

der() { openssl x509 -in "$1" -outform DER; }
same_cert() { cmp -s <(der "$1") <(der "$2"); }
fingerprint_of() { sha256sum "$1" | cut -d' ' -f1; }
# The transactionID the client printed with -v.
tid_of() { sed -n 's/.*transactionID \([0-9A-Fa-f]*\).*/\1/p' "$1" | head -n 1; }

CHALLENGE=s3cret

suite() {
  local mode=$1 # ra or ca
  local D=$WORK/$mode
  mkdir -p "$D"
  local CA=$D/ca
  if [ "$mode" = ra ]; then new_ca "$CA" --ra; else new_ca "$CA"; fi
  local FP
  FP=$(sed -n 's/^CA SHA-256 fingerprint: //p' "$CA.init.txt")
  [ -n "$FP" ] || fail "[$mode] scepd init printed no SHA-256 fingerprint"
  start_scepd "$CA" --challenge "$CHALLENGE"
  cd "$D"

  # --- GetCACaps
  run_scep 0 "[$mode] getcaps" getcaps -u "$URL"
  for w in AES SHA-256 POSTPKIOperation SCEPStandard; do
    grep -qx "$w" "$OUT" || fail "[$mode] getcaps does not list $w: $(tr '\n' ' ' < "$OUT")"
  done
  grep -q "would use AES-128-CBC + SHA-256 over POST" "$OUT" \
    || fail "[$mode] getcaps does not show the choice AES-128 + SHA-256 over POST: $(tail -n 1 "$OUT")"
  ok "[$mode] getcaps lists the capabilities and picks AES-128 + SHA-256 over POST"

  # --- GetCACert with pinning: a wrong fingerprint first (last hex digit changed).
  local last=${FP: -1} bad
  if [ "$last" = 0 ]; then bad=${FP%?}1; else bad=${FP%?}0; fi
  run_scep 7 "[$mode] getca with a wrong fingerprint" getca -u "$URL" -o cadir-bad --fingerprint "$bad"
  grep -qi "fingerprint" "$ERR" || fail "[$mode] the fingerprint mismatch is not explained: $(cat "$ERR")"
  if [ -e cadir-bad ] && [ -n "$(ls -A cadir-bad)" ]; then
    fail "[$mode] getca saved files despite the wrong fingerprint: $(ls cadir-bad)"
  fi
  ok "[$mode] getca with a wrong fingerprint: exit 7, nothing saved"

  run_scep 0 "[$mode] getca" getca -u "$URL" -o cadir --fingerprint "$FP"
  [ -s cadir/certs.pem ] || fail "[$mode] getca saved no certs.pem"
  same_cert cadir/ca.pem "$CA/ca.pem" || fail "[$mode] getca saved another CA certificate"
  if [ "$mode" = ra ]; then
    same_cert cadir/ra.pem "$CA/ra.pem" || fail "[$mode] getca saved no or another RA certificate"
  else
    [ ! -e cadir/ra.pem ] || fail "[$mode] getca saved an RA certificate for a CA without RA"
  fi
  # The SHA-1 fingerprint pins too, in lower case without colons.
  local sha1
  sha1=$(openssl x509 -in "$CA/ca.pem" -noout -fingerprint -sha1 | cut -d= -f2 | tr -d : | tr A-F a-f)
  run_scep 0 "[$mode] getca with the SHA-1 fingerprint" getca -u "$URL" -o cadir-sha1 --fingerprint "$sha1"
  same_cert cadir-sha1/ca.pem "$CA/ca.pem" || fail "[$mode] getca (SHA-1 pin) saved another CA certificate"
  ok "[$mode] getca with the SHA-256 (and SHA-1) fingerprint saves the CA$([ "$mode" = ra ] && echo " and RA") certificates"

  # --- enroll: a new RSA key, generated 0600.
  run_scep 0 "[$mode] enroll RSA" enroll -u "$URL" --ca cadir --key rsa.key --out rsa.pem \
    --subject "CN=$mode-rsa,O=scep tests" --challenge "$CHALLENGE" -v
  [ "$(stat -c %a rsa.key)" = 600 ] || fail "[$mode] the new key is mode $(stat -c %a rsa.key), not 0600"
  openssl pkey -in rsa.key -noout -text 2>/dev/null | grep -q "Private-Key: (2048 bit" \
    || fail "[$mode] the new key is not RSA-2048"
  check_issued rsa.pem rsa.key "$CA/ca.pem" "$mode-rsa"
  local tid
  tid=$(tid_of "$ERR")
  [ -n "$tid" ] || fail "[$mode] enroll -v printed no transactionID"
  log_has "POST PKIOperation PKCSReq tid=$tid http=200 SUCCESS"
  ok "[$mode] enroll with challenge: RSA-2048 key generated 0600, certificate checked with openssl"

  # --- enroll with an EC key, through a recording proxy: the CertRep envelope must be
  # password-based (PasswordRecipientInfo keyed by the challenge, RFC 8894 section 3.1).
  mkdir -p rec-ec
  start_proxy pass --record "$D/rec-ec"
  run_scep 0 "[$mode] enroll EC" enroll -u "$PURL" --ca cadir --key ec.key --out ec.pem \
    --key-type ec:P-256 --subject "CN=$mode-ec" --challenge "$CHALLENGE"
  stop_proxy
  openssl pkey -in ec.key -noout -text 2>/dev/null | grep -q "prime256v1" || fail "[$mode] ec.key is not P-256"
  [ "$(stat -c %a ec.key)" = 600 ] || fail "[$mode] the new EC key is not 0600"
  check_issued ec.pem ec.key "$CA/ca.pem" "$mode-ec"
  [ -s rec-ec/reply-1.der ] || fail "[$mode] the proxy recorded no CertRep"
  openssl cms -verify -noverify -inform DER -in rec-ec/reply-1.der -binary -out rec-ec/env.der \
    > /dev/null 2>&1 || fail "[$mode] the EC CertRep is not SignedData"
  openssl cms -cmsout -print -inform DER -in rec-ec/env.der > rec-ec/env.txt 2>&1 \
    || fail "[$mode] the EC CertRep content is not CMS"
  grep -q "d.pwri:" rec-ec/env.txt || fail "[$mode] the EC CertRep envelope has no PasswordRecipientInfo"
  grep -q "d.ktri:" rec-ec/env.txt && fail "[$mode] the EC CertRep envelope also has a KeyTransRecipientInfo"
  ok "[$mode] enroll with --key-type ec:P-256: EC certificate, reply enveloped with PasswordRecipientInfo"

  # --- enroll with subjectAltNames.
  run_scep 0 "[$mode] enroll with SAN" enroll -u "$URL" --ca cadir --key san.key --out san.pem \
    --subject "CN=$mode-san,O=scep tests" --san "dns:$mode-san.example,ip:192.0.2.10" \
    --challenge "$CHALLENGE"
  check_issued san.pem san.key "$CA/ca.pem" "$mode-san"
  local sans
  sans=$(openssl x509 -in san.pem -noout -ext subjectAltName | tail -n +2 | tr -d ' ')
  [ "$sans" = "DNS:$mode-san.example,IPAddress:192.0.2.10" ] \
    || fail "[$mode] the SAN is '$sans', expected DNS:$mode-san.example, IP Address:192.0.2.10"
  ok "[$mode] enroll with --san dns:,ip: copies both names"

  # --- enroll over GET: scepd always advertises POSTPKIOperation (and SCEPStandard, which
  # implies it), so the proxy removes both from GetCACaps and forwards everything else.
  mkdir -p rec-get
  start_proxy nopost --record "$D/rec-get"
  run_scep 0 "[$mode] getcaps via the no-POST proxy" getcaps -u "$PURL"
  grep -q "over GET" "$OUT" || fail "[$mode] without POSTPKIOperation the client does not pick GET: $(tail -n 1 "$OUT")"
  run_scep 0 "[$mode] enroll over GET" enroll -u "$PURL" --ca cadir --key get.key --out get.pem \
    --subject "CN=$mode-get" --challenge "$CHALLENGE" -v
  stop_proxy
  check_issued get.pem get.key "$CA/ca.pem" "$mode-get"
  tid=$(tid_of "$ERR")
  log_has "GET PKIOperation PKCSReq tid=$tid http=200 SUCCESS"
  grep -q "^1 nopost GET$" rec-get/pkioperations || fail "[$mode] the proxy saw no GET PKIOperation"
  ok "[$mode] enroll over GET when POSTPKIOperation is not advertised"

  # --- wrong challenge: FAILURE (exit 4); no certificate; existing files untouched.
  run_scep 4 "[$mode] enroll with a wrong challenge" enroll -u "$URL" --ca cadir --key bad.key \
    --out bad.pem --subject "CN=$mode-bad" --challenge wrong
  grep -q "badRequest" "$ERR" || fail "[$mode] the client did not report badRequest: $(cat "$ERR")"
  [ ! -e bad.pem ] || fail "[$mode] a certificate file was written despite the wrong challenge"
  [ ! -e bad.pem.pending ] || fail "[$mode] a pending state was left after FAILURE"
  # Again over existing files: a key made beforehand (one scepd has not seen: scepd answers a
  # key it has already issued for with that transaction's certificate, whatever the challenge)
  # and a certificate file from before.
  openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out old.key 2> /dev/null \
    || fail "openssl genpkey"
  cp rsa.pem old.pem
  local key_before cert_before
  key_before=$(fingerprint_of old.key)
  cert_before=$(fingerprint_of old.pem)
  run_scep 4 "[$mode] enroll with a wrong challenge over existing files" enroll -u "$URL" \
    --ca cadir --key old.key --out old.pem --subject "CN=$mode-bad" --challenge wrong
  [ "$(fingerprint_of old.key)" = "$key_before" ] || fail "[$mode] the key was changed by a refused enrollment"
  [ "$(fingerprint_of old.pem)" = "$cert_before" ] || fail "[$mode] the certificate was changed by a refused enrollment"
  log_has "PKCSReq .* FAILURE failInfo=badRequest"
  "$SCEPD" certs --dir "$CA" | grep -q "$mode-bad" && fail "[$mode] a certificate was issued to $mode-bad"
  ok "[$mode] wrong challenge: exit 4 (badRequest), no certificate written, existing files untouched"

  # --- getcert by serial: the same certificate; an unknown serial is a FAILURE.
  local serial
  serial=$(openssl x509 -in san.pem -noout -serial | cut -d= -f2)
  run_scep 0 "[$mode] getcert" getcert -u "$URL" --ca cadir --cert rsa.pem --key rsa.key \
    --serial "$serial" --out got.pem
  same_cert got.pem san.pem || fail "[$mode] getcert $serial returned another certificate"
  run_scep 4 "[$mode] getcert of an unknown serial" getcert -u "$URL" --ca cadir --cert rsa.pem \
    --key rsa.key --serial 0DEADBEEF0 --out unknown.pem
  [ ! -e unknown.pem ] || fail "[$mode] getcert of an unknown serial wrote a file"
  ok "[$mode] getcert --serial returns the issued certificate; an unknown serial gives exit 4"

  # --- renew with a new key: a new certificate for the new key, old subject and SAN.
  # (scepd still wants the challenge for renewals, hence --challenge; its renewal window opens
  # at half the lifetime by default, so open it now.)
  start_scepd "$CA" --challenge "$CHALLENGE" --set renewal_window=0%
  key_before=$(fingerprint_of san.key)
  cert_before=$(fingerprint_of san.pem)
  run_scep 0 "[$mode] renew --new-key" renew -u "$URL" --ca cadir --cert san.pem --key san.key \
    --new-key san2.key --out san2.pem --challenge "$CHALLENGE" -v
  if grep -q "^Renewal$" <(timeout 10 "$SCEP" getcaps -u "$URL"); then
    tid=$(tid_of "$ERR")
    log_has "PKIOperation RenewalReq tid=$tid http=200 SUCCESS"
  fi
  [ "$(stat -c %a san2.key)" = 600 ] || fail "[$mode] the new renewal key is not 0600"
  check_issued san2.pem san2.key "$CA/ca.pem" "$mode-san"
  [ "$(openssl x509 -in san2.pem -noout -subject -nameopt RFC2253)" = \
    "$(openssl x509 -in san.pem -noout -subject -nameopt RFC2253)" ] || fail "[$mode] the renewed subject differs"
  [ "$(openssl x509 -in san2.pem -noout -ext subjectAltName)" = \
    "$(openssl x509 -in san.pem -noout -ext subjectAltName)" ] || fail "[$mode] the renewed SAN differs"
  [ "$(openssl x509 -in san2.pem -noout -serial)" != "$(openssl x509 -in san.pem -noout -serial)" ] \
    || fail "[$mode] the renewal returned the old certificate"
  [ "$(fingerprint_of san.key)" = "$key_before" ] || fail "[$mode] renew changed the old key"
  [ "$(fingerprint_of san.pem)" = "$cert_before" ] || fail "[$mode] renew --out changed the old certificate"
  ok "[$mode] renew --new-key: a new certificate for the new key, same subject and SAN"

  # --- renew an EC certificate without a challenge (none is needed for renewals): no password
  # for a PasswordRecipientInfo, so the CertRep is a KeyAgreeRecipientInfo (ECDH) to the old
  # certificate; the store gains exactly the certificate the client received.
  run_scep 0 "[$mode] enroll EC to renew" enroll -u "$URL" --ca cadir --key ecr.key --out ecr.pem \
    --key-type ec:P-256 --subject "CN=$mode-ecr" --challenge "$CHALLENGE"
  mkdir -p rec-ecr
  start_proxy pass --record "$D/rec-ecr"
  run_scep 0 "[$mode] renew EC without a challenge" renew -u "$PURL" --ca cadir --cert ecr.pem \
    --key ecr.key --new-key ecr2.key --key-type ec:P-256 --out ecr2.pem
  stop_proxy
  check_issued ecr2.pem ecr2.key "$CA/ca.pem" "$mode-ecr"
  openssl cms -verify -noverify -inform DER -in rec-ecr/reply-1.der -binary -out rec-ecr/env.der \
    > /dev/null 2>&1 || fail "[$mode] the EC renewal CertRep is not SignedData"
  openssl cms -cmsout -print -inform DER -in rec-ecr/env.der > rec-ecr/env.txt 2>&1 \
    || fail "[$mode] the EC renewal CertRep content is not CMS"
  grep -q "d.kari:" rec-ecr/env.txt || fail "[$mode] the EC renewal envelope has no KeyAgreeRecipientInfo"
  [ "$("$SCEPD" certs --dir "$CA" --subject "$mode-ecr" | grep -c "$mode-ecr")" = 2 ] \
    || fail "[$mode] the store does not hold exactly the two EC certificates: $("$SCEPD" certs --dir "$CA" --subject "$mode-ecr")"
  ok "[$mode] renew of an EC certificate without a challenge: KeyAgreeRecipientInfo, no orphan in the store"

  # --- GetCRL: revoke the EC certificate with scepd, then the CRL the client fetches must be
  # signed by the CA and list that serial (and not a certificate still valid).
  local ec_serial rsa_serial
  ec_serial=$(openssl x509 -in ec.pem -noout -serial | cut -d= -f2)
  rsa_serial=$(openssl x509 -in rsa.pem -noout -serial | cut -d= -f2)
  "$SCEPD" revoke --dir "$CA" "$ec_serial" --reason keyCompromise > revoke.txt 2>&1 \
    || fail "[$mode] scepd revoke $ec_serial: $(cat revoke.txt)"
  run_scep 0 "[$mode] getcrl" getcrl -u "$URL" --ca cadir --cert rsa.pem --key rsa.key --out crl.pem
  openssl crl -in crl.pem -CAfile "$CA/ca.pem" -noout > crl-verify.txt 2>&1 \
    && grep -q "verify OK" crl-verify.txt || fail "[$mode] the CRL does not verify against the CA: $(cat crl-verify.txt)"
  openssl crl -in crl.pem -noout -text > crl.txt || fail "[$mode] crl.pem is not a CRL"
  grep -A 4 "Serial Number: $ec_serial" crl.txt | grep -q "Key Compromise" \
    || fail "[$mode] the CRL does not list $ec_serial as keyCompromise"
  grep -q "Serial Number: $rsa_serial" crl.txt && fail "[$mode] the CRL lists the valid certificate $rsa_serial"
  ok "[$mode] getcrl after scepd revoke: a CRL signed by the CA listing the revoked serial"

  # --- Not built yet in scepd: no next CA certificate (GetNextCACert answers HTTP 404: exit 3).
  # Update when the server can prepare a rollover.
  run_scep 3 "[$mode] getnextca" getnextca -u "$URL" --ca cadir -o nextca
  if [ -e nextca ] && [ -n "$(ls -A nextca)" ]; then fail "[$mode] getnextca saved files"; fi
  ok "[$mode] getnextca gives exit 3 (no next CA yet), nothing saved"
}

manual() {
  local D=$WORK/ra CA=$WORK/ra/ca
  cd "$D"
  start_scepd "$CA" --challenge "$CHALLENGE" --approve manual

  # A client polling in the background; an operator approves; the client gets its certificate.
  local polls
  polls=$(log_count "CertPoll tid=.* http=200 PENDING")
  timeout 60 "$SCEP" enroll -u "$URL" --ca cadir --key man.key --out man.pem --subject "CN=ra-manual" \
    --challenge "$CHALLENGE" --poll-interval 1 --max-poll-time 30 -v > man.out 2> man.err &
  POLLER=$!
  local found=0
  for _ in $(seq 1 150); do
    "$SCEPD" pending --dir "$CA" | grep -q "CN=ra-manual" && { found=1; break; }
    sleep 0.2
  done
  [ "$found" = 1 ] || fail "[manual] the request did not appear in scepd pending"
  wait_for "[manual] the client did not poll while pending" more_lines "CertPoll tid=.* http=200 PENDING" "$polls"
  # The operator sees the whole transactionID, as the client's state file (and log) has it.
  local tid
  tid=$(head -n 1 man.pem.pending) || fail "[manual] no state file while pending"
  [ "${#tid}" -ge 40 ] || fail "[manual] unexpectedly short transactionID: $tid"
  "$SCEPD" pending --dir "$CA" | grep -qw -- "$tid" || fail "[manual] scepd pending does not show the whole transactionID $tid"
  "$SCEPD" approve --dir "$CA" --all > approve.txt || fail "[manual] scepd approve --all failed"
  local rc=0
  wait "$POLLER" || rc=$?
  POLLER=""
  [ "$rc" = 0 ] || fail "[manual] the polling client exited $rc: $(tail -n 3 man.err)"
  check_issued man.pem man.key "$CA/ca.pem" ra-manual
  local tid
  tid=$(tid_of man.err)
  log_has "PKCSReq tid=$tid http=200 PENDING"
  log_has "CertPoll tid=$tid http=200 PENDING"
  log_has "CertPoll tid=$tid http=200 SUCCESS"
  [ ! -e man.pem.pending ] || fail "[manual] the state file is left after SUCCESS"
  ok "[manual] PENDING, CertPoll while pending, scepd approve --all, the client gets the certificate"

  # Giving up while pending: exit 5 and a state file; after approval the same command resumes
  # the same transaction with CertPoll (no new PKCSReq) and gets the certificate.
  run_scep 5 "[manual] enroll with --max-poll-time 2" enroll -u "$URL" --ca cadir --key res.key \
    --out res.pem --subject "CN=ra-resume" --challenge "$CHALLENGE" --poll-interval 1 \
    --max-poll-time 2 -v
  tid=$(tid_of "$ERR")
  [ -n "$tid" ] || fail "[manual] no transactionID printed"
  grep -qi "pending" "$ERR" || fail "[manual] exit 5 without saying PENDING: $(tail -n 1 "$ERR")"
  [ ! -e res.pem ] || fail "[manual] a certificate file exists while pending"
  [ -s res.pem.pending ] || fail "[manual] no res.pem.pending state file after exit 5"
  [ "$(head -n 1 res.pem.pending)" = "$tid" ] || fail "[manual] the state file holds another transactionID"
  local id
  id=$("$SCEPD" pending --dir "$CA" | awk '/CN=ra-resume/ {print $1}')
  [ -n "$id" ] || fail "[manual] the request is not in scepd pending"
  "$SCEPD" approve --dir "$CA" "$id" > approve2.txt || fail "[manual] scepd approve $id failed"
  run_scep 0 "[manual] enroll resumed" enroll -u "$URL" --ca cadir --key res.key --out res.pem \
    --subject "CN=ra-resume" --challenge "$CHALLENGE" --poll-interval 1 --max-poll-time 10 -v
  grep -q "resuming transaction $tid" "$ERR" || fail "[manual] the client did not say it resumes $tid"
  check_issued res.pem res.key "$CA/ca.pem" ra-resume
  log_has "CertPoll tid=$tid http=200 SUCCESS"
  [ "$(grep -c "PKCSReq tid=$tid" "$WORK/scepd.log")" = 1 ] \
    || fail "[manual] the resumed run sent another PKCSReq instead of polling"
  [ ! -e res.pem.pending ] || fail "[manual] the state file is left after SUCCESS"
  ok "[manual] --max-poll-time 2 gives exit 5 and res.pem.pending; after approval the rerun resumes $tid with CertPoll"
}

SECONDS=0
suite ra
suite ca
manual
echo "# $NAME took ${SECONDS}s"
finish
