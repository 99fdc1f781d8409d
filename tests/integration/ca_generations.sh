#!/usr/bin/env bash
# The CA generations in the store mirror the files of DIR: after init, rollover, ra-renew and a
# second rollover past the switch, each role's CA and RA certificates in the store are the
# files' byte for byte, with their key names and switch times, and the counter grew by one
# at each step.
source "$(dirname "$0")/../interop/lib.sh"
cd "$WORK"
CA=$WORK/ca
new_ca "$CA" --ra
DB=$CA/scepd.db
q() { sqlite3 "$DB" "$1"; }
der_hex() { openssl x509 -in "$1" -outform der | od -An -v -tx1 | tr -d ' \n' | tr a-f A-F; }
# expect ROLE CA_FILE RA_FILE CA_KEY RA_KEY: the row of ROLE (0 current, 1 next, 2 previous).
expect() {
  local role=$1 cafile=$2 rafile=$3 cakey=$4 rakey=$5
  local ca ra keys
  ca=$(q "SELECT hex(ca_der) FROM ca_generations WHERE role = $role")
  ra=$(q "SELECT hex(ra_der) FROM ca_generations WHERE role = $role")
  keys=$(q "SELECT ca_key || ' ' || ra_key FROM ca_generations WHERE role = $role")
  if [ -n "$cafile" ]; then
    [ "$ca" = "$(der_hex "$CA/$cafile")" ] || fail "role $role: the store's CA is not $cafile"
    [ "$(q "SELECT switch_at FROM ca_generations WHERE role = $role")" \
      = "$(date -d "$(openssl x509 -in "$CA/$cafile" -noout -startdate | cut -d= -f2)" +%s)" ] \
      || fail "role $role: switch_at is not the notBefore of $cafile"
  else
    [ -z "$ca" ] || fail "role $role has a CA certificate in the store but no file"
  fi
  if [ -n "$rafile" ]; then
    [ "$ra" = "$(der_hex "$CA/$rafile")" ] || fail "role $role: the store's RA is not $rafile"
  else
    [ -z "$ra" ] || fail "role $role has an RA certificate in the store but no file"
  fi
  [ "$keys" = "$cakey $rakey" ] || [ -z "$cafile$rafile" ] || fail "role $role: key names '$keys', expected '$cakey $rakey'"
}
counter() { q 'SELECT counter FROM ca_generation_counter'; }
q 'SELECT count(*) FROM ca_generations' > /dev/null 2>&1 || fail "the store has no CA generations (schema $(q 'PRAGMA user_version'))"

expect 0 ca.pem ra.pem ca.key ra.key
expect 1 "" "" "" ""
[ "$(counter)" = 1 ] || fail "counter $(counter) after init"
ok "init: the current CA and RA in the store, counter 1"

# The switch is 10 s away: ra-renew below must run before it, even on a busy machine.
"$SCEPD" rollover --dir "$CA" --switch-in 10 > roll.out 2>&1 || fail "rollover: $(cat roll.out)"
switch_at=$(($(date +%s) + 10)) # no earlier than the switch the rollover chose
expect 0 ca.pem ra.pem ca.key ra.key
expect 1 next-ca.pem next-ra.pem next-ca.key next-ra.key
[ "$(counter)" = 2 ] || fail "counter $(counter) after rollover"
ok "rollover: the next CA and RA, with their key names and the switch time"

"$SCEPD" ra-renew --dir "$CA" --days 30 > renew.out 2>&1 || fail "ra-renew: $(cat renew.out)"
expect 0 ca.pem ra.pem ca.key ra.key
expect 2 "" prev-ra.pem "" prev-ra.key
[ "$(counter)" = 3 ] || fail "counter $(counter) after ra-renew"
ok "ra-renew: the new RA current, the old one previous"

while [ "$(date +%s)" -le "$switch_at" ]; do sleep 0.5; done
sleep 1
"$SCEPD" rollover --dir "$CA" --switch-in 3600 > roll2.out 2>&1 || fail "second rollover: $(cat roll2.out)"
expect 0 ca.pem ra.pem ca.key ra.key
expect 1 next-ca.pem next-ra.pem next-ca.key next-ra.key
expect 2 prev-ca.pem prev-ra.pem prev-ca.key prev-ra.key
[ "$(counter)" = 4 ] || fail "counter $(counter) after the second rollover"
ok "a rollover after the switch: the generations moved along in the store as in the files"
finish
