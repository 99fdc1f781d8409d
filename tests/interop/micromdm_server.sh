#!/usr/bin/env bash
# Our client `scep` against micromdm's scepserver (Debian package scep 2.1.0). scepserver binds
# all interfaces, so the whole test runs in a private network namespace with only loopback:
# the script runs itself again under `unshare --net`, server and client inside.
# scepserver answers single DES + SHA-1 whatever the request used, so our client needs --legacy.
if [ -z "${SCEP_IN_NETNS:-}" ]; then
  command -v unshare > /dev/null || { echo "FAIL micromdm_server: unshare is missing" >&2; exit 1; }
  SCEP_IN_NETNS=1 exec unshare --net --fork --kill-child -- bash "$0" "$@"
fi
source "$(dirname "$0")/lib.sh"
SCEP=${SCEP:-$ROOT/build/scep}
command -v scepserver > /dev/null || fail "scepserver is not installed (Debian package scep)"
[ -x "$SCEP" ] || fail "no client at $SCEP"
ip link set lo up || fail "cannot bring up loopback in the namespace"
ip -o link show | grep -qv ': lo:' && fail "the namespace has more than loopback"

MM_PID=""
PROXY_PID=""
trap 'stop_pid "$PROXY_PID"; stop_pid "$MM_PID"; cleanup' EXIT

mm_log_has() { grep -q -- "$1" "$WORK/scepserver.log" || fail "scepserver log has no line matching '$1'"; }

SECONDS=0
cd "$WORK"
CHALLENGE=mm-s3cret
scepserver ca -init -depot depot -keySize 2048 -organization "scep tests" > ca-init.txt 2>&1 \
  || fail "scepserver ca -init: $(tail -n 2 ca-init.txt)"
[ -s depot/ca.pem ] || fail "scepserver ca -init made no depot/ca.pem"
PORT=$(free_port)
URL="http://127.0.0.1:$PORT/scep"
# -allowrenew 0: renewal at any time (default: only in the last 14 days).
scepserver -depot depot -port "$PORT" -challenge "$CHALLENGE" -allowrenew 0 -debug \
  > scepserver.log 2>&1 &
MM_PID=$!
for _ in $(seq 1 300); do
  curl -fs "$URL?operation=GetCACaps" > /dev/null 2>&1 && break
  sleep 0.1
done
curl -fs "$URL?operation=GetCACaps" > /dev/null 2>&1 || fail "scepserver did not start: $(tail -n 3 scepserver.log)"

# --- GetCACaps
run_scep 0 "getcaps" getcaps -u "$URL"
for w in Renewal POSTPKIOperation AES SHA-256; do
  grep -qx "$w" "$OUT" || fail "scepserver caps as read by scep lack $w: $(tr '\n' ' ' < "$OUT")"
done
ok "getcaps reads micromdm's capabilities (Renewal, POSTPKIOperation, AES, SHA-256)"

# --- GetCACert pinned by the SHA-256 of depot/ca.pem, computed with openssl.
FP=$(openssl x509 -in depot/ca.pem -noout -fingerprint -sha256 | cut -d= -f2)
BAD=$(printf '%s' "$FP" | tr '0-9A-F' '1-9A-F0')
run_scep 7 "getca with a wrong fingerprint" getca -u "$URL" -o cadir-bad --fingerprint "$BAD"
if [ -e cadir-bad ] && [ -n "$(ls -A cadir-bad)" ]; then fail "getca saved files despite a wrong fingerprint"; fi
run_scep 0 "getca" getca -u "$URL" -o cadir --fingerprint "$FP"
cmp -s <(openssl x509 -in cadir/ca.pem -outform DER) <(openssl x509 -in depot/ca.pem -outform DER) \
  || fail "getca saved another certificate than depot/ca.pem"
[ ! -e cadir/ra.pem ] || fail "getca saved an RA certificate; scepserver has none"
ok "getca --fingerprint (openssl's SHA-256 of depot/ca.pem) saves micromdm's CA; a wrong one gives exit 7"

# --- enroll --legacy with the challenge, through a recording pass-through proxy so the reply's
# envelope can be inspected: micromdm answers with single DES.
recording_proxy "$URL"
run_scep 0 "enroll --legacy" enroll -u "$PURL" --ca cadir --key mm.key --out mm.pem --legacy \
  --subject "CN=mm-device,O=scep tests" --san dns:mm-device.example --challenge "$CHALLENGE"
stop_pid "$PROXY_PID"; PROXY_PID=""
check_issued mm.pem mm.key depot/ca.pem mm-device
openssl x509 -in mm.pem -noout -ext subjectAltName | grep -q "DNS:mm-device.example" \
  || fail "micromdm did not copy the subjectAltName"
[ -s rec/reply-1.der ] || fail "the proxy recorded no CertRep"
openssl cms -verify -noverify -inform DER -in rec/reply-1.der -binary -out rec/env.der > /dev/null 2>&1 \
  || fail "micromdm's CertRep is not SignedData"
openssl cms -cmsout -print -inform DER -in rec/env.der > rec/env.txt 2>&1 || fail "the CertRep content is not CMS"
grep -A 1 "contentEncryptionAlgorithm" rec/env.txt | grep -q "des-cbc" \
  || fail "micromdm's CertRep is not encrypted with single DES: $(grep -A 1 contentEncryptionAlgorithm rec/env.txt)"
mm_log_has 'scep_message_type="PKCSReq (19)"'
ok "enroll --legacy with challenge: DES-encrypted CertRep accepted, certificate checked with openssl"

# --- A wrong challenge: FAILURE (exit 4), no certificate.
run_scep 4 "enroll with a wrong challenge" enroll -u "$URL" --ca cadir --key bad.key --out bad.pem \
  --legacy --subject "CN=mm-intruder" --challenge wrong
grep -q "badRequest" "$ERR" || fail "the client did not report badRequest: $(cat "$ERR")"
[ ! -e bad.pem ] && [ ! -e bad.pem.pending ] || fail "files were written despite the wrong challenge"
mm_log_has 'invalid challenge'
ok "wrong challenge: exit 4 (badRequest), no certificate"

# --- Without --legacy our client must refuse micromdm's DES reply: exit 6 (a reply it will not
# accept), not a FAILURE, and nothing written. (micromdm itself has issued a certificate by then.)
run_scep 6 "enroll without --legacy" enroll -u "$URL" --ca cadir --key nolegacy.key \
  --out nolegacy.pem --subject "CN=mm-nolegacy" --challenge "$CHALLENGE"
grep -q "DES" "$ERR" || fail "the refusal does not name DES: $(cat "$ERR")"
[ "$(wc -l < "$ERR")" = 1 ] || fail "expected one error line: $(cat "$ERR")"
[ ! -e nolegacy.pem ] && [ ! -e nolegacy.pem.pending ] || fail "files were written for a refused DES reply"
ok "enroll without --legacy: DES reply refused with exit 6 ($(cut -c1-90 "$ERR")...)"

# --- Renewal (micromdm advertises Renewal): a RenewalReq signed by the current certificate.
# micromdm checks the challenge on renewals too: without it, FAILURE.
run_scep 4 "renew without the challenge" renew -u "$URL" --ca cadir --cert mm.pem --key mm.key \
  --out renew-nochallenge.pem --legacy
[ ! -e renew-nochallenge.pem ] || fail "renew without the challenge wrote a certificate"
run_scep 0 "renew --legacy" renew -u "$URL" --ca cadir --cert mm.pem --key mm.key --out mm2.pem \
  --legacy --challenge "$CHALLENGE" -v
grep -q "sending RenewalReq" "$ERR" || fail "the client did not send a RenewalReq: $(cat "$ERR")"
mm_log_has 'scep_message_type="RenewalReq (17)"'
check_issued mm2.pem mm.key depot/ca.pem mm-device
same_subject() {
  [ "$(openssl x509 -in "$1" -noout -subject -nameopt RFC2253)" = \
    "$(openssl x509 -in "$2" -noout -subject -nameopt RFC2253)" ] || fail "$2 has another subject than $1"
  [ "$(openssl x509 -in "$1" -noout -ext subjectAltName)" = \
    "$(openssl x509 -in "$2" -noout -ext subjectAltName)" ] || fail "$2 has another subjectAltName than $1"
  [ "$(openssl x509 -in "$1" -noout -serial)" != "$(openssl x509 -in "$2" -noout -serial)" ] \
    || fail "$2 is the old certificate again"
}
same_subject mm.pem mm2.pem
ok "renew --legacy (same key): RenewalReq, a new certificate with the same subject and SAN"

run_scep 0 "renew --legacy --new-key" renew -u "$URL" --ca cadir --cert mm2.pem --key mm.key \
  --new-key mm3.key --out mm3.pem --legacy --challenge "$CHALLENGE"
check_issued mm3.pem mm3.key depot/ca.pem mm-device
same_subject mm2.pem mm3.pem
ok "renew --legacy --new-key: a new certificate for the new key, same subject and SAN"
echo "# $NAME took ${SECONDS}s"
finish
