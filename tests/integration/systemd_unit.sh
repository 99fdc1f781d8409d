#!/usr/bin/env bash
# The installed scepd.service: `systemd-analyze verify` is clean (with the installed program
# and man pages), `systemd-analyze security` rates its exposure 2.0 or lower, and it keeps the
# settings the operations guide promises (Type=notify, its own user, a read-only system but
# its state directory, no capabilities, the @system-service filter). Offline: no running
# systemd is needed.
source "$(dirname "$0")/../interop/lib.sh"
BUILD=${BUILD:-$ROOT/build}
cd "$WORK"
cmake --install "$BUILD" --prefix "$WORK/prefix" > install.log || fail "cmake --install"
unit=$WORK/prefix/lib/systemd/system/scepd.service
[ -f "$unit" ] || fail "make install put no scepd.service in lib/systemd/system"
grep -qx "ExecStart=$WORK/prefix/bin/scepd serve --dir /var/lib/scepd" "$unit" \
  || fail "ExecStart does not name the installed scepd: $(grep ExecStart "$unit")"
ok "make install puts scepd.service below the prefix, ExecStart naming the installed scepd"

out=$(MANPATH=$WORK/prefix/share/man systemd-analyze verify "$unit" 2>&1) \
  || fail "systemd-analyze verify: $out"
[ -z "$out" ] || fail "systemd-analyze verify is not clean: $out"
ok "systemd-analyze verify: clean"

systemd-analyze security --offline=yes --threshold=20 "$unit" > security.txt 2>&1 \
  || fail "systemd-analyze security: above 2.0 or failed: $(tail -n 3 security.txt)"
level=$(sed -n 's/.*Overall exposure level for scepd.service: \([0-9.]*\).*/\1/p' security.txt)
[ -n "$level" ] || fail "no exposure level in: $(tail -n 3 security.txt)"
awk -v l="$level" 'BEGIN { exit !(l <= 2.0) }' || fail "exposure $level is above 2.0"
ok "systemd-analyze security --offline: exposure $level (at most 2.0)"

for line in Type=notify User=scepd ProtectSystem=strict ReadWritePaths=/var/lib/scepd \
  StateDirectory=scepd NoNewPrivileges=yes PrivateTmp=yes CapabilityBoundingSet= \
  SystemCallFilter=@system-service ExecReload=/bin/kill\ -HUP\ \$MAINPID; do
  grep -qxF "$line" "$unit" || fail "scepd.service lacks '$line'"
done
ok "Type=notify, its own user, ProtectSystem=strict but /var/lib/scepd, no capabilities, @system-service"
finish
