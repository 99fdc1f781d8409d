#!/usr/bin/env bash
# HTTPS on the admin listener (admin_tls_cert, admin_tls_key) and client certificates
# (admin_tls_client_ca): curl --cacert reaches /api/v1/whoami, /readyz, /healthz and /ui/;
# plain HTTP and TLS 1.1 are refused on that port; with a client CA, a call behind a token
# without a client certificate, or with one of another CA or not for client use, is a 403
# JSON error; the right certificate and the token work (and the audit row names the token);
# with admin_client_cert_role, such a certificate alone (no token) is that role as "cert:CN";
# start-up refuses missing, mismatched, world-readable, junk or lone files with a clear message;
# SIGHUP serves renewed files (the served serial changes), keeps the old pair when the new one
# does not load (logged), and checks a replaced client CA.
source "$(dirname "$0")/../interop/lib.sh"
cd "$WORK"
CA=$WORK/ca
new_ca "$CA"
APORT=$(free_port)
AURL=https://localhost:$APORT
OP=$("$SCEPD" token add --dir "$CA" alice --role operate | tail -n 1)
[ "${#OP}" = 64 ] || fail "token add alice"

# cert NAME CA SUBJECT EXT: NAME.key and NAME.pem signed by CA (CA.pem, CA.key).
cert() {
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$1.key" \
    -subj "$3" -out "$1.csr" 2> /dev/null || fail "key $1"
  openssl x509 -req -in "$1.csr" -CA "$2.pem" -CAkey "$2.key" -CAcreateserial -days 1 \
    -extfile <(printf '%s\n' "$4") -out "$1.pem" 2> /dev/null || fail "certificate $1"
  chmod 600 "$1.key"
}
for ca in tlsca clientca otherca; do
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$ca.key" \
    -out "$ca.pem" -subj "/CN=$ca" -days 2 2> /dev/null || fail "CA $ca"
done
cert server tlsca "/CN=localhost" "subjectAltName=DNS:localhost,IP:127.0.0.1"
cert laptop clientca "/CN=laptop" "extendedKeyUsage=clientAuth"
cert stranger otherca "/CN=stranger" "extendedKeyUsage=clientAuth"
cert webserver clientca "/CN=webserver" "extendedKeyUsage=serverAuth"
cert other tlsca "/CN=localhost" "subjectAltName=DNS:localhost"
cert odd clientca "/CN=odd name;x" "extendedKeyUsage=clientAuth"
cp server.pem server.key tlsca.pem clientca.pem other.key "$CA/"
cp "$CA/scepd.conf" base.conf
conf() { # conf LINE...: scepd.conf = what init wrote, the admin listener, then these lines
  cp base.conf "$CA/scepd.conf"
  printf '%s\n' "admin_listen = 127.0.0.1:$APORT" "$@" >> "$CA/scepd.conf"
}

# refused WHAT PATTERN LINE...: serve exits 1 with a message matching PATTERN.
refused() {
  local what=$1 pattern=$2 rc=0; shift 2
  conf "$@"
  timeout 20 "$SCEPD" serve --dir "$CA" --listen "127.0.0.1:$(free_port)" "${SERVE_ROOT[@]}" \
    > refused.log 2>&1 || rc=$?
  [ "$rc" = 1 ] || fail "start-up with $what: exit code $rc, expected 1: $(tail -n 2 refused.log)"
  grep -q -- "$pattern" refused.log || fail "start-up with $what: no '$pattern': $(cat refused.log)"
}
refused "a certificate without key" "admin_tls_cert and admin_tls_key go together" \
  "admin_tls_cert = server.pem"
refused "a missing certificate" "admin_tls_cert $CA/none.pem: No such file" \
  "admin_tls_cert = none.pem" "admin_tls_key = server.key"
refused "a key of another certificate" \
  "admin_tls_key other.key does not match the certificate in admin_tls_cert server.pem" \
  "admin_tls_cert = server.pem" "admin_tls_key = other.key"
cp server.key "$CA/open.key"
chmod 644 "$CA/open.key"
refused "a world-readable key" "(admin_tls_key) is readable by group or others (mode 0644)" \
  "admin_tls_cert = server.pem" "admin_tls_key = open.key"
refused "a client CA without TLS" "admin_tls_client_ca clientca.pem needs admin_tls_cert and" \
  "admin_tls_client_ca = clientca.pem"
echo "not a certificate" > "$CA/junk.pem"
refused "a certificate role without a client CA" \
  "admin_client_cert_role read needs admin_tls_client_ca" "admin_tls_cert = server.pem" \
  "admin_tls_key = server.key" "admin_client_cert_role = read"
refused "a certificate role of admin" "admin_client_cert_role.*read or operate" \
  "admin_client_cert_role = admin"
refused "a junk client CA" "admin_tls_client_ca $CA/junk.pem: no PEM certificate" \
  "admin_tls_cert = server.pem" "admin_tls_key = server.key" "admin_tls_client_ca = junk.pem"
ok "start-up refuses a lone, missing, mismatched, world-readable or junk admin TLS file, a bad role"

# call [CURL OPTIONS...] PATH: the status on stdout, the answer in r.json; curl's exit code
# in r.rc.
call() {
  local path=${*: -1} rc=0
  curl -s -o r.json -w '%{http_code}' --cacert tlsca.pem "${@:1:$#-1}" "$AURL$path" > r.code \
    || rc=$?
  echo "$rc" > r.rc
  cat r.code
}
expect() { # expect STATUS [CURL OPTIONS...] PATH
  local want=$1 got; shift
  got=$(call "$@")
  [ "$got" = "$want" ] || fail "${*: -1}: $got (curl $(cat r.rc)), expected $want: $(head -c 300 r.json)"
}
BEARER=(-H "Authorization: Bearer $OP")

conf "admin_tls_cert = server.pem" "admin_tls_key = server.key"
start_scepd "$CA"
wait_until eval 'curl -fs --cacert tlsca.pem "$AURL/healthz" > /dev/null' || true
log_has "admin endpoint (HTTPS only)"
expect 200 "${BEARER[@]}" /api/v1/whoami
grep -q '"name": *"alice"' r.json || fail "whoami over https: $(cat r.json)"
expect 401 /api/v1/whoami
expect 200 /healthz
grep -qx ok r.json || fail "/healthz over https: $(cat r.json)"
expect 200 /readyz
head -n 1 r.json | grep -qx ready || fail "/readyz over https: $(cat r.json)"
expect 200 /ui/
grep -qi "<html" r.json || fail "/ui/ over https is not the console"
rc=0
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$APORT/healthz") || rc=$?
[ "$rc" != 0 ] && [ "$code" = 000 ] || fail "plain http to the admin port: HTTP $code, curl $rc"
rc=0
curl -s --cacert tlsca.pem --tlsv1.1 --tls-max 1.1 "$AURL/healthz" > /dev/null || rc=$?
[ "$rc" = 35 ] || fail "TLS 1.1: curl exit code $rc, expected 35 (handshake refused)"
expect 200 --tlsv1.2 --tls-max 1.2 /healthz
ok "https: whoami with the token (401 without), /healthz, /readyz, /ui/; plain HTTP and TLS 1.1 refused"

conf "admin_tls_cert = server.pem" "admin_tls_key = server.key" "admin_tls_client_ca = clientca.pem"
start_scepd "$CA"
wait_until eval 'curl -fs --cacert tlsca.pem "$AURL/healthz" > /dev/null' || true
expect 403 "${BEARER[@]}" /api/v1/whoami
grep -q '"error": *"a client certificate from admin_tls_client_ca is required"' r.json \
  || fail "no client certificate: $(cat r.json)"
log_has "admin: refused /api/v1/whoami from 127.0.0.1: a client certificate from admin_tls_client_ca"
expect 403 "${BEARER[@]}" --cert stranger.pem --key stranger.key /api/v1/whoami
grep -q '"error": *"the client certificate is refused: ' r.json || fail "another CA: $(cat r.json)"
expect 403 "${BEARER[@]}" --cert webserver.pem --key webserver.key /api/v1/whoami
grep -q '"error": *"the client certificate is refused: ' r.json \
  || fail "a certificate for servers: $(cat r.json)"
expect 403 "${BEARER[@]}" -X POST /challenge
grep -q "a client certificate from admin_tls_client_ca is required" r.json \
  || fail "POST /challenge without a certificate: $(cat r.json)"
ok "client CA: no certificate, another CA's, or one not for client use: 403 with the reason"

LAPTOP=(--cert laptop.pem --key laptop.key)
expect 401 "${LAPTOP[@]}" /api/v1/whoami
expect 200 "${LAPTOP[@]}" "${BEARER[@]}" /api/v1/whoami
grep -q '"name": *"alice"' r.json || fail "whoami with the certificate: $(cat r.json)"
expect 200 "${LAPTOP[@]}" "${BEARER[@]}" -X POST /challenge
expect 200 "${LAPTOP[@]}" "${BEARER[@]}" "/api/v1/audit?action=challenge.mint"
grep -q '"actor": *"token:alice"' r.json || fail "the audit row of the mint: $(cat r.json)"
expect 200 /healthz
expect 200 /readyz
ok "client CA: the right certificate and the token work (401 without the token), audited as token:alice"

# SIGHUP reads the admin TLS files again: a renewed pair is served (its serial, as curl sees it),
# mTLS still works; a broken pair keeps the old one, logged; a new client CA is the one checked.
served_serial() {
  curl -s -o /dev/null -w '%{certs}' --cacert tlsca.pem "$AURL/healthz" | openssl x509 -noout -serial \
    | cut -d= -f2
}
want_serial() { openssl x509 -in "$1" -noout -serial | cut -d= -f2; }
hup_until() { # hup_until WHAT COMMAND...: SIGHUP, then COMMAND succeeds within 5 s
  local what=$1; shift
  kill -HUP "$SCEPD_PID"
  for _ in $(seq 1 50); do "$@" && return 0; sleep 0.1; done
  fail "after SIGHUP: $what"
}
serves() { [ "$(served_serial)" = "$(want_serial "$1")" ]; }
cert renewed tlsca "/CN=localhost" "subjectAltName=DNS:localhost,IP:127.0.0.1"
serves server.pem || fail "the first admin certificate is not served: $(served_serial)"
cp renewed.pem "$CA/server.pem"
cp renewed.key "$CA/server.key"
hup_until "the renewed admin certificate is not served ($(served_serial))" serves renewed.pem
log_has "reload: admin TLS certificate $(want_serial renewed.pem) replaces $(want_serial server.pem)"
expect 200 "${LAPTOP[@]}" "${BEARER[@]}" /api/v1/whoami
cp other.key "$CA/server.key" # the key of another certificate
hup_until "no 'keeping the old admin TLS' line" grep -q "keeping the old admin TLS" scepd.log
log_has "reload: keeping the old admin TLS certificate and key: admin_tls_key server.key does not match"
serves renewed.pem || fail "a broken pair replaced the admin certificate: $(served_serial)"
expect 200 "${LAPTOP[@]}" "${BEARER[@]}" /api/v1/whoami
cp renewed.key "$CA/server.key"
cp otherca.pem "$CA/clientca.pem"
hup_until "the new client CA is not checked" \
  grep -q "admin TLS files read again (certificate $(want_serial renewed.pem))" scepd.log
expect 200 --cert stranger.pem --key stranger.key "${BEARER[@]}" /api/v1/whoami
expect 403 "${LAPTOP[@]}" "${BEARER[@]}" /api/v1/whoami
kill -HUP "$SCEPD_PID" # nothing changed: the same daemon serves on
sleep 0.5
serves renewed.pem && expect 200 --cert stranger.pem --key stranger.key "${BEARER[@]}" /api/v1/whoami
cp server.pem server.key clientca.pem "$CA/"
ok "SIGHUP: a renewed admin certificate is served (serial), a broken pair keeps the old (logged), a new client CA is checked"

# admin_client_cert_role: the certificate alone is that role, named cert:CN; a token still wins.
TLS_CA=("admin_tls_cert = server.pem" "admin_tls_key = server.key" "admin_tls_client_ca = clientca.pem")
conf "${TLS_CA[@]}" "admin_client_cert_role = read"
start_scepd "$CA"
wait_until eval 'curl -fs --cacert tlsca.pem "$AURL/healthz" > /dev/null' || true
expect 200 "${LAPTOP[@]}" /api/v1/whoami
grep -q '"name": *"cert:laptop", *"role": *"read"' r.json || fail "whoami by certificate: $(cat r.json)"
expect 403 "${LAPTOP[@]}" -X POST -H 'Content-Type: application/json' --data '{}' /api/v1/crl
grep -q "needs operate" r.json || fail "a read certificate POSTs: $(cat r.json)"
expect 200 "${LAPTOP[@]}" "${BEARER[@]}" /api/v1/whoami
grep -q '"name": *"alice"' r.json || fail "a token beside the certificate: $(cat r.json)"
expect 403 /api/v1/whoami
expect 403 --cert stranger.pem --key stranger.key /api/v1/whoami
expect 403 --cert odd.pem --key odd.key /api/v1/whoami
grep -q "common name of 1 to 58 of" r.json || fail "a CN that is no name: $(cat r.json)"
conf "${TLS_CA[@]}" "admin_client_cert_role = operate"
start_scepd "$CA"
wait_until eval 'curl -fs --cacert tlsca.pem "$AURL/healthz" > /dev/null' || true
expect 200 "${LAPTOP[@]}" -X POST /challenge
expect 200 "${LAPTOP[@]}" "/api/v1/audit?action=challenge.mint&actor=cert:laptop"
grep -q '"actor": *"cert:laptop"' r.json || fail "the audit row of a certificate's mint: $(cat r.json)"
ok "admin_client_cert_role: the certificate alone is read or operate as cert:CN (audited so); a token wins"
grep -q "$OP" "$WORK/scepd.log" && fail "the token is in the log"
stop_scepd
finish
