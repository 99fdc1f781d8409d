#!/usr/bin/env bash
# A lost store is never recreated: only `scepd init` makes one; a server whose database file is
# removed or replaced while it serves answers 503 (never SUCCESS into a file that is gone),
# fails /readyz and says so once in its log; a store that fails says why once (errno text),
# not once per request.
source "$(dirname "$0")/../interop/lib.sh"
SCEP=${SCEP:-$ROOT/build/scep}
cd "$WORK"

echo "admin-token-0123456789" > token
chmod 600 token
APORT=$(free_port)
ADMIN=(--set "admin_listen=127.0.0.1:$APORT" --set "admin_token_file=$WORK/token")
readyz() { curl -s -o ready.txt -w '%{http_code}' "http://127.0.0.1:$APORT/readyz"; }
enroll() { # enroll NAME: a new certificate with the challenge "pw" from $CA
  timeout 60 "$SCEP" enroll -u "$URL" --ca cadir --key "$1.key" --out "$1.pem" --subject "CN=$1" \
    --challenge pw > "$1.out" 2>&1
}
log_count() { grep -c -- "$1" "$WORK/scepd.log" || true; }

# 1. rm scepd.db* while serving: 503 from then on, nothing issued, /readyz 503, one loud line.
CA=$WORK/ca
new_ca "$CA"
start_scepd "$CA" --challenge pw "${ADMIN[@]}"
"$SCEP" getca -u "$URL" -o cadir > /dev/null || fail "getca"
enroll a1 || fail "enroll a1: $(tail -n 2 a1.out)"
enroll a2 || fail "enroll a2: $(tail -n 2 a2.out)"
[ "$(readyz)" = 200 ] || fail "/readyz before the loss: $(cat ready.txt)"
before=$(wc -l < scepd.log)
rm -f "$CA"/scepd.db "$CA"/scepd.db-wal "$CA"/scepd.db-shm
for n in b1 b2 b3; do
  if enroll $n; then fail "enroll $n succeeded after the store was removed"; fi
  grep -q "503" $n.out || fail "enroll $n: no 503 in: $(tail -n 2 $n.out)"
  [ -e $n.pem ] && fail "enroll $n wrote a certificate"
done
tail -n +"$((before + 1))" scepd.log | grep -q "SUCCESS" && fail "a SUCCESS after the store was removed"
[ "$(readyz)" = 503 ] || fail "/readyz answered $(cat ready.txt) without a store"
grep -q "^error: certificate store unavailable: " ready.txt || fail "/readyz body: $(cat ready.txt)"
lost="the database file $CA/scepd.db was removed or replaced while serving: refusing to answer; restore it and restart"
[ "$(log_count "error: certificate store unavailable: store: $lost")" = 1 ] \
  || fail "not one log line saying the store was lost: $(grep -c 'store unavailable' scepd.log)"
stop_scepd
[ -e "$CA/scepd.db" ] && fail "the server made a new scepd.db"
ok "rm scepd.db* while serving: 503 for every enrollment, no SUCCESS, /readyz 503, one error line"

# 2. Only init creates a store: every other command refuses a directory without one.
for cmd in certs pending "show 01" "revoke 01" challenge; do
  read -r -a words <<< "$cmd"
  if "$SCEPD" "${words[0]}" --dir "$CA" "${words[@]:1}" > cmd.out 2> cmd.err; then
    fail "scepd $cmd ran without a store"
  fi
  grep -q "no store at $CA/scepd.db: run scepd init" cmd.err \
    || fail "scepd $cmd: unclear error: $(cat cmd.err)"
  [ -e "$CA/scepd.db" ] && fail "scepd $cmd created a store"
done
if "$SCEPD" serve --dir "$CA" --listen "127.0.0.1:$(free_port)" --challenge pw "${SERVE_ROOT[@]}" > cmd.out 2> cmd.err
then fail "scepd serve ran without a store"; fi
grep -q "no store at $CA/scepd.db: run scepd init" cmd.err || fail "serve: unclear error: $(cat cmd.err)"
[ -e "$CA/scepd.db" ] && fail "scepd serve created a store"
: > "$CA/scepd.db"
if "$SCEPD" certs --dir "$CA" > cmd.out 2> cmd.err; then fail "scepd certs took an empty file"; fi
grep -q "an empty database, not a store: run scepd init" cmd.err || fail "empty file: $(cat cmd.err)"
[ -s "$CA/scepd.db" ] && fail "scepd certs wrote into an empty file"
ok "certs, pending, show, revoke, challenge and serve refuse a missing or empty store and create none"

# 3. A store replaced under the server (same content, another file): refused as well.
CA2=$WORK/ca2
new_ca "$CA2"
start_scepd "$CA2" --challenge pw
"$SCEP" getca -u "$URL" -o cadir2 > /dev/null || fail "getca ca2"
rm -rf cadir && mv cadir2 cadir
enroll c1 || fail "enroll c1: $(tail -n 2 c1.out)"
cp "$CA2/scepd.db" "$CA2/copy.db"
mv "$CA2/copy.db" "$CA2/scepd.db"
if enroll c2; then fail "enroll c2 succeeded after the store was replaced"; fi
grep -q "503" c2.out || fail "enroll c2: no 503 in: $(tail -n 2 c2.out)"
log_has "error: certificate store unavailable: store: the database file $CA2/scepd.db was removed or replaced"
stop_scepd
ok "a store replaced while serving: 503, and the log says so"

# 4. A store that fails says why, with the system's reason, once for many failing requests.
command -v strace > /dev/null || fail "strace is missing (scripts/install-deps)"
CA3=$WORK/ca3
new_ca "$CA3"
start_scepd_strace "$CA3" "-f -qq -o /dev/null -e trace=fdatasync,fsync -e inject=fdatasync,fsync:error=EIO" \
  --challenge pw
"$SCEP" getca -u "$URL" -o cadir3 > /dev/null || fail "getca ca3"
rm -rf cadir && mv cadir3 cadir
for n in d1 d2 d3; do
  if enroll $n; then fail "enroll $n succeeded although every flush fails"; fi
  grep -q "503" $n.out || fail "enroll $n: no 503 in: $(tail -n 2 $n.out)"
done
kill "$SCEPD_PID"
wait "$STRACE_PID" 2> /dev/null || true
SCEPD_PID=""
# SQLite's own fsync of the log fails first, or the flusher's: either way the errno text.
[ "$(log_count "error: certificate store unavailable: .*Input/output error")" = 1 ] \
  || fail "not one error line with the reason: $(grep 'store unavailable' scepd.log | tail -n 3)"
ok "a failing disk: one error line with the errno text for three failed enrollments"
finish
