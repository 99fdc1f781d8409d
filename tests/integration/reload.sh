#!/usr/bin/env bash
# SIGHUP reloads the whole configuration: a new challenge in scepd.conf (or in the challenge
# file) replaces the old one at once; a changed listen address is named in the log as needing a
# restart and the server stays where it is; a broken file, or one readable by others while it
# holds the challenge, is refused as a whole (file:line in the log) and the old configuration
# keeps serving; flags given at start still override the file; no secret reaches the log.
source "$(dirname "$0")/../interop/lib.sh"
SCEP=${SCEP:-$ROOT/build/scep}
cd "$WORK"
CA=$WORK/ca
new_ca "$CA"
PORT=$(free_port)
URL="http://127.0.0.1:$PORT/scep"
CONF=$CA/scepd.conf
cp "$CONF" base.conf
conf() { # conf LINE...: scepd.conf = what init wrote, then these lines
  cp base.conf "$CONF"
  printf '%s\n' "listen = 127.0.0.1:$PORT" "$@" >> "$CONF"
}
conf "challenge = first-secret"
"$SCEPD" serve --dir "$CA" --set validity_days=30 "${SERVE_ROOT[@]}" >> scepd.log 2>&1 &
SCEPD_PID=$!
wait_for "scepd did not start" answers "$URL?operation=GetCACaps"
"$SCEP" getca -u "$URL" -o cadir > /dev/null || fail "getca"

n=0
enrolls() { # enrolls CODE CHALLENGE: a new key's enrollment exits CODE (4: FAILURE)
  n=$((n + 1))
  local rc=0
  timeout 60 "$SCEP" enroll -u "$URL" --ca cadir --key "k$n.key" --out "c$n.pem" \
    --subject "CN=reload-$n" --challenge "$2" > "e$n.out" 2>&1 || rc=$?
  [ "$rc" = "$1" ]
}
hup() { reload_scepd "$SCEPD_PID" "$WORK/scepd.log"; } # SIGHUP, then wait for the reload's end

enrolls 0 first-secret || fail "enrollment with the first challenge: $(cat e$n.out)"
conf "challenge = second-secret" "approve = auto"
hup
enrolls 4 first-secret || fail "the old challenge still works after the reload: $(cat e$n.out)"
enrolls 0 second-secret || fail "the new challenge is refused after the reload: $(cat e$n.out)"
log_has "reload: configuration read; applied: challenge"
days=$(( ($(date -d "$(openssl x509 -in c$n.pem -noout -enddate | cut -d= -f2)" +%s) - $(date +%s) + 3600) / 86400 ))
[ "$days" = 30 ] || fail "the --set validity_days=30 flag was lost at the reload ($days days)"
ok "SIGHUP: a new challenge in scepd.conf replaces the old one; start flags still apply"

# A challenge file: its new content counts at the next reload.
echo file-secret-1 > chal.txt
chmod 600 chal.txt
conf "challenge_file = $WORK/chal.txt"
hup
enrolls 0 file-secret-1 || fail "the challenge file is not used after the reload: $(cat e$n.out)"
echo file-secret-2 > chal.txt
hup
enrolls 4 file-secret-1 || fail "the challenge file's old content still works: $(cat e$n.out)"
enrolls 0 file-secret-2 || fail "the challenge file's new content is refused: $(cat e$n.out)"
ok "SIGHUP: the challenge file is read again"

# listen needs a restart: named in the log, the old address kept.
OTHER=$(free_port)
cp "$CONF" keep.conf
sed -i "s/^listen = .*/listen = 127.0.0.1:$OTHER/" "$CONF"
hup
log_has "reload: listen changed; that needs a restart, keeping the old value"
curl -fs "$URL?operation=GetCACaps" > /dev/null || fail "the server left its address at the reload"
curl -fs "http://127.0.0.1:$OTHER/scep?operation=GetCACaps" > /dev/null 2>&1 \
  && fail "the server also listens on the new address"
enrolls 0 file-secret-2 || fail "enrollment after a listen change: $(cat e$n.out)"
ok "SIGHUP: a changed listen address is logged as needing a restart; the server stays on the old one"

# A broken file is refused as a whole: the old configuration serves on.
conf "challenge = third-secret" "validity_days = 0"
hup
log_has "reload refused, still serving the old configuration and CA: $CONF:$(wc -l < "$CONF"): bad value for validity_days: '0'"
enrolls 4 third-secret || fail "a half-read broken configuration took effect: $(cat e$n.out)"
enrolls 0 file-secret-2 || fail "the old configuration stopped serving: $(cat e$n.out)"
# ... and so is one that holds the challenge and is readable by others.
conf "challenge = fourth-secret"
chmod 644 "$CONF"
hup
log_has "reload refused, still serving the old configuration and CA: $CONF holds a secret and is readable by group or others (mode 0644)"
enrolls 4 fourth-secret || fail "an insecure configuration took effect: $(cat e$n.out)"
chmod 600 "$CONF"
hup
enrolls 0 fourth-secret || fail "the fixed configuration is not used: $(cat e$n.out)"
ok "SIGHUP: a broken or insecure configuration is refused with file:line in the log; the old one serves on"

# Reloads under a stream of fresh connections: a connection the old listener accepted just
# before the hand-over is answered, not closed unread (each curl is a new connection).
( for _ in $(seq 1 20); do kill -HUP "$SCEPD_PID"; sleep 0.1; done ) &
hups=$!
for _ in $(seq 1 10); do
  pids=()
  for _ in $(seq 1 40); do
    curl -s -o /dev/null -w '%{http_code} %{exitcode}\n' "$URL?operation=GetCACaps" >> storm.txt &
    pids+=($!)
  done
  wait "${pids[@]}"
done
wait $hups
[ "$(grep -cx "200 0" storm.txt)" = 400 ] ||
  fail "requests lost across reloads: $(sort storm.txt | uniq -c | tr '\n' ' ')"
ok "20 reloads under 400 fresh connections: every request answered"

for secret in first-secret second-secret third-secret fourth-secret file-secret-1 file-secret-2; do
  grep -q "$secret" scepd.log && fail "the challenge $secret reached the log"
done
kill -0 "$SCEPD_PID" || fail "scepd died"
ok "no challenge reached the log"
finish
