#!/usr/bin/env bash
# A CA whose keys are in a PKCS#11 token (SoftHSM2): made there by `scepd init --key-uri`, never
# written to the directory; CA and RA mode, RSA and EC CA keys; GetCert, GetCRL, revocation,
# rollover, ra-renew, --import-ca of a token key; clear start-up errors; a token that goes away
# while serving (503, then recovery); concurrent enrollments. Run by tests/hsm/run-all, or alone.
source "$(dirname "$0")/../interop/lib.sh"
SCEP=${SCEP:-$ROOT/build/scep}
if [ -z "${SCEP_TEST_TOKEN_URI:-}" ]; then
  HSM_WORK=$WORK/hsm
  # shellcheck source=token_env.sh
  source "$ROOT/tests/hsm/token_env.sh"
fi
PIN=$(head -n 1 "$SCEP_TEST_PIN_FILE")
TOKEN=(--pkcs11-module "$SCEP_TEST_PKCS11_MODULE" --pkcs11-pin-file "$SCEP_TEST_PIN_FILE")
p11tool() { pkcs11-tool --module "$SCEP_TEST_PKCS11_MODULE" --token-label "${SCEP_TEST_TOKEN_URI#pkcs11:token=}" "$@"; }
cd "$WORK"

# no_private_keys DIR: no file in DIR holds private key material (PEM, or DER a key parser takes).
no_private_keys() {
  local f
  for f in "$1"/*; do
    [ -f "$f" ] || continue
    if grep -aq "PRIVATE KEY" "$f"; then fail "$f holds a PEM private key"; fi
    for form in DER PEM; do
      if openssl pkey -in "$f" -inform "$form" -passin pass: -noout 2> /dev/null; then
        fail "$f is a private key ($form)"
      fi
    done
  done
  # Every key file is a reference to the token.
  for f in "$1"/*.key; do
    grep -qx "pkcs11:token=.*;object=.*;id=.*" "$f" || fail "$f is not a token key reference: $(head -c 80 "$f")"
  done
}

# token_holds LABEL: the token has a private key so labelled, sensitive and never extractable.
token_holds() {
  p11tool --login --pin "$PIN" -O --type privkey 2> /dev/null > objs.txt || fail "pkcs11-tool -O"
  grep -A6 "label: *$1\$" objs.txt | grep -q "never extractable" \
    || fail "the token holds no sensitive, never-extractable private key labelled $1"
}

enroll() { # NAME [more enroll flags]
  openssl genrsa -out "$1.key" 2048 2> /dev/null
  "$SCEP" enroll -u "$URL" --ca "${CADIR:-cadir}" --key "$1.key" --out "$1.pem" --subject "CN=$1" \
    --challenge s3cret "${@:2}" > "$1.out" 2>&1
}

# --- CA mode, RSA: our client enrolls, GetCert, revocation and GetCRL, all signed in the token.
CA=$WORK/ca
OBJ="ca-$$"
"$SCEPD" init --dir "$CA" --subject "CN=Token CA" --key-uri "$SCEP_TEST_TOKEN_URI;object=$OBJ" \
  "${TOKEN[@]}" > ca.init.txt || fail "scepd init --key-uri"
no_private_keys "$CA"
token_holds "$OBJ"
grep -q "^pkcs11_module = $SCEP_TEST_PKCS11_MODULE" "$CA/scepd.conf" || fail "scepd.conf names no pkcs11_module"
ok "init --key-uri: the CA key is made in the token (sensitive, never extractable); DIR holds only a reference"

start_scepd "$CA" --challenge s3cret
"$SCEP" getca -u "$URL" -o cadir > /dev/null || fail "getca"
enroll c1 || fail "enrollment: $(tail -n 2 c1.out)"
check_issued c1.pem c1.key "$CA/ca.pem" c1
SERIAL=$(openssl x509 -in c1.pem -noout -serial | cut -d= -f2)
"$SCEP" getcert -u "$URL" --ca cadir --cert c1.pem --key c1.key --serial "$SERIAL" --out got.pem > /dev/null \
  || fail "GetCert"
cmp -s <(openssl x509 -in got.pem -outform DER) <(openssl x509 -in c1.pem -outform DER) || fail "GetCert returned another certificate"
enroll c2 || fail "second enrollment"
"$SCEPD" revoke --dir "$CA" "$(openssl x509 -in c2.pem -noout -serial | cut -d= -f2)" > /dev/null || fail "scepd revoke"
"$SCEP" getcrl -u "$URL" --ca cadir --cert c1.pem --key c1.key --out crl.pem > /dev/null || fail "GetCRL"
openssl crl -in crl.pem -CAfile "$CA/ca.pem" -noout 2> /dev/null || fail "the CRL does not verify against the CA"
openssl crl -in crl.pem -noout -text | grep -q "Serial Number: $(openssl x509 -in c2.pem -noout -serial | cut -d= -f2)" \
  || fail "the CRL does not list the revoked certificate"
ok "CA mode: enrollment (decrypted and signed in the token), GetCert, revocation, GetCRL"

# Concurrent enrollments: the workers share the token (libp11 serialises its session).
pids=()
for i in 1 2 3 4 5 6 7 8; do enroll "par$i" & pids+=($!); done
for i in "${!pids[@]}"; do wait "${pids[$i]}" || fail "concurrent enrollment $((i + 1)): $(tail -n 2 "par$((i + 1)).out")"; done
for i in 1 2 3 4 5 6 7 8; do check_issued "par$i.pem" "par$i.key" "$CA/ca.pem" "par$i"; done
ok "8 concurrent enrollments against one token all succeed"

# Rollover: the next key is made in the token; GetNextCACert is signed there.
"$SCEPD" rollover --dir "$CA" --switch-in 3600 > rollover.txt || fail "scepd rollover"
no_private_keys "$CA"
NEXT=$(sed -n 's/.*object=\([^;]*\);.*/\1/p' "$CA/next-ca.key" | sed 's/%23/#/')
token_holds "$NEXT"
kill -HUP "$SCEPD_PID"
wait_until eval '"$SCEP" getcaps -u "$URL" 2> /dev/null | grep -q GetNextCACert' || true
"$SCEP" getnextca -u "$URL" --ca cadir -o nextdir > /dev/null || fail "getnextca"
cmp -s <(openssl x509 -in nextdir/certs.pem -outform DER) \
  <(openssl x509 -in "$CA/next-ca.pem" -outform DER) || fail "GetNextCACert did not give the next CA"
ok "rollover: the next CA key is made in the token, GetNextCACert signed by the token's CA key"
stop_scepd

# --- RA mode with an EC CA: the CA key (P-256) and the RSA RA key are both in the token.
EC=$WORK/ec
"$SCEPD" init --dir "$EC" --subject "CN=Token EC CA" --key ec:P-256 --ra \
  --key-uri "$SCEP_TEST_TOKEN_URI;object=ec-$$" "${TOKEN[@]}" > /dev/null || fail "init an EC CA with an RA"
no_private_keys "$EC"
openssl x509 -in "$EC/ca.pem" -noout -text | grep -q "id-ecPublicKey" || fail "the CA key is not EC"
start_scepd "$EC" --challenge s3cret
CADIR=eccadir
"$SCEP" getca -u "$URL" -o eccadir > /dev/null || fail "getca (EC)"
enroll e1 || fail "enrollment under the EC CA: $(tail -n 2 e1.out)"
check_issued e1.pem e1.key "$EC/ca.pem" e1
"$SCEPD" revoke --dir "$EC" "$(openssl x509 -in e1.pem -noout -serial | cut -d= -f2)" > /dev/null || fail "revoke (EC)"
enroll e2 || fail "second enrollment under the EC CA"
"$SCEP" getcrl -u "$URL" --ca eccadir --cert e2.pem --key e2.key --out eccrl.pem > /dev/null || fail "GetCRL (EC)"
openssl crl -in eccrl.pem -CAfile "$EC/ca.pem" -noout 2> /dev/null || fail "the EC CA's CRL does not verify"
ok "RA mode, EC P-256 CA: RSA RA decrypts and signs CertReps, the EC CA signs certificates and CRLs, all in the token"

# ra-renew makes the next RA key in the token too.
"$SCEPD" ra-renew --dir "$EC" > /dev/null || fail "scepd ra-renew"
no_private_keys "$EC"
reload_scepd
"$SCEP" getca -u "$URL" -o eccadir2 > /dev/null || fail "getca after ra-renew"
CADIR=eccadir2
enroll e3 || fail "enrollment after ra-renew: $(tail -n 2 e3.out)"
ok "ra-renew: the new RA key is made in the token and serves"
stop_scepd
unset CADIR

# --- --import-ca CERT pkcs11:...: a CA around a key already in the token.
IMP=$WORK/imported
"$SCEPD" init --dir "$IMP" --import-ca "$CA/ca.pem" "$(cat "$CA/ca.key")" "${TOKEN[@]}" > /dev/null \
  || fail "init --import-ca CERT pkcs11:"
no_private_keys "$IMP"
cmp -s "$IMP/ca.key" "$CA/ca.key" || fail "the imported CA does not refer to the same token key"
start_scepd "$IMP" --challenge s3cret
"$SCEP" getca -u "$URL" -o impdir > /dev/null || fail "getca (imported)"
CADIR=impdir enroll i1 || fail "enrollment under the imported CA"
check_issued i1.pem i1.key "$IMP/ca.pem" i1
ok "init --import-ca CERT pkcs11:URI uses the token's key"
stop_scepd

# --- scep-keyspeed (bench/run-compare HSM=1): the token's sign rate, keys opened as scepd does.
KEYSPEED=${SCEP_KEYSPEED:-$ROOT/build/bench/scep-keyspeed}
[ -x "$KEYSPEED" ] || fail "no $KEYSPEED (make bench)"
"$KEYSPEED" -s 0.5 -t 2 "${TOKEN[@]}" "$CA/ca.key" > speed.txt 2> speed.err || fail "scep-keyspeed: $(cat speed.err)"
grep -Eq "^key=$CA/ca.key threads=2 signs=[1-9][0-9]* .*rate=[0-9.]+ cpu_ms=[0-9.]+\$" speed.txt \
  || fail "scep-keyspeed printed: $(cat speed.txt)"
rc=0
sed 's/object=[^;]*;id=[^;]*$/object=no-such-key/' "$CA/ca.key" > nokey.ref
"$KEYSPEED" -s 0.5 "${TOKEN[@]}" "$WORK/nokey.ref" > speed.txt 2> speed.err || rc=$?
if [ "$rc" != 2 ] || ! grep -q "no such private key in token" speed.err; then
  fail "scep-keyspeed on a missing key: exit $rc, $(cat speed.err)"
fi
ok "scep-keyspeed signs with the token key on 2 threads; a missing key is a setup error (exit 2)"

# --- Start-up errors: each clear, naming the key's URI, never the PIN; exit code 1.
startup_fails() { # LABEL WANT DIR [serve flags]
  local label=$1 want=$2 dir=$3 rc=0; shift 3
  timeout 20 "$SCEPD" serve --dir "$dir" --listen 127.0.0.1:0 "${SERVE_ROOT[@]}" "$@" > start.out 2>&1 || rc=$?
  [ "$rc" = 1 ] || fail "$label: exit code $rc, expected 1: $(tail -n 2 start.out)"
  grep -q -- "$want" start.out || fail "$label: no '$want' in: $(tail -n 2 start.out)"
  grep -q "pkcs11:token=" start.out || fail "$label: the error does not name the key's URI"
  if grep -q -- "$PIN" start.out; then fail "$label: the PIN is in the output"; fi
}
(umask 077 && echo 00000000 > wrong.pin)
startup_fails "wrong PIN" "refused the PIN in $WORK/wrong.pin: CKR_PIN_INCORRECT" "$CA" --set "pkcs11_pin_file=$WORK/wrong.pin"
startup_fails "missing module" "cannot load the PKCS#11 module /nonexistent/module.so" "$CA" --set pkcs11_module=/nonexistent/module.so
cp -a "$CA" "$WORK/gone"
sed -i 's/object=[^;]*;id=[^;]*$/object=no-such-key/' "$WORK/gone/ca.key"
startup_fails "missing object" "no such private key in token" "$WORK/gone"
ok "wrong PIN, missing module, missing object: a clear start-up error naming the URI (no PIN), exit 1"

if "$SCEPD" init --dir "$WORK/dup" --subject "CN=Dup" --key-uri "$SCEP_TEST_TOKEN_URI;object=$OBJ" \
  "${TOKEN[@]}" > dup.out 2>&1; then fail "init over an existing token key label succeeded"; fi
grep -q "already holds a key labelled '$OBJ'" dup.out || fail "init over an existing label: $(cat dup.out)"
ok "init --key-uri refuses a label the token already holds"

# --- The token goes away while serving: 503 and one log line per request; back: served again.
cc -shared -fPIC -O1 $(pkg-config --cflags p11-kit-1) "$ROOT/tests/hsm/faulty_pkcs11.c" -o faulty.so -ldl \
  || fail "cannot build the test module"
export FAULTY_PKCS11_REAL=$SCEP_TEST_PKCS11_MODULE FAULTY_PKCS11_DOWN=$WORK/token-gone
FT=$WORK/faulty
"$SCEPD" init --dir "$FT" --subject "CN=Faulty Token CA" --ra --key-uri "$SCEP_TEST_TOKEN_URI;object=ft-$$" \
  --pkcs11-module "$WORK/faulty.so" --pkcs11-pin-file "$SCEP_TEST_PIN_FILE" > /dev/null || fail "init on the test module"
(umask 077 && openssl rand -hex 24 > admin.token)
APORT=$(free_port)
readyz() { curl -s -o ready.txt -w '%{http_code}' "http://127.0.0.1:$APORT/readyz"; }
start_scepd "$FT" --challenge s3cret --set "admin_listen=127.0.0.1:$APORT" --set "admin_token_file=$WORK/admin.token"
"$SCEP" getca -u "$URL" -o ftdir > /dev/null || fail "getca (faulty)"
[ "$(readyz)" = 200 ] || fail "/readyz is not 200 with the token there: $(cat ready.txt)"
export CADIR=ftdir
enroll f1 || fail "enrollment before the token goes"
touch "$WORK/token-gone"
if enroll f2; then fail "an enrollment succeeded while the token was gone"; fi
grep -q "HTTP 503" f2.out || fail "no 503 while the token is gone: $(tail -n 2 f2.out)"
log_has "http=503 .*token '.*' is not available: CKR_DEVICE_REMOVED"
curl -fs "$URL?operation=GetCACert" > /dev/null || fail "GetCACert failed while the token was gone"
[ "$(readyz)" = 503 ] || fail "/readyz is not 503 while the token is gone"
grep -q "error: token '.*' is not available: CKR_DEVICE_REMOVED" ready.txt || fail "/readyz does not say why: $(cat ready.txt)"
rm "$WORK/token-gone"
wait_until eval 'enroll f3' || true
check_issued f3.pem f3.key "$FT/ca.pem" f3
log_has "was gone and is back (logged in again)"
enroll f4 || fail "enrollment after the token came back"
[ "$(readyz)" = 200 ] || fail "/readyz is not 200 after the token came back: $(cat ready.txt)"
ok "token gone while serving: 503 with a clear log line, /readyz 503, GetCACert still served; back: logged in again, keys reopened, enrollments succeed"
unset CADIR
finish
