#!/usr/bin/env bash
# scepd backup while enrollments run, then scepd restore into a new directory: the restored
# CA serves the same certificates (GetCert by serial) and the same CRL. The archive is 0600,
# holds keys only with --with-keys, and restore refuses a non-empty directory and an archive
# with names outside it.
source "$(dirname "$0")/../interop/lib.sh"
SCEP=${SCEP:-$ROOT/build/scep}
cd "$WORK"
CA=$WORK/ca
new_ca "$CA"
start_scepd "$CA" --challenge s3cret
"$SCEP" getca -u "$URL" -o cadir > getca.out 2>&1 || fail "getca: $(cat getca.out)"
enroll() {
  "$SCEP" enroll -u "$URL" --ca cadir --key "$1.key" --out "$1.pem" --subject "CN=$1" \
    --challenge s3cret > "$1.out" 2>&1
}
for d in d1 d2 d3; do enroll "$d" || fail "enroll $d: $(cat "$d.out")"; done
serial_of() { openssl x509 -in "$1" -noout -serial | cut -d= -f2; }
"$SCEPD" revoke --dir "$CA" "$(serial_of d3.pem)" > revoke.out 2>&1 || fail "revoke: $(cat revoke.out)"
curl -fs "http://127.0.0.1:$PORT/crl/ca.crl" -o before.crl \
  || fail "GET /crl/ca.crl"

# Enrollments in the background while the backup runs.
(for i in $(seq 1 12); do enroll "load$i" || echo "load$i failed" >> load.err; done) &
LOAD=$!
wait_until eval '[ -s load1.pem ]' || true
kill -0 "$LOAD" 2> /dev/null || fail "the load finished before the backup started"
"$SCEPD" backup --dir "$CA" --out "$WORK/plain.tgz" > plain.out 2>&1 || fail "backup: $(cat plain.out)"
"$SCEPD" backup --dir "$CA" --out "$WORK/full.tgz" --with-keys > full.out 2>&1 || fail "backup --with-keys: $(cat full.out)"
kill -0 "$LOAD" 2> /dev/null || echo "note: the load ended during the backups"
wait "$LOAD"
[ ! -s load.err ] || fail "enrollments failed during the backup: $(cat load.err)"
ok "two backups taken while enrollments ran, none of them failed"

[ "$(stat -c %a full.tgz)" = 600 ] || fail "full.tgz has mode $(stat -c %a full.tgz)"
tar tzf plain.tgz > plain.list || fail "plain.tgz is not a tar.gz"
tar tzf full.tgz > full.list || fail "full.tgz is not a tar.gz"
for f in scepd.conf scepd.db ca.pem; do grep -qx "$f" plain.list || fail "$f is not in the backup: $(cat plain.list)"; done
grep -q '\.key$' plain.list && fail "a key is in the backup without --with-keys: $(cat plain.list)"
grep -qx ca.key full.list || fail "ca.key is not in the --with-keys backup: $(cat full.list)"
ok "the archive: store, scepd.conf, CA certificate; keys only with --with-keys; mode 0600"

NEW=$WORK/restored
"$SCEPD" restore --in full.tgz --dir "$NEW" > restore.out 2>&1 || fail "restore: $(cat restore.out)"
[ "$(sqlite3 "$NEW/scepd.db" 'PRAGMA integrity_check')" = ok ] || fail "the restored store is damaged"
stop_scepd
start_scepd "$NEW" --challenge s3cret
# Every certificate the restored store holds, by GetCert from the restored server, is the one
# the original issued; the three issued before the backup are all there.
"$SCEPD" certs --dir "$NEW" | awk 'NR > 1 && $2 != "ca" { print $1 }' > serials.txt
for d in d1 d2 d3; do grep -qx "$(serial_of $d.pem)" serials.txt || fail "$d is not in the restored store"; done
[ "$(wc -l < serials.txt)" -ge 4 ] || fail "no enrollment of the load is in the backup: $(cat serials.txt)"
[ "$(wc -l < serials.txt)" -le 15 ] || fail "more certificates than were issued: $(wc -l < serials.txt)"
checked=0
for pem in d*.pem load*.pem; do
  s=$(serial_of "$pem")
  grep -qx "$s" serials.txt || continue
  "$SCEP" getcert -u "$URL" --ca cadir --cert d1.pem --key d1.key --serial "$s" --out got.pem \
    > getcert.out 2>&1 || fail "GetCert $s from the restored server: $(cat getcert.out)"
  cmp -s <(openssl x509 -in got.pem -outform DER) <(openssl x509 -in "$pem" -outform DER) \
    || fail "GetCert $s: the restored server sent another certificate"
  checked=$((checked + 1))
done
[ "$checked" = "$(wc -l < serials.txt)" ] || fail "checked $checked of $(wc -l < serials.txt) serials"
curl -fs "http://127.0.0.1:$PORT/crl/ca.crl" -o after.crl || fail "GET /crl/ca.crl from the restored server"
cmp -s before.crl after.crl || fail "the restored server serves another CRL"
openssl crl -inform DER -in after.crl -noout -text | grep -q "$(serial_of d3.pem)" || fail "the CRL lost the revocation"
enroll after || fail "the restored CA does not issue: $(cat after.out)"
ok "restored: GetCert by serial gives the same $checked certificates, the same CRL, and it issues"

# Refusals: a directory with something in it, an archive with a name outside the directory or
# a link, a missing --out.
if "$SCEPD" restore --in full.tgz --dir "$NEW" > again.out 2>&1; then fail "restore into a non-empty directory"; fi
grep -q "not empty" again.out || fail "unclear refusal: $(cat again.out)"
mkdir evil && echo x > evil/payload && ln -s /etc/passwd evil/link
tar czf dotdot.tgz -C evil --transform 's,^payload,../escaped,' payload
tar czf link.tgz -C evil link
for bad in dotdot link; do
  if "$SCEPD" restore --in $bad.tgz --dir "$WORK/r-$bad" > $bad.out 2>&1; then fail "restore took $bad.tgz"; fi
  grep -q "refusing the archive" $bad.out || fail "unclear refusal of $bad.tgz: $(cat $bad.out)"
done
[ ! -e "$WORK/escaped" ] || fail "restore wrote outside its directory"
rc=0
"$SCEPD" backup --dir "$CA" > noout.out 2>&1 || rc=$?
[ "$rc" = 2 ] && grep -q -- "--out FILE is required" noout.out || fail "backup without --out: exit $rc, $(cat noout.out)"
ok "restore refuses a non-empty directory, '../' names and links; backup without --out is a usage error"

# A profile's own CA directory (ca_dir): backup takes it as ca_dirs/NAME/ (once for two
# profiles naming it; keys only with --with-keys), restore puts it in NEWDIR/ca_dirs/NAME and
# says where its ca_dir looks; pointing ca_dir there serves that CA.
PCA=$WORK/pca
IOT=$WORK/pca-iot
"$SCEPD" init --dir "$PCA" --subject "CN=Backup Server CA" > /dev/null || fail "init pca"
"$SCEPD" init --dir "$IOT" --subject "CN=Backup IoT CA" --ra > /dev/null || fail "init pca-iot"
printf '\n[profile iot]\nca_dir = %s\nchallenge = iot-secret\n\n[profile iot2]\nca_dir = ../pca-iot\nchallenge = iot2-secret\n' \
  "$IOT" >> "$PCA/scepd.conf"
"$SCEPD" backup --dir "$PCA" --out pca-plain.tgz > pca-plain.out 2>&1 || fail "backup pca: $(cat pca-plain.out)"
"$SCEPD" backup --dir "$PCA" --out pca-full.tgz --with-keys > pca-full.out 2>&1 \
  || fail "backup pca --with-keys: $(cat pca-full.out)"
tar tzf pca-plain.tgz > pca-plain.list && tar tzf pca-full.tgz > pca-full.list || fail "pca archives"
for f in scepd.conf ca.pem ra.pem; do
  grep -qx "ca_dirs/iot/$f" pca-plain.list || fail "ca_dirs/iot/$f is not in the backup: $(cat pca-plain.list)"
done
grep -q '\.key$' pca-plain.list && fail "a key is in the backup without --with-keys: $(cat pca-plain.list)"
for f in ca.key ra.key; do
  grep -qx "ca_dirs/iot/$f" pca-full.list || fail "ca_dirs/iot/$f is not in the --with-keys backup: $(cat pca-full.list)"
done
grep -q "^ca_dirs/iot2/" pca-full.list && fail "the shared CA directory went in twice: $(cat pca-full.list)"
grep -q "profile iot's CA directory $IOT as ca_dirs/iot/" pca-full.out || fail "backup does not say so: $(cat pca-full.out)"
ok "backup: a profile's ca_dir as ca_dirs/NAME/ (once when shared), its keys only with --with-keys"

NEW2=$WORK/pca-restored
"$SCEPD" restore --in pca-full.tgz --dir "$NEW2" > pca-restore.out 2>&1 || fail "restore pca: $(cat pca-restore.out)"
grep -qF "profile iot's CA directory is in $NEW2/ca_dirs/iot: move it to its ca_dir ($IOT) or set ca_dir = ca_dirs/iot in [profile iot]" \
  pca-restore.out || fail "restore does not say where iot's CA directory is: $(cat pca-restore.out)"
cmp -s "$NEW2/ca_dirs/iot/ca.key" "$IOT/ca.key" && cmp -s "$NEW2/ca_dirs/iot/ra.pem" "$IOT/ra.pem" \
  || fail "the restored CA directory differs"
[ "$(stat -c %a "$NEW2/ca_dirs/iot/ca.key")" = 600 ] && [ "$(stat -c %a "$NEW2/ca_dirs/iot")" = 700 ] \
  || fail "restored modes: $(stat -c '%a %n' "$NEW2/ca_dirs/iot" "$NEW2/ca_dirs/iot/ca.key")"
sed -i "s|^ca_dir = .*|ca_dir = ca_dirs/iot|" "$NEW2/scepd.conf"
"$SCEPD" profiles --dir "$NEW2" > pca-profiles.txt 2>&1 || fail "profiles after restore: $(cat pca-profiles.txt)"
sed -n '/^iot$/,/^iot2$/p' pca-profiles.txt | grep -q "CA: *CN=Backup IoT CA" \
  || fail "the restored ca_dir does not serve iot's CA: $(cat pca-profiles.txt)"
mkdir -p evil/ca_dirs/Bad && echo x > evil/ca_dirs/Bad/x
tar czf badname.tgz -C evil ca_dirs/Bad/x
if "$SCEPD" restore --in badname.tgz --dir "$WORK/r-badname" > badname.out 2>&1; then fail "restore took ca_dirs/Bad/x"; fi
grep -q "refusing the archive" badname.out || fail "unclear refusal of ca_dirs/Bad/x: $(cat badname.out)"
ok "restore: ca_dirs/NAME/ back under NEWDIR (0700, keys 0600) with where to put it; ca_dir pointed there serves it; a bad NAME is refused"
finish
