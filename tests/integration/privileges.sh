#!/usr/bin/env bash
# Least privilege: init makes its directory private (also one that existed open to all) and its
# files owner-only whatever the umask; serve refuses a directory others may write, a key others
# may read or that is a symbolic link (--allow-insecure-permissions overrides), and root unless
# it gives root up: with user = NAME it becomes NAME after binding and loading the keys (checked
# in /proc), reloads and enrolls as NAME, and root cannot come back.
source "$(dirname "$0")/../interop/lib.sh"
SCEP=${SCEP:-$ROOT/build/scep}
cd "$WORK"

# expect RC TEXT COMMAND...: COMMAND exits RC and says TEXT.
expect() {
  local want=$1 text=$2 rc=0; shift 2
  timeout 20 "$@" > out.txt 2>&1 || rc=$?
  [ "$rc" = "$want" ] || fail "'$*' exited $rc, expected $want: $(cat out.txt)"
  grep -qF -- "$text" out.txt || fail "'$*' does not say '$text': $(cat out.txt)"
}
mode() { stat -c %a "$1"; }

mkdir open-dir
chmod 777 open-dir
(umask 000 && "$SCEPD" init --dir open-dir --subject "CN=Private CA" --ra > init.out) || fail "init: $(cat init.out)"
[ "$(mode open-dir)" = 700 ] || fail "init left the existing directory $(mode open-dir)"
for f in ca.key ra.key scepd.conf scepd.db; do
  [ "$(mode "open-dir/$f")" = 600 ] || fail "with umask 000, init wrote $f $(mode "open-dir/$f")"
done
for f in ca.pem ra.pem; do
  [ "$(mode "open-dir/$f")" = 644 ] || fail "with umask 000, init wrote $f $(mode "open-dir/$f")"
done
(umask 000 && "$SCEPD" init --dir new-dir --subject "CN=New CA" > init.out) || fail "init: $(cat init.out)"
[ "$(mode new-dir)" = 700 ] || fail "init created its directory $(mode new-dir) under umask 000"
(umask 000 && "$SCEPD" challenge --dir new-dir > /dev/null) || fail "scepd challenge"
for f in new-dir/scepd.db*; do [ "$(mode "$f")" = 600 ] || fail "$f is $(mode "$f") under umask 000"; done
ok "init: an existing 0777 directory becomes 0700; keys, scepd.conf and the store 0600, certificates 0644, whatever the umask"

CA=$WORK/ca
new_ca "$CA"
for m in 777 770 757; do
  chmod "$m" "$CA"
  expect 1 "$CA (the CA directory) is writable by group or others (mode 0$m)" \
    "$SCEPD" serve --dir "$CA" --listen 127.0.0.1:0 "${SERVE_ROOT[@]}"
done
chmod 755 "$CA"
mkdir -m 777 store-dir
expect 1 "$WORK/store-dir (the store's directory) is writable by group or others (mode 0777)" \
  "$SCEPD" serve --dir "$CA" --listen 127.0.0.1:0 --set "store=sqlite:$WORK/store-dir/x.db" "${SERVE_ROOT[@]}"
chmod 644 "$CA/ca.key"
expect 1 "$CA/ca.key (ca_key) is readable by group or others (mode 0644)" \
  "$SCEPD" serve --dir "$CA" --listen 127.0.0.1:0 "${SERVE_ROOT[@]}"
chmod 600 "$CA/ca.key"
mv "$CA/ca.key" "$CA/real.key"
ln -s real.key "$CA/ca.key"
expect 1 "$CA/ca.key (ca_key) is a symbolic link" "$SCEPD" serve --dir "$CA" --listen 127.0.0.1:0 "${SERVE_ROOT[@]}"
chmod 777 "$CA"
start_scepd "$CA" --allow-insecure-permissions
stop_scepd
chmod 700 "$CA"
rm "$CA/ca.key"
mv "$CA/real.key" "$CA/ca.key"
ok "serve refuses a CA or store directory writable by others, a key readable by others or a symbolic link; --allow-insecure-permissions starts anyway"

if [ "$(id -u)" != 0 ]; then
  ok "root and user = NAME: skipped (not run as root)"
  finish
  exit 0
fi
expect 1 "refusing to serve as root: set user = NAME" "$SCEPD" serve --dir "$CA" --listen 127.0.0.1:0
expect 1 "user = nobody: $CA must be owned by nobody" \
  "$SCEPD" serve --dir "$CA" --listen 127.0.0.1:0 --user nobody
expect 1 "user = no-such-user-x: no such user" \
  "$SCEPD" serve --dir "$CA" --listen 127.0.0.1:0 --user no-such-user-x
ok "as root: refused without user = NAME or --allow-root; user must exist and own DIR"

# The drop: a directory owned by nobody, served by root on a port, as nobody once bound.
chmod 711 "$WORK"
chown -R nobody: "$CA"
echo "user = nobody" >> "$CA/scepd.conf"
PORT=$(free_port)
URL="http://127.0.0.1:$PORT/scep"
"$SCEPD" serve --dir "$CA" --listen "127.0.0.1:$PORT" --challenge pw >> scepd.log 2>&1 &
SCEPD_PID=$!
wait_for "scepd did not start" answers "$URL?operation=GetCACaps"
NOBODY=$(id -u nobody)
NOGROUP=$(id -g nobody)
grep -q "^Uid:[[:space:]]*$NOBODY[[:space:]]*$NOBODY[[:space:]]*$NOBODY[[:space:]]*$NOBODY$" "/proc/$SCEPD_PID/status" \
  || fail "scepd runs as $(grep Uid: "/proc/$SCEPD_PID/status"), not nobody ($NOBODY)"
grep -q "^Gid:[[:space:]]*$NOGROUP[[:space:]]*$NOGROUP[[:space:]]*$NOGROUP[[:space:]]*$NOGROUP$" "/proc/$SCEPD_PID/status" \
  || fail "scepd's groups: $(grep Gid: "/proc/$SCEPD_PID/status")"
grep -q "^Groups:[[:space:]]*$(id -G nobody | tr ' ' '\n' | sort -n | tr '\n' ' ' | sed 's/ $//')[[:space:]]*$" "/proc/$SCEPD_PID/status" \
  || fail "scepd kept other groups: $(grep Groups: "/proc/$SCEPD_PID/status")"
log_has "running as user nobody"
"$SCEP" getca -u "$URL" -o cadir > /dev/null || fail "getca"
run_scep 0 "enroll as nobody" enroll -u "$URL" --ca cadir --key dev.key --out dev.pem --subject CN=dropped --challenge pw
check_issued dev.pem dev.key "$CA/ca.pem" dropped
reload_scepd "$SCEPD_PID" "$WORK/scepd.log"
log_has "reload: configuration read"
run_scep 0 "enroll after a reload" enroll -u "$URL" --ca cadir --key dev2.key --out dev2.pem --subject CN=reloaded --challenge pw
check_issued dev2.pem dev2.key "$CA/ca.pem" reloaded
stop_scepd
[ "$(stat -c %U "$CA/scepd.db")" = nobody ] || fail "the store is owned by $(stat -c %U "$CA/scepd.db")"
ls -l "$CA" | awk 'NR > 1 && $3 != "nobody" {bad = bad " " $NF} END {exit bad != ""}' \
  || fail "files in DIR not owned by nobody: $(ls -l "$CA")"
chmod 700 "$WORK"
ok "user = nobody: root binds and loads the keys, then uid, gid and groups are nobody's; it enrolls and reloads; its files stay nobody's"
finish
