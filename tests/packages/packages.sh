#!/usr/bin/env bash
# The Debian packages: built from a copy of the tree with dpkg-buildpackage, lintian without an
# error, installed on this machine with apt-get, then the installed programs at work: the unit
# verifies with the installed scepd and man pages, the scepd user exists, `scepd init` and
# `scepd serve` run as that user, the installed `scep` and strongSwan's `pki --scep` enroll,
# a program builds against the installed libscep with pkg-config. Then everything is purged
# (and the user removed when this test made it): the machine is left as it was.
# Needs root (apt-get, runuser); about a minute.
source "$(dirname "$0")/../interop/lib.sh"
[ "$(id -u)" = 0 ] || fail "needs root: it installs and purges packages"
PACKAGES=(scepd scep-client libscep1 libscep-dev)
installed() { dpkg-query -W -f='${Status}' "$1" 2> /dev/null | grep -q 'install ok installed'; }
for p in "${PACKAGES[@]}"; do
  ! installed "$p" || fail "$p is installed already: apt-get purge ${PACKAGES[*]} first"
done
[ ! -e /usr/bin/scepd ] || fail "/usr/bin/scepd exists and belongs to no package of ours"
user_before=0
getent passwd scepd > /dev/null && user_before=1
apt_get() { DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 -y -qq "$@"; }
restore() {
  [ -z "$SCEPD_PID" ] || { kill "$SCEPD_PID" 2> /dev/null; wait "$SCEPD_PID" 2> /dev/null || true; }
  SCEPD_PID=""
  local any=()
  for p in "${PACKAGES[@]}" scepd-dbgsym scep-client-dbgsym libscep1-dbgsym; do
    dpkg-query -W -f='${Status}' "$p" 2> /dev/null | grep -q 'installed' && any+=("$p")
  done
  [ ${#any[@]} -eq 0 ] || apt_get purge "${any[@]}" > "$WORK/purge.log" 2>&1 || true
  [ $user_before = 1 ] || ! getent passwd scepd > /dev/null || userdel scepd 2> /dev/null || true
  getent group scepd > /dev/null && [ $user_before = 0 ] && groupdel scepd 2> /dev/null || true
}
trap 'restore; cleanup' EXIT
chmod 711 "$WORK" # the scepd user reaches its directory below it
cd "$WORK"

# 1. Build from a copy of the tree (what git knows, committed or not, no build directories).
mkdir src
(cd "$ROOT" && git ls-files -co --exclude-standard | tar -c -T -) | tar -x -C src
(cd src && DEB_BUILD_OPTIONS="nocheck parallel=$(nproc)" dpkg-buildpackage -us -uc -b) > build.log 2>&1 \
  || fail "dpkg-buildpackage: $(tail -n 15 build.log)"
for p in "${PACKAGES[@]}"; do
  [ -f "${p}_"*"_$(dpkg --print-architecture).deb" ] || fail "dpkg-buildpackage made no $p package"
done
ok "dpkg-buildpackage -us -uc -b builds ${PACKAGES[*]}"

lintian ./*.changes > lintian.txt 2>&1 || true
! grep -q '^E: ' lintian.txt || fail "lintian errors: $(grep '^E: ' lintian.txt)"
ok "lintian: no errors ($(grep -c '^W: ' lintian.txt || true) warnings)"

# 2. Install them.
debs=()
for p in "${PACKAGES[@]}"; do debs+=("./${p}_"*.deb); done
apt_get install --no-install-recommends "${debs[@]}" > install.log 2>&1 \
  || fail "apt-get install: $(tail -n 10 install.log)"
for p in "${PACKAGES[@]}"; do installed "$p" || fail "$p is not installed after apt-get install"; done
getent passwd scepd > /dev/null || fail "installing scepd made no scepd user"
[ "$(getent passwd scepd | cut -d: -f6)" = /var/lib/scepd ] || fail "the scepd user's home is not /var/lib/scepd"
ok "apt-get install: the four packages and the system user scepd"

unit=/lib/systemd/system/scepd.service
out=$(systemd-analyze verify "$unit" 2>&1) || fail "systemd-analyze verify $unit: $out"
[ -z "$out" ] || fail "systemd-analyze verify $unit is not clean: $out"
for page in scepd.8 scepd.conf.5 scep.1 libscep.3; do
  path=$(man -w "${page##*.}" "${page%.*}" 2> /dev/null) || fail "man cannot find ${page%.*}(${page##*.})"
  w=$(LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -l "$path" 2>&1 > /dev/null || true)
  [ -z "$w" ] || fail "man --warnings $path: $w"
done
[ -f /usr/share/doc/scepd/examples/scepd.conf ] || fail "no example scepd.conf in the scepd package"
ok "the installed unit verifies against /usr/bin/scepd and the installed man pages"

cat > use.c << 'C'
#include <scep/scep.h>
#include <stdio.h>
int main(void)
{
    scep_ctx *ctx = NULL;
    if (scep_ctx_new(NULL, &ctx) != SCEP_OK)
        return 1;
    puts(scep_strerror(SCEP_E_BAD_ALG));
    scep_ctx_free(ctx);
    return 0;
}
C
# shellcheck disable=SC2046
cc use.c -o use $(pkg-config --cflags --libs libscep) || fail "cannot build against libscep-dev"
[ "$(./use)" = "algorithm not allowed" ] || fail "a program linked to libscep1 printed $(./use)"
linked=$(ldd ./use) # not piped into grep -q: under pipefail, ldd's SIGPIPE would fail it
grep -qE 'libscep.so.1 => /(usr/)?lib/' <<< "$linked" || fail "the program does not use the installed libscep.so.1: $linked"
ok "a program builds with pkg-config libscep and runs on libscep.so.1"

# 3. The installed scepd, as the scepd user, as the unit would run it.
as_scepd() { setpriv --reuid scepd --regid scepd --init-groups "$@"; }
install -d -o scepd -g scepd -m 700 state
as_scepd /usr/bin/scepd init --dir "$WORK/state/ca" --subject "CN=Package CA,O=scep tests" --ra \
  > init.txt 2>&1 || fail "scepd init as scepd: $(cat init.txt)"
printf 'pkg-secret\n' > "$WORK/state/ca/challenge"
chown scepd:scepd "$WORK/state/ca/challenge"
chmod 600 "$WORK/state/ca/challenge"
PORT=$(free_port)
URL="http://127.0.0.1:$PORT/scep"
# setpriv execs scepd: $! is scepd's own PID.
setpriv --reuid scepd --regid scepd --init-groups /usr/bin/scepd serve --dir "$WORK/state/ca" --listen "127.0.0.1:$PORT" \
  --challenge-file "$WORK/state/ca/challenge" > scepd.log 2>&1 &
SCEPD_PID=$!
wait_for "no answer from $URL?operation=GetCACaps" answers "$URL?operation=GetCACaps"
curl -fs "$URL?operation=GetCACaps" > /dev/null || fail "the installed scepd does not serve"
[ "$(awk '/^Uid:/ { print $2 }' "/proc/$SCEPD_PID/status")" = "$(id -u scepd)" ] || fail "scepd serve does not run as scepd"
ok "the installed scepd init and serve run as the scepd user"

/usr/bin/scep getca -u "$URL" -o cadir > getca.txt 2>&1 || fail "scep getca: $(cat getca.txt)"
/usr/bin/scep enroll -u "$URL" --ca cadir --key dev.key --out dev.pem --subject "CN=pkg-dev,O=scep tests" \
  --challenge-file "$WORK/state/ca/challenge" > enroll.txt 2>&1 || fail "scep enroll: $(cat enroll.txt)"
check_issued dev.pem dev.key "$WORK/state/ca/ca.pem" pkg-dev
ok "the installed scep enrolls"

pki --scepca --url "$URL" --caout ca.pem --raout ra.pem --outform pem > scepca.txt 2>&1 \
  || fail "pki --scepca: $(grep -vi tpm scepca.txt | tail -n 3)"
pki --gen --type rsa --size 2048 --outform pem > ss.key 2> /dev/null
timeout 60 pki --scep --url "$URL" --in ss.key --dn "CN=pkg-ss,O=scep tests" --password pkg-secret \
  --cacert-enc ra.pem --cacert-sig ra.pem --cacert ca.pem --outform pem > ss.pem 2> ss.err \
  || fail "pki --scep: $(grep -vi tpm ss.err | tail -n 3)"
check_issued ss.pem ss.key "$WORK/state/ca/ca.pem" pkg-ss
ok "strongSwan pki --scep enrolls with the installed scepd"

# 4. Purge: nothing of ours is left.
kill "$SCEPD_PID"
wait "$SCEPD_PID" || fail "scepd exited $? on SIGTERM"
SCEPD_PID=""
restore
for p in "${PACKAGES[@]}"; do ! installed "$p" || fail "$p is still installed after the purge"; done
[ ! -e /usr/bin/scepd ] && [ ! -e "$unit" ] && [ ! -e /etc/systemd/system/multi-user.target.wants/scepd.service ] \
  || fail "files of the packages are left after the purge"
[ $user_before = 1 ] || ! getent passwd scepd > /dev/null || fail "the scepd user is left"
ok "apt-get purge leaves the machine as it was"
finish
