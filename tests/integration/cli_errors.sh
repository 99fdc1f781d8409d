#!/usr/bin/env bash
# What an operator meets on the command line: a bad value is named (with the file and line when
# it comes from a file) in one short message and a documented exit code, not the whole usage
# text; listen addresses and ports are checked; key and token files readable by others stop
# scepd serve; an unreadable key says why in words; --version; file names given as flags are
# relative to the current directory; `scep getca -o a/b` creates the parents.
source "$(dirname "$0")/../interop/lib.sh"
SCEP=${SCEP:-$ROOT/build/scep}
cd "$WORK"
CA=$WORK/ca
new_ca "$CA"

# expect CODE FRAGMENT COMMAND...: exits CODE, says FRAGMENT, in at most two lines.
expect() {
  local code=$1 want=$2 rc=0 out
  shift 2
  out=$(timeout 20 "$@" 2>&1 < /dev/null) || rc=$?
  [ "$rc" = "$code" ] || fail "'$*' exits $rc, not $code: $out"
  grep -qF -- "$want" <<< "$out" || fail "'$*' does not say \"$want\": $out"
  [ "$(wc -l <<< "$out")" -le 2 ] || fail "'$*' prints more than the error: $out"
}

expect 2 "bad --ttl '5x'" "$SCEPD" challenge --dir "$CA" --ttl 5x
expect 2 "bad --ttl '0'" "$SCEPD" challenge --dir "$CA" --ttl 0
expect 2 "bad --reason 'stolen': one of unspecified, keyCompromise" \
  "$SCEPD" revoke --dir "$CA" 0A --reason stolen
expect 2 "bad SERIAL 'xyz'" "$SCEPD" revoke --dir "$CA" xyz
expect 2 "bad --days '0': a whole number from 1 to 36500" \
  "$SCEPD" init --dir "$WORK/new" --subject CN=x --days 0
expect 2 "bad --days '10x'" "$SCEPD" init --dir "$WORK/new" --subject CN=x --days 10x
expect 2 "bad --ra-days '2y'" "$SCEPD" init --dir "$WORK/new" --subject CN=x --ra --ra-days 2y
expect 2 "--ra-days goes with --ra" "$SCEPD" init --dir "$WORK/new" --subject CN=x --ra-days 30
[ ! -e "$WORK/new" ] || fail "a refused init left $WORK/new behind"
expect 2 "bad --days '0'" "$SCEPD" ra-renew --dir "$CA" --days 0
expect 2 "bad --limit 'ten'" "$SCEPD" certs --dir "$CA" --limit ten
expect 2 "bad --overlap-days 'soon'" "$SCEPD" rollover --dir "$CA" --overlap-days soon
expect 2 "'127.0.0.1:99999' (the port must be a number from 0 to 65535)" \
  "$SCEPD" serve --dir "$CA" --listen 127.0.0.1:99999
expect 2 "':65537'" "$SCEPD" serve --dir "$CA" --listen :65537
expect 2 "'127.0.0.1:80x'" "$SCEPD" serve --dir "$CA" --listen 127.0.0.1:80x
expect 2 "'300.0.0.1:80' (the host must be a numeric IPv4 or [IPv6] address)" \
  "$SCEPD" serve --dir "$CA" --listen 300.0.0.1:80
expect 2 "'[::1:8080'" "$SCEPD" serve --dir "$CA" --listen '[::1:8080'
expect 2 "bad value for threads: 'many' (a whole number from 0 to 256)" \
  "$SCEPD" serve --dir "$CA" --threads many
expect 2 "bad value for validity_days: '0'" "$SCEPD" serve --dir "$CA" --set validity_days=0
expect 2 "bad value for admin_listen: '127.0.0.1:70000'" \
  "$SCEPD" serve --dir "$CA" --set admin_listen=127.0.0.1:70000
expect 2 "unexpected argument 'extra'" "$SCEPD" serve --dir "$CA" extra
expect 2 "'abc' is not a request ID" "$SCEPD" approve --dir "$CA" abc
expect 2 "scepd pending: --dir DIR is required" "$SCEPD" pending
expect 2 "scepd revoke: --dir DIR is required" "$SCEPD" revoke 0A
ok "scepd flags: a bad value is named with what is expected, exit 2"

# The same in scepd.conf: the file and the line.
cp "$CA/scepd.conf" "$WORK/scepd.conf.good"
echo "listen = 127.0.0.1:99999" >> "$CA/scepd.conf"
line=$(wc -l < "$CA/scepd.conf")
expect 1 "$CA/scepd.conf:$line: bad value for listen: '127.0.0.1:99999'" "$SCEPD" serve --dir "$CA"
expect 1 "$CA/scepd.conf:$line: bad value for listen" "$SCEPD" pending --dir "$CA"
cp "$WORK/scepd.conf.good" "$CA/scepd.conf"
echo "crl_days = 0" >> "$CA/scepd.conf"
expect 1 "$CA/scepd.conf:$line: bad value for crl_days: '0' (a whole number from 1 to 3650)" \
  "$SCEPD" serve --dir "$CA"
cp "$WORK/scepd.conf.good" "$CA/scepd.conf"
ok "scepd.conf: a bad listen address or number names the file and line, exit 1"

# scep watch: its configuration file and its flags.
printf 'url = http://127.0.0.1:1/scep\nrenew-at = 150\n' > watch.conf
expect 2 "watch.conf:2: bad renew-at '150': a percentage from 0 to 100" \
  "$SCEP" watch --config watch.conf --ca "$WORK" --cert c.pem --key k.pem
expect 2 "bad --renew-at '150%'" "$SCEP" watch -u http://127.0.0.1:1/scep --ca "$WORK" \
  --cert c.pem --key k.pem --renew-at 150%
expect 2 "bad --check-interval '1m'" "$SCEP" watch -u http://127.0.0.1:1/scep --ca "$WORK" \
  --cert c.pem --key k.pem --check-interval 1m
ok "scep watch: a bad percentage or interval is named, with the file and line"

# A missing --url or --ca is refused before any connection (and before the session exists).
expect 2 "--url is required" "$SCEP" getcaps
expect 2 "--url is required" "$SCEP" getcaps --verbose
expect 2 "--ca DIR is required" "$SCEP" getcrl -u http://127.0.0.1:1/scep --cert c.pem \
  --key k.pem --out crl.pem
expect 2 "--ca DIR is required" "$SCEP" getcert -u http://127.0.0.1:1/scep --cert c.pem \
  --key k.pem --serial 01 --out got.pem
ok "scep: a missing --url or --ca is named, exit 2"

# --version: the project's version (CMakeLists.txt), the library's and OpenSSL's.
version=$(sed -n 's/^project(scep VERSION \([0-9.]*\) .*/\1/p' "$ROOT/CMakeLists.txt")
[ -n "$version" ] || fail "no version in CMakeLists.txt"
openssl_version=$(openssl version | cut -d' ' -f2)
for prog in scepd scep; do
  bin=$SCEPD
  [ $prog = scep ] && bin=$SCEP
  out=$("$bin" --version) || fail "$prog --version exits $?"
  [ "$out" = "$prog $version (libscep $version, OpenSSL $openssl_version)" ] \
    || fail "$prog --version says '$out'"
done
ok "scepd --version and scep --version: $version, with libscep and OpenSSL"

# Key and token files readable by group or others stop the server.
echo s3cret > "$WORK/challenge.txt"
chmod 644 "$WORK/challenge.txt"
expect 1 "$WORK/challenge.txt (challenge_file) is readable by group or others (mode 0644)" \
  "$SCEPD" serve --dir "$CA" --listen 127.0.0.1:0 --challenge-file "$WORK/challenge.txt"
chmod 640 "$CA/ca.key"
expect 1 "$CA/ca.key (ca_key) is readable by group or others (mode 0640)" \
  "$SCEPD" serve --dir "$CA" --listen 127.0.0.1:0
chmod 600 "$CA/ca.key"
[ "$(stat -c %a "$CA/scepd.conf")" = 600 ] || fail "scepd init wrote scepd.conf $(stat -c %a "$CA/scepd.conf")"
cp "$CA/scepd.conf" "$WORK/scepd.conf.good"
echo "challenge = in-the-file" >> "$CA/scepd.conf"
chmod 644 "$CA/scepd.conf"
expect 1 "scepd.conf holds a secret and is readable by group or others (mode 0644)" \
  "$SCEPD" serve --dir "$CA" --listen 127.0.0.1:0
grep -q in-the-file "$WORK/scepd.log" 2> /dev/null && fail "the challenge reached the log"
cp "$WORK/scepd.conf.good" "$CA/scepd.conf"
chmod 600 "$CA/scepd.conf"
ok "scepd serve refuses key, challenge and secret-holding config files readable by others"

# --allow-insecure-permissions starts anyway; a relative --challenge-file is read from the
# current directory (not from --dir), and `scep getca -o` creates missing parents.
cd "$WORK"
start_scepd "$CA" --challenge-file challenge.txt --allow-insecure-permissions
"$SCEP" getca -u "$URL" -o deep/er/cadir > getca.out 2>&1 || fail "getca -o deep/er/cadir: $(cat getca.out)"
[ -s deep/er/cadir/ca.pem ] || fail "getca -o did not create the missing parents"
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out open.key 2> /dev/null
chmod 644 open.key
"$SCEP" enroll -u "$URL" --ca deep/er/cadir --key open.key --out open.pem --subject CN=open \
  --challenge s3cret > enroll.out 2>&1 || fail "enroll with the challenge from ./challenge.txt: $(cat enroll.out)"
grep -q "the private key open.key is readable by group or others (mode 0644)" enroll.out \
  || fail "the client does not warn about a key readable by others: $(cat enroll.out)"
stop_scepd
ok "relative --challenge-file is read from the current directory; getca -o makes parents; the client warns about an open key"

# An unreadable key: the system's reason, not an OpenSSL error code. As another user when run
# as root (root reads anything).
AS_OTHER=(env)
[ "$(id -u)" = 0 ] && AS_OTHER=(setpriv --reuid=65534 --regid=65534 --clear-groups)
OPEN=$WORK/open
mkdir -p "$OPEN"
chmod 711 "$WORK"
new_ca "$OPEN/ca"
chmod 755 "$OPEN" "$OPEN/ca"
chmod 644 "$OPEN/ca/scepd.conf"
chmod 000 "$OPEN/ca/ca.key"
expect 1 "cannot read $OPEN/ca/ca.key: Permission denied" \
  "${AS_OTHER[@]}" "$SCEPD" serve --dir "$OPEN/ca" --listen 127.0.0.1:0
chmod 700 "$WORK"
ok "an unreadable CA key: 'cannot read FILE: Permission denied'"
finish
