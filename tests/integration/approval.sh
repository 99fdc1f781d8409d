#!/usr/bin/env bash
# Manual approval as an operator does it: subjects in RFC 4514 order (what openssl prints with
# -nameopt RFC2253) in pending, approve, certs and the client's output, --subject filters and
# subject_match patterns written that way; pending's challenge, client, key and SAN columns;
# show-request with the whole CSR and its PEM.
source "$(dirname "$0")/../interop/lib.sh"
SCEP=${SCEP:-$ROOT/build/scep}

CA=$WORK/ca
new_ca "$CA"
[ "$(openssl x509 -in "$CA/ca.pem" -noout -subject -nameopt RFC2253)" = "subject=CN=Interop CA,O=scep tests" ] \
  || fail "init --subject 'CN=Interop CA,O=scep tests' made $(openssl x509 -in "$CA/ca.pem" -noout -subject -nameopt RFC2253)"
start_scepd "$CA" --approve manual
cd "$WORK"
"$SCEP" getca -u "$URL" -o cadir > getca.out || fail "getca"
grep -q "CN=Interop CA,O=scep tests" getca.out || fail "getca prints the CA name another way: $(cat getca.out)"

# ask NAME SUBJECT [enroll flags...]: a request that stays PENDING (the client gives up at once).
ask() {
  timeout 30 "$SCEP" enroll -u "$URL" --ca cadir --key "$1.key" --out "$1.pem" --subject "$2" \
    --poll-interval 1 --max-poll-time 1 "${@:3}" > "$1.out" 2>&1 || true
  grep -q "still PENDING" "$1.out"
}
tid_of() { sed -n 's/.*(transaction \([0-9A-F]*\) saved.*/\1/p' "$1.out"; }
pending_line() { "$SCEPD" pending --dir "$CA" | grep -F " $1" | grep -F "$(tid_of "$2")"; }

# The documented pattern matches the subject as the operator wrote it, and only that.
DEV=$("$SCEPD" challenge --dir "$CA" --subject-match '^CN=device-[0-9]+,' | tail -n 1)
if ask wrong "O=UX,CN=device-4" --challenge "$DEV"; then
  fail "'^CN=device-[0-9]+,' matched O=UX,CN=device-4"
fi
grep -q "not valid for this subject" wrong.out || fail "unclear refusal: $(cat wrong.out)"
ask d2 "CN=device-2,O=UX" --challenge "$DEV" --san dns:device-2.example,ip:192.0.2.7 \
  || fail "the one-time challenge for '^CN=device-[0-9]+,' refused CN=device-2,O=UX: $(cat d2.out)"
ok "subject_match '^CN=device-[0-9]+,' takes CN=device-2,O=UX and refuses O=UX,CN=device-4"

# pending: one whitespace-separated token per column, the subject to the end of the line.
"$SCEPD" pending --dir "$CA" > pending.txt
head -n 1 pending.txt | grep -q "^ID  *TRANSACTION  *KIND  *AGE  *CHALLENGE  *CLIENT  *KEY  *SAN  *SUBJECT$" \
  || fail "pending header: $(head -n 1 pending.txt)"
LINE=$(pending_line "CN=device-2,O=UX" d2) || fail "pending does not list CN=device-2,O=UX: $(cat pending.txt)"
read -r ID TID KIND AGE CHALLENGE CLIENT KEY SAN SUBJECT <<< "$LINE"
[ "$TID" = "$(tid_of d2)" ] && [ "$KIND" = new ] && [ "$CHALLENGE" = one-time ] \
  && [ "$CLIENT" = 127.0.0.1 ] && [ "$KEY" = RSA-2048 ] \
  && [ "$SAN" = "DNS:device-2.example,IP:192.0.2.7" ] && [ "$SUBJECT" = "CN=device-2,O=UX" ] \
  || fail "pending row: $LINE"
ask lab "CN=Smith\\, John+UID=7,OU=Lab,O=UX" --key-type ec:P-256 || fail "enroll lab: $(cat lab.out)"
LAB=$(pending_line "CN=Smith\\, John+UID=7,OU=Lab,O=UX" lab) \
  || fail "pending does not show the subject as written: $(cat pending.txt)"
read -r LAB_ID _ _ _ CHALLENGE _ KEY SAN _ <<< "$LAB"
[ "$CHALLENGE" = none ] && [ "$KEY" = EC-P-256 ] && [ "$SAN" = - ] || fail "pending row: $LAB"
ok "pending lists challenge, client, key, SAN and the subject as written (RFC 4514)"

# show-request: the facts, the CSR in full without the challenge, and its PEM.
"$SCEPD" show-request --dir "$CA" "$ID" > show.txt || fail "show-request $ID"
for want in "request:        $ID" "transactionID:  $(tid_of d2)" "state:          pending" \
  "client:         127.0.0.1" "challenge:      one-time" "key:            RSA-2048" \
  "subjectAltName: DNS:device-2.example,IP:192.0.2.7" "subject:        CN=device-2,O=UX"; do
  grep -qxF "$want" show.txt || fail "show-request lacks '$want': $(head -n 14 show.txt)"
done
grep -q "Subject: CN=device-2,O=UX" show.txt && grep -q "Requested Extensions:" show.txt \
  && grep -q "DNS:device-2.example, IP Address:192.0.2.7" show.txt && grep -q "Public-Key: (2048 bit)" show.txt \
  || fail "show-request does not print the CSR in full: $(cat show.txt)"
grep -qF "$DEV" show.txt && fail "show-request prints the challenge password"
"$SCEPD" show-request --dir "$CA" --pem "$ID" > d2.csr || fail "show-request --pem"
# Stored without its challengePassword, so its signature (which covered it) no longer verifies.
openssl req -in d2.csr -noout -text > d2.csr.txt 2>&1 || fail "show-request --pem is no CSR: $(head -c 200 d2.csr)"
grep -q challengePassword d2.csr.txt && fail "show-request --pem still has the challengePassword"
[ "$(openssl req -in d2.csr -noout -pubkey | openssl sha256)" = "$(openssl pkey -in d2.key -pubout | openssl sha256)" ] \
  || fail "show-request --pem is another key's CSR"
"$SCEPD" show-request --dir "$CA" --pem "$LAB_ID" > lab.csr || fail "show-request --pem $LAB_ID"
[ "$(openssl req -in lab.csr -noout -subject -nameopt RFC2253)" = "subject=CN=Smith\\, John+UID=7,OU=Lab,O=UX" ] \
  || fail "openssl reads the subject otherwise: $(openssl req -in lab.csr -noout -subject -nameopt RFC2253)"
if "$SCEPD" show-request --dir "$CA" 999 > none.txt 2>&1; then fail "show-request of an unknown ID succeeded"; fi
grep -q "no request 999" none.txt || fail "unclear error: $(cat none.txt)"
if "$SCEPD" show-request --dir "$CA" 1x > bad.txt 2>&1; then fail "show-request 1x succeeded"; fi
grep -q "'1x' is not a request ID" bad.txt || fail "unclear error: $(cat bad.txt)"
ok "show-request prints the transaction, the CSR as text without the challenge, and --pem"

# A static challenge is named as such; then approval, and the subject as written everywhere.
start_scepd "$CA" --approve manual --challenge s3cret
ask st "CN=device-9,O=UX" --challenge s3cret || fail "enroll st: $(cat st.out)"
read -r _ _ _ _ CHALLENGE _ <<< "$(pending_line "CN=device-9,O=UX" st)"
[ "$CHALLENGE" = static ] || fail "a static challenge is listed as '$CHALLENGE'"
"$SCEPD" approve --dir "$CA" "$ID" > approve.txt || fail "approve $ID"
grep -q "to CN=device-2,O=UX$" approve.txt || fail "approve names the subject otherwise: $(cat approve.txt)"
timeout 30 "$SCEP" enroll -u "$URL" --ca cadir --key d2.key --out d2.pem --subject "CN=device-2,O=UX" \
  --san dns:device-2.example,ip:192.0.2.7 --challenge "$DEV" --poll-interval 1 --max-poll-time 10 > d2.got 2>&1 \
  || fail "the approved request was not received: $(cat d2.got)"
grep -q "subject CN=device-2,O=UX$" d2.got || fail "scep enroll prints the subject otherwise: $(cat d2.got)"
[ "$(openssl x509 -in d2.pem -noout -subject -nameopt RFC2253)" = "subject=CN=device-2,O=UX" ] \
  || fail "issued subject: $(openssl x509 -in d2.pem -noout -subject -nameopt RFC2253)"
SERIAL=$(openssl x509 -in d2.pem -noout -serial | cut -d= -f2)
"$SCEPD" certs --dir "$CA" --subject "CN=device-2,O=UX" > certs.txt || fail "certs --subject"
grep -q "^$SERIAL .* CN=device-2,O=UX$" certs.txt || fail "certs --subject 'CN=device-2,O=UX' misses it: $(cat certs.txt)"
[ "$(grep -c CN= certs.txt)" = 1 ] || fail "certs --subject lists others: $(cat certs.txt)"
"$SCEPD" show-request --dir "$CA" "$ID" > issued.txt || fail "show-request $ID after approval"
grep -qx "certificate:    $SERIAL" issued.txt || fail "show-request does not name the issued serial: $(head -n 14 issued.txt)"
ok "approve, certs --subject, show-request and the client name CN=device-2,O=UX as written"
finish
