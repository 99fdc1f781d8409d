#!/usr/bin/env bash
# Our client `scep` against smallstep step-ca 0.19 (SCEP provisioner), a second independent SCEP
# server, in both of its GetCACert forms: [intermediate, root] (INCLUDE_ROOT=1) and the bare
# intermediate (INCLUDE_ROOT=0). The issuing intermediate must be the encryption recipient,
# never the root. What step-ca does not implement (GetCert, GetCRL, GetNextCACert, CertPoll, EC
# requesters) must end in a clear message and a non-zero exit, not a crash or a hang.
# step-ca is built from Debian packages by ../shared/peers/stepca/build.sh into
# build/peers/stepca when the binary is missing (STEPCA= names another one). It listens on
# loopback only (its start.sh checks).
source "$(dirname "$0")/lib.sh"
SCEP=${SCEP:-$ROOT/build/scep}
PEER=${STEPCA_PEER:-$ROOT/../shared/peers/stepca}
STEPCA=${STEPCA:-$ROOT/build/peers/stepca/bin/step-ca}
[ -x "$SCEP" ] || fail "no client at $SCEP"
[ -x "$PEER/start.sh" ] || fail "no step-ca peer scripts in $PEER (the shared folder beside the repository)"
if [ ! -x "$STEPCA" ]; then
  echo "# $NAME: building step-ca into $ROOT/build/peers/stepca (once)"
  mkdir -p "$ROOT/build/peers"
  bash "$PEER/build.sh" "$ROOT/build/peers/stepca" > "$ROOT/build/peers/stepca-build.log" 2>&1 \
    || fail "building step-ca failed: $(tail -n 5 "$ROOT/build/peers/stepca-build.log")"
  STEPCA=$ROOT/build/peers/stepca/bin/step-ca
fi
export STEPCA

SCA=$WORK/stepca
PROXY_PID=""
trap 'stop_pid "$PROXY_PID"; bash "$PEER/stop.sh" "$SCA" > /dev/null 2>&1; cleanup' EXIT

# start_stepca VAR=VALUE...: (re)starts step-ca with the given knobs; sets URL. The PKI in
# $SCA/pki is made on the first start and kept.
start_stepca() {
  bash "$PEER/stop.sh" "$SCA" > /dev/null 2>&1 || true
  local port
  port=$(free_port)
  URL=$(env "$@" HTTPS_PORT="$(free_port)" bash "$PEER/start.sh" "$SCA" "$port" 2> "$WORK/start.err") \
    || fail "step-ca did not start ($*): $(tail -n 5 "$WORK/start.err")"
}
stepca_alive() {
  kill -0 "$(cat "$SCA/step-ca.pid")" 2>/dev/null || fail "step-ca died: $(tail -n 5 "$SCA/server.log")"
}

fp() { openssl x509 -in "$1" -noout -fingerprint -"$2" | cut -d= -f2; }
der_of() { openssl x509 -in "$1" -outform DER; }

SECONDS=0
cd "$WORK"
start_stepca INCLUDE_ROOT=1
INT=$SCA/pki/intermediate_ca.crt
ROOTCA=$SCA/pki/root_ca.crt
cat "$INT" "$ROOTCA" > chain.pem # the issuing CA first: check_issued compares with the first

# --- GetCACaps
run_scep 0 "getcaps" getcaps -u "$URL"
for w in Renewal POSTPKIOperation AES SHA-256 SHA-1; do
  grep -qx "$w" "$OUT" || fail "step-ca caps as read by scep lack $w: $(tr '\n' ' ' < "$OUT")"
done
grep -q "AES-128-CBC + SHA-256 over POST" "$OUT" || fail "the client would not use AES + SHA-256: $(tail -n 1 "$OUT")"
ok "getcaps reads step-ca's capabilities; the client picks AES-128-CBC + SHA-256 over POST"

# --- GetCACert = [intermediate, root]: the intermediate is the CA and the encryption recipient.
run_scep 0 "getca (chain)" getca -u "$URL" -o cadir
grep -q "^CA (issuing CA, also the encryption recipient): .*Intermediate CA" "$OUT" \
  || fail "getca does not name the intermediate as the encryption recipient: $(grep -v '^  ' "$OUT")"
grep -q "^chain (neither recipient nor signer): .*Root CA" "$OUT" \
  || fail "getca does not label the root as chain only: $(grep -v '^  ' "$OUT")"
cmp -s <(der_of cadir/ca.pem) <(der_of "$INT") || fail "getca saved another ca.pem than step-ca's intermediate"
[ "$(grep -c 'BEGIN CERTIFICATE' cadir/certs.pem)" = 2 ] || fail "certs.pem does not hold both certificates"
[ ! -e cadir/ra.pem ] || fail "getca saved an RA certificate; step-ca has none"
ok "getca, chain form: the intermediate is the CA and encryption recipient, the root is chain only"

# --- Pinning: the root (what step-ca's operators publish) or the intermediate; nothing else.
run_scep 0 "getca pinned by the root" getca -u "$URL" -o pin-root --fingerprint "$(fp "$ROOTCA" sha256)"
cmp -s <(der_of pin-root/ca.pem) <(der_of "$INT") || fail "pinning the root saved another CA"
run_scep 0 "getca pinned by the intermediate (SHA-1)" getca -u "$URL" -o pin-int --fingerprint "$(fp "$INT" sha1)"
BAD=$(fp "$ROOTCA" sha256 | tr '0-9A-F' '1-9A-F0')
run_scep 7 "getca with a wrong fingerprint" getca -u "$URL" -o pin-bad --fingerprint "$BAD"
grep -q "fingerprint $BAD" "$ERR" || fail "the refusal does not name the fingerprint: $(cat "$ERR")"
[ ! -e pin-bad ] || [ -z "$(ls -A pin-bad)" ] || fail "getca saved files despite a wrong fingerprint"
ok "getca --fingerprint accepts the root or the intermediate of the chain; a wrong one gives exit 7"

# --- enroll with the challenge (RSA), through a recording proxy to look at the CertRep.
recording_proxy "$URL"
run_scep 0 "enroll" enroll -u "$PURL" --ca cadir --key dev.key --out dev.pem -v \
  --subject "CN=sca-device,O=scep tests" --san dns:sca-device.example --challenge secret
stop_pid "$PROXY_PID"; PROXY_PID=""
check_issued dev.pem dev.key chain.pem sca-device
grep -q "negotiated AES-128-CBC + SHA-256" "$ERR" || fail "the request did not use SHA-256: $(cat "$ERR")"
grep -q "no enveloped recipient" "$SCA/server.log" && fail "step-ca could not decrypt a request"
[ -s rec/reply-1.der ] || fail "the proxy recorded no CertRep"
openssl cms -cmsout -print -inform DER -in rec/reply-1.der > rec/reply.txt 2>&1 || fail "step-ca's CertRep is not CMS"
grep -A 2 "digestAlgorithm:" rec/reply.txt | grep -q "algorithm: sha1 " \
  || fail "step-ca's CertRep is not signed with SHA-1 (this check expects what 0.19 sends)"
grep -A 1 "signatureAlgorithm:" rec/reply.txt | grep -q "sha1WithRSAEncryption" \
  || fail "step-ca's SignerInfo does not carry sha1WithRSAEncryption: $(grep -A 1 signatureAlgorithm: rec/reply.txt)"
ok "enroll (RSA, challenge): SHA-256 request; step-ca's SHA-1 / sha1WithRSAEncryption CertRep accepted"

# --- Renewal: step-ca demands the challenge on renewals too.
run_scep 4 "renew without the challenge" renew -u "$URL" --ca cadir --cert dev.pem --key dev.key --out renew-no.pem
grep -q "badRequest" "$ERR" || fail "renew without challenge: no badRequest reported: $(cat "$ERR")"
[ ! -e renew-no.pem ] || fail "renew without the challenge wrote a certificate"
run_scep 0 "renew" renew -u "$URL" --ca cadir --cert dev.pem --key dev.key --out dev2.pem --challenge secret -v
grep -q "sending RenewalReq" "$ERR" || fail "the client did not send a RenewalReq: $(cat "$ERR")"
check_issued dev2.pem dev.key chain.pem sca-device
[ "$(openssl x509 -in dev.pem -noout -serial)" != "$(openssl x509 -in dev2.pem -noout -serial)" ] \
  || fail "renew saved the old certificate again"
run_scep 0 "renew --new-key" renew -u "$URL" --ca cadir --cert dev2.pem --key dev.key --new-key dev3.key \
  --out dev3.pem --challenge secret
check_issued dev3.pem dev3.key chain.pem sca-device
ok "renew: FAILURE badRequest (exit 4) without the challenge; RenewalReq with it, also with a new key"

# --- What step-ca does not implement: one clear line and exit 3 each, nothing written.
# unsupported LABEL FILE WORD ARGS...: exit 3, one line naming HTTP 500 and WORD, no FILE.
unsupported() {
  local label=$1 file=$2 word=$3; shift 3
  run_scep 3 "$label" "$@"
  [ "$(wc -l < "$ERR")" = 1 ] || fail "$label: expected one error line: $(cat "$ERR")"
  grep -q "HTTP 500.*$word" "$ERR" || fail "$label: the message lacks 'HTTP 500 ... $word': $(cat "$ERR")"
  [ ! -e "$file" ] || fail "$label: $file was written"
}
SERIAL=$(openssl x509 -in dev.pem -noout -serial | cut -d= -f2)
unsupported "getcert" got.pem "not implemented" getcert -u "$URL" --ca cadir --cert dev.pem --key dev.key \
  --serial "$SERIAL" --out got.pem
unsupported "getcrl" got.crl "not implemented" getcrl -u "$URL" --ca cadir --cert dev.pem --key dev.key --out got.crl
unsupported "getnextca" next "GetNextCACert" getnextca -u "$URL" --ca cadir -o next
ok "GetCert, GetCRL, GetNextCACert: exit 3 with step-ca's reason (HTTP 500), nothing saved"

# CertPoll: resume a transaction left PENDING (step-ca never answers PENDING; the state file is
# what an earlier PENDING from another server would have left). The state must survive.
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out poll.key 2> /dev/null
openssl req -x509 -key poll.key -subj "/CN=sca-poll" -days 1 -out poll-signer.pem 2> /dev/null
{ openssl rand -hex 32 | tr a-f A-F; cat poll-signer.pem; } > poll.pem.pending
cp poll.pem.pending poll.pending.before
run_scep 3 "CertPoll" enroll -u "$URL" --ca cadir --key poll.key --out poll.pem --subject "CN=sca-poll" \
  --challenge secret
grep -q "resuming transaction" "$ERR" || fail "the client did not resume the transaction: $(cat "$ERR")"
grep -q "HTTP 500" "$ERR" || fail "CertPoll: the message does not name HTTP 500: $(cat "$ERR")"
cmp -s poll.pem.pending poll.pending.before || fail "CertPoll: the saved transaction was lost"
[ ! -e poll.pem ] || fail "CertPoll: a certificate was written"
ok "CertPoll: exit 3 (HTTP 500), the pending transaction is kept for a later try"

# An EC request key makes step-ca 0.19 panic (an empty reply): a clear message, exit 3.
run_scep 3 "enroll with an EC key" enroll -u "$URL" --ca cadir --key-type ec:P-256 --key ec.key \
  --out ec.pem --subject "CN=sca-ec" --challenge secret
grep -q "Empty reply from server" "$ERR" || fail "EC: the message does not say the reply was empty: $(cat "$ERR")"
[ ! -e ec.pem ] && [ ! -e ec.pem.pending ] || fail "EC: files were written for an empty reply"
stepca_alive
ok "enroll with an EC key: step-ca's empty reply gives exit 3 ($(cut -c1-80 "$ERR"))"

# --- GetCACert = the bare intermediate (step-ca's default form).
start_stepca INCLUDE_ROOT=0
run_scep 0 "getca (bare intermediate)" getca -u "$URL" -o cadir0 --fingerprint "$(fp "$INT" sha256)"
grep -q "^CA (issuing CA, also the encryption recipient): .*Intermediate CA" "$OUT" \
  || fail "getca (bare) does not name the intermediate: $(grep -v '^  ' "$OUT")"
[ "$(grep -c 'BEGIN CERTIFICATE' cadir0/certs.pem)" = 1 ] || fail "certs.pem (bare) holds more than the intermediate"
# The root is not sent in this form, so it cannot vouch for the intermediate.
run_scep 7 "getca (bare) pinned by the root" getca -u "$URL" -o cadir0-root --fingerprint "$(fp "$ROOTCA" sha256)"
run_scep 0 "enroll (bare)" enroll -u "$URL" --ca cadir0 --key dev0.key --out dev0.pem \
  --subject "CN=sca-bare" --challenge secret
check_issued dev0.pem dev0.key chain.pem sca-bare
ok "getca, bare form: the intermediate is the CA (pinned by itself, not by the unsent root); enroll works"

# --- Caps without SHA-256: then, and only then, the client signs with SHA-1.
start_stepca INCLUDE_ROOT=1 CAPS="SHA-1 AES POSTPKIOperation Renewal"
run_scep 0 "enroll (SHA-1 caps)" enroll -u "$URL" --ca cadir --key dev1.key --out dev1.pem -v \
  --subject "CN=sca-sha1" --challenge secret
grep -q "negotiated AES-128-CBC + SHA-1" "$ERR" || fail "with SHA-1 caps the client did not use SHA-1: $(cat "$ERR")"
check_issued dev1.pem dev1.key chain.pem sca-sha1
ok "caps without SHA-256: the client follows them (SHA-1), enroll works"
echo "# $NAME took ${SECONDS}s"
finish
