#!/usr/bin/env bash
# scepd serve tells a Type=notify service manager where it is: READY=1 only once the SCEP and
# admin listeners answer, RELOADING=1 then READY=1 around a SIGHUP reload, STOPPING=1 when the
# SIGTERM drain starts. Without NOTIFY_SOCKET it serves as before. GET /healthz on the admin
# listener answers 200 without a token (beside /readyz); other paths still want the token.
source "$(dirname "$0")/../interop/lib.sh"
cd "$WORK"
CA=$WORK/ca
new_ca "$CA"
LISTENER_PID=""
stop_listener() { [ -z "$LISTENER_PID" ] || kill "$LISTENER_PID" 2>/dev/null || true; }
trap 'stop_listener; cleanup' EXIT

head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$CA/admin.token"
chmod 600 "$CA/admin.token"
APORT=$(free_port)
printf '%s\n' "admin_listen = 127.0.0.1:$APORT" "admin_token_file = admin.token" >> "$CA/scepd.conf"

python3 "$ROOT/tests/integration/notify_listener.py" "$WORK/notify.sock" "$WORK/notify.txt" &
LISTENER_PID=$!
wait_for "the notify listener did not start" log_grep listening notify.txt

# The first message must come after both listeners answer: scepd is probed at once, and READY
# is only checked once they do.
PORT=$(free_port)
URL="http://127.0.0.1:$PORT/scep"
NOTIFY_SOCKET=$WORK/notify.sock "$SCEPD" serve --dir "$CA" --listen "127.0.0.1:$PORT" \
  "${SERVE_ROOT[@]}" >> scepd.log 2>&1 &
SCEPD_PID=$!
notified() { wait_until log_grep "$1" notify.txt; } # notified PATTERN: notify.txt has it
notified 'READY=1' || fail "no READY=1 on NOTIFY_SOCKET: $(cat notify.txt)"
curl -fs "$URL?operation=GetCACaps" > /dev/null || fail "READY=1 was sent but GetCACaps fails"
[ "$(curl -s -o h.txt -w '%{http_code}' "http://127.0.0.1:$APORT/healthz")" = 200 ] \
  || fail "READY=1 was sent but /healthz answers $(cat h.txt)"
ok "READY=1 after the SCEP and admin listeners answer"

[ "$(cat h.txt)" = ok ] || fail "/healthz body: $(cat h.txt)"
[ "$(curl -s -o /dev/null -w '%{http_code}' -X POST "http://127.0.0.1:$APORT/healthz")" = 405 ] \
  || fail "POST /healthz is not 405"
[ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$APORT/lockouts")" = 401 ] \
  || fail "/lockouts without a token is not 401 any more"
ok "/healthz: 200 ok without a token, 405 for POST; the token still guards the rest"

kill -HUP "$SCEPD_PID"
notified 'RELOADING=1' || fail "no RELOADING=1 after SIGHUP: $(cat notify.txt)"
grep 'RELOADING=1' notify.txt | grep -q 'MONOTONIC_USEC=[0-9]' || fail "RELOADING=1 without MONOTONIC_USEC"
wait_until more_lines 'READY=1' 1 notify.txt || fail "no READY=1 after the reload: $(cat notify.txt)"
[ "$(grep -n 'RELOADING=1' notify.txt | cut -d: -f1)" -lt "$(grep -n 'READY=1' notify.txt | tail -n1 | cut -d: -f1)" ] \
  || fail "READY=1 came before RELOADING=1: $(cat notify.txt)"
curl -fs "$URL?operation=GetCACaps" > /dev/null || fail "GetCACaps fails after the reload"
ok "SIGHUP: RELOADING=1, then READY=1 once the new server answers"

kill -TERM "$SCEPD_PID"
wait "$SCEPD_PID" || fail "scepd exited $? after SIGTERM"
SCEPD_PID=""
grep -q 'STOPPING=1' notify.txt || fail "no STOPPING=1 at SIGTERM: $(cat notify.txt)"
ok "SIGTERM: STOPPING=1"

# Without NOTIFY_SOCKET nothing changes (sd_notify does nothing).
start_scepd "$CA"
curl -fs "$URL?operation=GetCACaps" > /dev/null || fail "scepd without NOTIFY_SOCKET does not serve"
ok "without NOTIFY_SOCKET it serves as before"
finish
