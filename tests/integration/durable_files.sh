#!/usr/bin/env bash
# Files that scepd's commands write survive a crash whole: each is written to a temporary file
# beside it, flushed (fsync), and only then put in place, and the directory is flushed after
# each new name or move. Checked on the system calls (strace) of init (CA mode, RA mode),
# rollover (prepare, then the move of the generations after the switch) and ra-renew.
source "$(dirname "$0")/../interop/lib.sh"
command -v strace > /dev/null || fail "strace is missing (scripts/install-deps)"
cd "$WORK"

# traced NAME COMMAND...: runs COMMAND under strace into NAME.trace (LeakSanitizer, in a
# sanitized build, cannot run under ptrace).
traced() {
  local name=$1; shift
  ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 strace -f -qq -y -o "$name.trace" -e trace=fsync,fdatasync,rename,renameat,renameat2,link,linkat \
    "$@" > "$name.out" 2>&1 || fail "$name: $(tail -n 3 "$name.out")"
}

# check NAME DIR FILE...: in NAME.trace, each FILE of DIR got its final name from a temporary
# file flushed before, or was moved there, and a flush of DIR followed; every move is flushed.
check() {
  python3 - "$@" << 'PY' || fail "$1: $(cat "$1.why")"
import os, re, sys
name, d, want = sys.argv[1], os.path.realpath(sys.argv[2]), set(sys.argv[3:])
synced, calls = set(), []
for line in open(name + '.trace'):
    m = re.search(r'\b(f(?:data)?sync)\(\d+<([^>]*)>\) = 0', line)
    if m:
        calls.append(('sync', m.group(2), None))
        continue
    m = re.search(r'\b(link|rename)(?:at2?)?\((?:[^"]*)"([^"]+)", (?:[^"]*)"([^"]+)"[^)]*\) = 0', line)
    if m:
        calls.append((m.group(1), os.path.realpath(m.group(2)), os.path.realpath(m.group(3))))
why, placed = [], set()
for i, (op, a, b) in enumerate(calls):
    if op == 'sync':
        synced.add(a)
        continue
    if os.path.dirname(b) != d:
        continue
    if '.tmp-' in os.path.basename(a) and a not in synced:
        why.append('%s was put in place as %s without an fsync' % (a, b))
    if not any(c[0] == 'sync' and c[1] == d for c in calls[i + 1:]):
        why.append('no fsync of %s after %s %s -> %s' % (d, op, a, b))
    placed.add(os.path.basename(b))
missing = want - placed
if missing:
    why.append('not written through a temporary file or a move: ' + ', '.join(sorted(missing)))
open(name + '.why', 'w').write('; '.join(why))
sys.exit(1 if why else 0)
PY
}

traced init "$SCEPD" init --dir ca --subject "CN=Durable CA"
check init ca ca.key ca.pem scepd.conf
ok "init: ca.key, ca.pem and scepd.conf flushed before their rename, then the directory"

traced init-ra "$SCEPD" init --dir ra --subject "CN=Durable RA CA" --ra
check init-ra ra ca.key ca.pem ra.key ra.pem scepd.conf
ok "init --ra: ra.key and ra.pem too"

traced rollover "$SCEPD" rollover --dir ra --switch-in 2
check rollover ra next-ca.key next-ca.pem next-ra.key next-ra.pem
sleep 3
traced rollover-move "$SCEPD" rollover --dir ra --switch-in 3600
check rollover-move ra prev-ca.pem prev-ca.key ca.pem ca.key prev-ra.pem prev-ra.key ra.pem ra.key \
  next-ca.key next-ca.pem
ok "rollover: the next CA and RA written durably; after the switch each move is flushed"

traced ra-renew "$SCEPD" ra-renew --dir ra
check ra-renew ra ra.key.new ra.pem.new prev-ra.pem prev-ra.key ra.key ra.pem
ok "ra-renew: the new RA written durably, the moves flushed"

# Nothing half written is left about, and the files are what they claim.
ls ca ra | grep -q '\.tmp-' && fail "temporary files left: $(ls ca ra)"
openssl x509 -in ra/ra.pem -noout || fail "ra/ra.pem is not a certificate"
openssl pkey -in ra/ra.key -noout || fail "ra/ra.key is not a key"
ok "no temporary files left; the files read back"
finish
