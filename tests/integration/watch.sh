#!/usr/bin/env bash
# scep watch against our server: the renewal timer, renewal with a new key and --exec, the
# configuration file, failures that leave the files alone (with the retry line), and a CA
# rollover followed through the switch by the daemon, stopped by SIGTERM.
source "$(dirname "$0")/../interop/lib.sh"
SCEP=${SCEP:-$ROOT/build/scep}
WATCH_PID=""
stop_watch() { # stop_watch: SIGTERM, and the daemon's exit code in WATCH_RC
  WATCH_RC=0
  kill -TERM "$WATCH_PID" 2>/dev/null || true
  wait "$WATCH_PID" || WATCH_RC=$?
  WATCH_PID=""
}
trap '[ -n "$WATCH_PID" ] && kill "$WATCH_PID" 2>/dev/null; cleanup' EXIT
# within SECONDS COMMAND...: polls every 0.2 s; 1 when SECONDS passed. Where the deadline is not
# what a check proves, the lib's wait_until (TEST_WAIT, generous) is used instead.
within() {
  local n=$(($1 * 5)); shift
  for _ in $(seq 1 "$n"); do "$@" && return 0; sleep 0.2; done
  return 1
}
digest() { cat "$@" | sha256sum | cut -d' ' -f1; }
serial() { openssl x509 -in "$1" -noout -serial; }

CA=$WORK/ca
new_ca "$CA" --days 400
start_scepd "$CA" --challenge s3cret --set renewal_window=0%
cd "$WORK"
"$SCEP" getca -u "$URL" -o cadir > /dev/null || fail "getca"
"$SCEP" enroll -u "$URL" --ca cadir --key dev.key --out dev.pem --subject CN=dev \
  --challenge s3cret > /dev/null 2>&1 || fail "enroll"
watch() { "$SCEP" watch -u "$URL" --ca cadir --cert dev.pem --key dev.key "$@"; }

# The timer: a fresh certificate is not due at 99%; the daemon says when it will be.
BEFORE=$(digest dev.pem dev.key)
watch --once --renew-at 99 2> once.log || fail "watch --once before the due time: $(cat once.log)"
[ "$(digest dev.pem dev.key)" = "$BEFORE" ] || fail "a certificate that is not due was renewed"
grep -q "renewal due at .* (99% of its lifetime)" once.log || fail "no due time logged: $(cat once.log)"
ok "not due at 99%: nothing changed, the due time is logged"

# Renewal with a new key, then --exec.
OLD_SERIAL=$(serial dev.pem) OLD_KEY=$(digest dev.key)
watch --once --renew-at 0 --new-key --exec 'echo "$SCEP_WATCH_EVENT $SCEP_CERT" > exec.marker' \
  2> renew.log || fail "watch --once --renew-at 0: $(cat renew.log)"
check_issued dev.pem dev.key cadir/ca.pem dev
[ "$(serial dev.pem)" != "$OLD_SERIAL" ] || fail "the certificate was not renewed"
[ "$(digest dev.key)" != "$OLD_KEY" ] || fail "no new key"
[ "$(stat -c %a dev.key)" = 600 ] || fail "the new key is not 0600"
[ ! -e dev.key.new ] || fail "KEY.new left behind"
[ "$(cat exec.marker)" = "renewed dev.pem" ] || fail "--exec did not run after the renewal"
grep -q "exited with status 0" renew.log || fail "--exec status not logged: $(cat renew.log)"
ok "renewed at 0% with a new key (0600), verified against the CA, --exec ran"

# A swap interrupted between CERT and KEY (CERT renewed, the key still in KEY.new) is finished.
"$SCEP" renew -u "$URL" --ca cadir --cert dev.pem --key dev.key --new-key dev.key.new \
  > /dev/null 2>&1 || fail "scep renew"
watch --once --renew-at 99 2> recover.log || fail "watch --once after an interrupted swap"
grep -q "finished an interrupted swap" recover.log && [ ! -e dev.key.new ] || fail "no recovery: $(cat recover.log)"
check_issued dev.pem dev.key cadir/ca.pem dev
ok "an interrupted swap (CERT new, KEY.new not yet moved) is finished at the next start"

# The configuration file, and the command line overriding it.
cat > watch.conf << EOF
# scep watch settings
url = $URL
ca = cadir
cert = dev.pem
key = dev.key
renew-at = 0
new-key = yes
exec = "echo config > exec.marker"
check-interval = 5
EOF
BEFORE=$(digest dev.pem dev.key)
"$SCEP" watch --config watch.conf --once --renew-at 99 2> conf.log || fail "watch --config with an override"
[ "$(digest dev.pem dev.key)" = "$BEFORE" ] || fail "--renew-at on the command line did not override the file"
"$SCEP" watch --config watch.conf --once 2> conf.log || fail "watch --config: $(cat conf.log)"
[ "$(digest dev.pem dev.key)" != "$BEFORE" ] && [ "$(cat exec.marker)" = config ] \
  || fail "the configuration file's settings were not used"
check_issued dev.pem dev.key cadir/ca.pem dev
echo "bogus = 1" >> watch.conf
if "$SCEP" watch --config watch.conf --once 2> conf.log; then fail "an unknown setting was accepted"; fi
grep -q "watch.conf:10: unknown setting 'bogus'" conf.log || fail "unclear config error: $(cat conf.log)"
ok "configuration file read, command line overrides it, unknown settings refused"

# Failures leave CERT and KEY alone: no server, and a server that refuses.
BEFORE=$(digest dev.pem dev.key)
DEAD="http://127.0.0.1:$(free_port)/scep"
rc=0; "$SCEP" watch -u "$DEAD" --ca cadir --cert dev.pem --key dev.key --once --renew-at 0 \
  --new-key 2> dead.log || rc=$?
[ "$rc" = 3 ] || fail "no server: exit code $rc, not 3: $(cat dead.log)"
grep -q "failed (exit code 3)" dead.log || fail "no failure line: $(cat dead.log)"
"$SCEP" watch -u "$DEAD" --ca cadir --cert dev.pem --key dev.key --renew-at 0 2> retry.log &
WATCH_PID=$!
wait_until grep -q "retrying in 30s" retry.log || fail "no retry line: $(cat retry.log)"
stop_watch
[ "$WATCH_RC" = 0 ] || fail "the retrying daemon exited with $WATCH_RC on SIGTERM"
grep -qE '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z scep watch: attempt failed' retry.log \
  || fail "the retry line carries no time: $(cat retry.log)"
"$SCEPD" revoke --dir "$CA" "$(serial dev.pem | cut -d= -f2)" > /dev/null 2>&1 || fail "scepd revoke"
rc=0; watch --once --renew-at 0 --new-key 2> refused.log || rc=$?
[ "$rc" = 4 ] && grep -q revoked refused.log || fail "refused renewal: exit $rc: $(cat refused.log)"
[ "$(digest dev.pem dev.key)" = "$BEFORE" ] || fail "a failed renewal changed CERT or KEY"
ok "no server (exit 3, a timed retry line, SIGTERM exits 0) and a refusal (exit 4) change nothing"

# CA rollover: a certificate that ends with its CA (capped at the CA's one day), the server
# prepares the next CA; the daemon fetches it, obtains the shadow pair, and switches.
SHORT=$WORK/short
new_ca "$SHORT" --days 1 --ra
start_scepd "$SHORT" --challenge s3cret --set renewal_window=0%
"$SCEP" getca -u "$URL" -o rcadir > /dev/null || fail "getca (short CA)"
"$SCEP" enroll -u "$URL" --ca rcadir --key r.key --out r.pem --subject CN=roll \
  --challenge s3cret > /dev/null 2>&1 || fail "enroll under the short CA"
[ "$(openssl x509 -in r.pem -noout -enddate)" = "$(openssl x509 -in rcadir/ca.pem -noout -enddate)" ] \
  || fail "the certificate does not end with its CA"
# The switch is 20 s away: room for the steps before it on a slow machine, and still well inside
# the daemon's --check-interval 60.
"$SCEPD" rollover --dir "$SHORT" --switch-in 20 > /dev/null || fail "scepd rollover"
kill -HUP "$SCEPD_PID"
wait_until sh -c "curl -fs '$URL?operation=GetCACaps' | grep -q GetNextCACert" \
  || fail "the server does not advertise GetNextCACert after SIGHUP"
OLD=$(digest r.pem r.key)
# --check-interval 60: the switch in 20 s proves that it wakes up at the due time.
"$SCEP" watch -u "$URL" --ca rcadir --cert r.pem --key r.key --renew-at 0 --check-interval 60 \
  --new-key --exec 'echo "$SCEP_WATCH_EVENT" >> events' 2> roll.log &
WATCH_PID=$!
wait_until test -s r.pem.next || fail "no shadow certificate: $(cat roll.log)"
SWITCH=$(openssl x509 -in "$SHORT/next-ca.pem" -noout -startdate | cut -d= -f2)
[ "$(openssl x509 -in r.pem.next -noout -startdate | cut -d= -f2)" = "$SWITCH" ] \
  || fail "the shadow certificate is not valid from the switch"
openssl verify -CAfile "$SHORT/next-ca.pem" -attime $(($(date -d "$SWITCH" +%s) + 60)) r.pem.next \
  > /dev/null || fail "the shadow certificate is not from the next CA"
cmp -s <(openssl pkey -in r.key.next -pubout) <(openssl x509 -in r.pem.next -noout -pubkey) \
  || fail "KEY.next is not the shadow certificate's key"
[ "$(stat -c %a r.key.next)" = 600 ] || fail "KEY.next is not 0600"
cmp -s <(openssl x509 -in rcadir/next/ca.pem -outform DER) <(openssl x509 -in "$SHORT/next-ca.pem" -outform DER) \
  || fail "the next CA is not in rcadir/next"
[ "$(digest r.pem r.key)" = "$OLD" ] || fail "the current pair changed before the switch"
wait_until grep -q "holding the shadow certificate" roll.log || fail "the wait for the switch is not logged"
ok "rollover prepared: next CA in DIR/next, shadow pair (from the next CA, valid from the switch) kept beside the current one"

# By 45 s after the shadow pair (the switch is at most 20 s away): before the next check at 60 s.
within 45 grep -qs switched events || fail "no switch: $(cat roll.log)"
stop_watch
[ "$WATCH_RC" = 0 ] || fail "the daemon exited with $WATCH_RC on SIGTERM"
grep -q "stopping on signal 15" roll.log || fail "no clean stop logged"
openssl verify -CAfile "$SHORT/next-ca.pem" r.pem > /dev/null || fail "after the switch r.pem is not from the new CA"
check_issued r.pem r.key "$SHORT/next-ca.pem" roll
cmp -s <(openssl x509 -in rcadir/ca.pem -outform DER) <(openssl x509 -in "$SHORT/next-ca.pem" -outform DER) \
  || fail "rcadir/ca.pem is not the new CA"
openssl verify -CAfile rcadir/ca.pem rcadir/ra.pem > /dev/null || fail "rcadir/ra.pem is not the new CA's RA"
[ ! -e r.pem.next ] && [ ! -e r.key.next ] && [ ! -d rcadir/next ] || fail "next files left after the switch"
"$SCEP" getca -u "$URL" -o after > /dev/null || fail "getca after the switch"
cmp -s after/certs.pem rcadir/certs.pem || fail "the switched CA directory differs from what the server now sends"
ok "switched at the switch time: CERT, KEY and the CA files are the new CA's, --exec ran, SIGTERM exits 0"

# A seconds-long certificate (validity_seconds in the server's profile): the daemon, left
# alone with its defaults but --renew-at 50, renews it when half its life has passed.
LIVE=$WORK/live
new_ca "$LIVE" --days 400
start_scepd "$LIVE" --challenge s3cret --set renewal_window=0% --set validity_seconds=12
"$SCEP" getca -u "$URL" -o livecadir > /dev/null || fail "getca (short-lived)"
"$SCEP" enroll -u "$URL" --ca livecadir --key live.key --out live.pem --subject CN=live \
  --challenge s3cret > /dev/null 2>&1 || fail "enroll (short-lived)"
LIFE=$(( $(date -d "$(openssl x509 -in live.pem -noout -enddate | cut -d= -f2)" +%s) - \
         $(date -d "$(openssl x509 -in live.pem -noout -startdate | cut -d= -f2)" +%s) ))
[ "$LIFE" -le 12 ] || fail "validity_seconds=12 gave a certificate of ${LIFE}s"
FIRST=$(serial live.pem)
"$SCEP" watch -u "$URL" --ca livecadir --cert live.pem --key live.key --renew-at 50 \
  --check-interval 60 2> live.log &
WATCH_PID=$!
# Due at 6 s; 25 s leaves room for a slow machine and is still well before --check-interval 60.
within 25 bash -c "[ \"\$(openssl x509 -in live.pem -noout -serial)\" != '$FIRST' ]" \
  || fail "the daemon did not renew a 12-second certificate: $(cat live.log)"
SECOND=$(serial live.pem)
within 25 bash -c "[ \"\$(openssl x509 -in live.pem -noout -serial)\" != '$SECOND' ]" \
  || fail "the daemon did not renew the renewed certificate: $(cat live.log)"
stop_watch
[ "$WATCH_RC" = 0 ] || fail "the daemon exited with $WATCH_RC on SIGTERM"
check_issued live.pem live.key livecadir/ca.pem live
ok "a 12-second certificate is renewed by the daemon at half its life, again and again"
finish
