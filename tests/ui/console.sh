#!/usr/bin/env bash
# The web console at /ui/ on the admin listener: its files and headers (curl), then the whole
# operator's path in headless Chromium (console.mjs, playwright-core): sign in, approve a
# PENDING enrollment the client then receives, revoke it (the CRL at /crl/ lists it), a read
# token's limits, keyboard use, phone size. Screenshots of every view go to build/ui-screenshots/.
source "$(dirname "$0")/../interop/lib.sh"
SCEP=${SCEP:-$ROOT/build/scep}
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
SHOTS=${UI_SHOTS:-$ROOT/build/ui-screenshots}
command -v node > /dev/null || fail "node is missing (Debian packages nodejs npm)"
command -v npm > /dev/null || fail "npm is missing (Debian package npm)"
[ -x "$CHROMIUM" ] || fail "$CHROMIUM is missing (Debian package chromium)"

# playwright-core as the lock file pins it, in the build tree; npm's cache there too, so that a
# later run needs no network.
NODE_DIR=$ROOT/build/ui-node
mkdir -p "$NODE_DIR"
cp "$ROOT/tests/ui/package.json" "$ROOT/tests/ui/package-lock.json" "$NODE_DIR/"
if ! (cd "$NODE_DIR" && npm ci --cache "$ROOT/build/npm-cache" --prefer-offline --no-audit \
  --no-fund --loglevel=error > "$WORK/npm.log" 2>&1); then
  [ -f "$NODE_DIR/node_modules/playwright-core/package.json" ] \
    || fail "npm ci of playwright-core failed: $(tail -n 5 "$WORK/npm.log")"
  echo "console: npm ci failed (offline?); using the playwright-core already in $NODE_DIR"
fi

cd "$WORK"
CA=$WORK/ca
new_ca "$CA" --ra
APORT=$(free_port)
ADMIN_TOKEN=console-admin-token-0123456789
printf '%s\n' "admin_listen = 127.0.0.1:$APORT" "admin_token = $ADMIN_TOKEN" >> "$CA/scepd.conf"
chmod 600 "$CA/scepd.conf"
start_scepd "$CA" --approve manual
BASE=http://127.0.0.1:$APORT
wait_for "no answer from $BASE/healthz" answers "$BASE/healthz"

# header FILE NAME: the value of header NAME in a `curl -D` dump (empty when absent).
header() { tr -d '\r' < "$1" | sed -n "s/^$2: //Ip" | head -n 1; }
code=$(curl -s -D ui.h -o index.html -w '%{http_code}' "$BASE/ui/")
[ "$code" = 200 ] || fail "GET /ui/ answered $code: $(head -c 200 index.html)"
cmp -s index.html "$ROOT/server/admin/ui/index.html" || fail "GET /ui/ is not server/admin/ui/index.html"
[ "$(header ui.h Content-Type)" = "text/html; charset=utf-8" ] || fail "/ui/ Content-Type: $(header ui.h Content-Type)"
CSP=$(header ui.h Content-Security-Policy)
for want in "default-src 'self'" "script-src 'self'" "style-src 'self'" "frame-ancestors 'none'" "object-src 'none'"; do
  grep -qF "$want" <<< "$CSP" || fail "the Content-Security-Policy lacks $want: $CSP"
done
grep -qiE "unsafe-inline|unsafe-eval|\*" <<< "$CSP" && fail "the Content-Security-Policy allows too much: $CSP"
[ "$(header ui.h X-Content-Type-Options)" = nosniff ] && [ "$(header ui.h Referrer-Policy)" = no-referrer ] \
  && [ "$(header ui.h Cache-Control)" = no-store ] || fail "/ui/ headers: $(cat ui.h)"
[ -z "$(header ui.h Set-Cookie)" ] || fail "/ui/ sets a cookie"
ok "GET /ui/ without a token: index.html with a strict CSP, nosniff, no-referrer, no-store, no cookie"

for f in "$ROOT"/server/admin/ui/*; do
  name=$(basename "$f")
  curl -s -D f.h -o served "$BASE/ui/$name" || fail "GET /ui/$name"
  cmp -s served "$f" || fail "GET /ui/$name is not server/admin/ui/$name"
  type=$(header f.h Content-Type)
  case $name in
    *.js) [ "$type" = "text/javascript; charset=utf-8" ] ;;
    *.css) [ "$type" = "text/css; charset=utf-8" ] ;;
    *.svg) [ "$type" = "image/svg+xml" ] ;;
    *.html) [ "$type" = "text/html; charset=utf-8" ] ;;
  esac || fail "/ui/$name has Content-Type $type"
  grep -qF "frame-ancestors 'none'" <<< "$(header f.h Content-Security-Policy)" || fail "/ui/$name has no CSP"
done
[ "$(curl -s -o /dev/null -w '%{http_code}' "$BASE/ui/nothing.js")" = 404 ] || fail "/ui/nothing.js is not 404"
[ "$(curl -s -o /dev/null -w '%{http_code}' --path-as-is "$BASE/ui/../metrics")" != 200 ] || fail "/ui/../metrics was served"
[ "$(curl -s -o /dev/null -w '%{http_code}' -X POST "$BASE/ui/")" = 405 ] || fail "POST /ui/ is not 405"
[ "$(curl -s -o /dev/null -w '%{http_code}%{redirect_url}' "$BASE/ui")" = "301$BASE/ui/" ] || fail "/ui does not redirect to /ui/"
ok "every file of server/admin/ui/ served as built in, with its Content-Type; 404, 405, /ui redirected"

# token NAME ROLE: a new API token (the secret is the last line `scepd token add` prints).
token() {
  "$SCEPD" token add --dir "$CA" "$1" --role "$2" > "token-$1.out" 2>&1 \
    || fail "scepd token add $1 $2: $(cat "token-$1.out")"
  tail -n 1 "token-$1.out"
}
OP_TOKEN=$(token ops operate)
READ_TOKEN=$(token viewer read)

"$SCEP" getca -u "$URL" -o cadir > getca.out || fail "scep getca: $(cat getca.out)"
rm -rf "$SHOTS"
UI_BASE=$BASE UI_OPERATE_TOKEN=$OP_TOKEN UI_READ_TOKEN=$READ_TOKEN UI_WORK=$WORK UI_SHOTS=$SHOTS \
  UI_SCEP=$SCEP UI_SCEP_URL=$URL UI_NODE_MODULES=$NODE_DIR/node_modules UI_CHROMIUM=$CHROMIUM \
  timeout 300 node "$ROOT/tests/ui/console.mjs" 2>&1 | tee console.out
[ "${PIPESTATUS[0]}" = 0 ] || fail "the console scenario failed (screenshots so far in $SHOTS)"
PASSED=$((PASSED + $(grep -c '^ok ' console.out)))

# The certificate revoked in the page is on the CRL the SCEP port serves.
SERIAL=$(cat revoked.serial)
curl -fs -o ca.crl "http://127.0.0.1:$PORT/crl/ca.crl" || fail "GET /crl/ca.crl"
openssl crl -inform DER -in ca.crl -noout -text > crl.txt || fail "/crl/ca.crl is no CRL"
grep -q "Serial Number: $SERIAL" crl.txt || fail "the CRL does not list $SERIAL: $(grep -A1 Serial crl.txt)"
grep -A4 "Serial Number: $SERIAL" crl.txt | grep -q "Key Compromise" || fail "the CRL's reason for $SERIAL is not keyCompromise"
ok "the CRL at /crl/ca.crl lists $SERIAL (Key Compromise)"
n=$(find "$SHOTS" -name '*.png' | wc -l)
[ "$n" -ge 12 ] || fail "only $n screenshots in $SHOTS"
ok "$n screenshots in $SHOTS"
finish
