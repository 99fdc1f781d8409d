#!/usr/bin/env bash
# CA generations shared through the store: nodes on one PostgreSQL database, `scepd rollover`
# run against node A's directory; node B (the same directory path: the keys on shared
# storage) serves GetNextCACert with the new CA within the poll interval, without a restart
# or SIGHUP. Node C has a copy of the directory without the new keys: it refuses the new
# generation with a log line naming the key and /readyz 503, and keeps serving its CA; once
# the keys are there, a SIGHUP makes it take the generation, its files then match the store.
source "$(dirname "$0")/../interop/lib.sh"
source "$(dirname "$0")/lib.sh"
PIDS=()
pg_start
trap 'for p in "${PIDS[@]}"; do stop_pid "$p"; done; pg_stop; cleanup' EXIT
pg_sql "CREATE DATABASE scepd"
STORE=$(pg_uri scepd)
CA=$WORK/ca
new_ca "$CA" --ra --store "$STORE"
cp -a "$CA" "$WORK/ca-c"
cd "$WORK"
(umask 077 && openssl rand -hex 24 > admin.token)

# serve NAME DIR: a node on DIR; sets URL_NAME, ADMIN_NAME, LOG_NAME.
serve() {
  local port aport
  port=$(free_port)
  aport=$(free_port)
  "$SCEPD" serve --dir "$2" --listen "127.0.0.1:$port" --challenge s3cret "${SERVE_ROOT[@]}" \
    --set "admin_listen=127.0.0.1:$aport" --set "admin_token_file=$WORK/admin.token" >> "$WORK/$1.log" 2>&1 &
  PIDS+=($!)
  eval "URL_$1=http://127.0.0.1:$port/scep ADMIN_$1=http://127.0.0.1:$aport PID_$1=$!"
  wait_until answers "http://127.0.0.1:$port/scep?operation=GetCACaps" && return 0
  fail "node $1 did not start: $(tail -n 3 "$WORK/$1.log")"
}
serve A "$CA"
serve B "$CA"
serve C "$WORK/ca-c"
curl -fs "$URL_B?operation=GetCACaps" | grep -q GetNextCACert && fail "node B offers GetNextCACert before any rollover"

fp() { openssl x509 -in "$1" -noout -fingerprint -sha256 | cut -d= -f2; }
# b64 FILE: the base64 of the PEM certificates in FILE, on one line.
b64() { grep -v -- ----- "$1" | tr -d '\n'; }
# next_served URL: whether GetNextCACert, verified against the current CA, holds next-ca.pem.
next_served() {
  curl -fs -o next.p7 "$1?operation=GetNextCACert" || return 1
  openssl cms -verify -inform DER -in next.p7 -CAfile "$CA/ca.pem" -binary -out next.inner.der > /dev/null 2>&1 || return 1
  openssl pkcs7 -inform DER -in next.inner.der -print_certs 2> /dev/null | grep -v '^subject\|^issuer\|^$' > next.pem
  [[ "$(b64 next.pem)" == *"$(b64 "$CA/next-ca.pem")"* ]]
}
readyz() { curl -s -o "$2" -w '%{http_code}' "$1/readyz"; }
[ "$(readyz "$ADMIN_C" ready-c.txt)" = 200 ] || fail "node C is not ready before the rollover: $(cat ready-c.txt)"

"$SCEPD" rollover --dir "$CA" --switch-in 3600 > roll.out 2>&1 || fail "rollover: $(cat roll.out)"
start=$(date +%s)
# The nodes look at the store's generations every 5 s; what this proves is that B takes the new
# one without a restart or SIGHUP, so the deadline leaves a slow machine room.
got=no
wait_until next_served "$URL_B" && got=yes
took=$(($(date +%s) - start))
[ "$got" = yes ] || fail "node B did not serve the next CA within $TEST_WAIT s: $(tail -n 3 B.log)"
grep -q "CA generations 2 in the store: reloading" B.log || fail "node B did not say why it reloaded: $(tail -n 3 B.log)"
kill -0 "$PID_B" || fail "node B is not the process it was"
ok "node B serves GetNextCACert with the new CA ${took}s after the rollover, no restart or SIGHUP"
next_served "$URL_A" || fail "node A does not serve the next CA"
ok "node A, whose directory the rollover wrote, serves it too"

wait_until eval 'grep -q "refused" C.log' || true
grep -q "CA generations 2 in the store refused, still serving the generations this node has: the key of the next CA, $WORK/ca-c/next-ca.key, cannot be read here" C.log \
  || fail "node C did not refuse the generation clearly: $(tail -n 3 C.log)"
[ "$(readyz "$ADMIN_C" ready-c.txt)" = 503 ] || fail "node C's /readyz is not 503: $(cat ready-c.txt)"
grep -q "CA generation refused: the key of the next CA" ready-c.txt || fail "node C's /readyz does not say why: $(cat ready-c.txt)"
[ ! -e "$WORK/ca-c/next-ca.pem" ] || fail "node C wrote the next CA's certificate without its key"
curl -fs "$URL_C?operation=GetCACaps" | grep -q GetNextCACert && fail "node C offers a generation it refused"
curl -fs -o c.der "$URL_C?operation=GetCACert" || fail "node C stopped serving GetCACert"
openssl x509 -inform DER -in c.der -noout 2> /dev/null \
  || openssl pkcs7 -inform DER -in c.der -print_certs > /dev/null || fail "node C's GetCACert is no certificate"
[ "$(readyz "$ADMIN_B" ready-b.txt)" = 200 ] || fail "node B is not ready: $(cat ready-b.txt)"
ok "node C (no next-ca.key) refuses the generation: a log line naming the key, /readyz 503, old CA still served"

# A key that is not the certificate's is refused the same way (after SIGHUP, which tries again).
cp -p "$WORK/ca-c/ca.key" "$WORK/ca-c/next-ca.key"
cp -p "$CA/next-ra.key" "$WORK/ca-c/"
kill -HUP "$PID_C"
wait_until eval 'grep -q "next-ca.key, is not the key of its certificate in the store" C.log' || true
grep -q "the key of the next CA, $WORK/ca-c/next-ca.key, is not the key of its certificate in the store" C.log \
  || fail "node C did not refuse a wrong key clearly: $(tail -n 3 C.log)"
[ "$(readyz "$ADMIN_C" ready-c.txt)" = 503 ] || fail "node C's /readyz is not 503 with a wrong key: $(cat ready-c.txt)"
[ ! -e "$WORK/ca-c/next-ca.pem" ] || fail "node C wrote the next CA's certificate with a wrong key"
ok "a next-ca.key that is another key is refused too, nothing written"

cp -p "$CA/next-ca.key" "$WORK/ca-c/"
kill -HUP "$PID_C"
got=no
wait_until next_served "$URL_C" && got=yes
[ "$got" = yes ] || fail "node C did not take the generation once its keys were there: $(tail -n 3 C.log)"
cmp -s <(fp "$WORK/ca-c/next-ca.pem") <(fp "$CA/next-ca.pem") || fail "node C's next-ca.pem is not the store's"
cmp -s <(fp "$WORK/ca-c/next-ra.pem") <(fp "$CA/next-ra.pem") || fail "node C's next-ra.pem is not the store's"
wait_until eval '[ "$(readyz "$ADMIN_C" ready-c.txt)" = 200 ]' || true
[ "$(readyz "$ADMIN_C" ready-c.txt)" = 200 ] || fail "node C is not ready again: $(cat ready-c.txt)"
ok "with the keys in place and a SIGHUP node C takes it: its files are the store's, /readyz 200"
finish
