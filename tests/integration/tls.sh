#!/usr/bin/env bash
# The HTTPS listener (listen_tls, tls_cert, tls_key) beside plain HTTP: curl, our client and
# strongSwan's pki over https with the test's own TLS CA; TLS 1.1 refused; start-up refuses
# missing, unreadable, mismatched, encrypted or world-readable files; SIGHUP serves a renewed
# certificate and keeps the old one when the new one is bad; a client over a connection limit
# gets a 503 with Retry-After over TLS; a slowloris on the TLS port is cut at request_deadline
# and does not starve plain clients.
source "$(dirname "$0")/../interop/lib.sh"
SCEP=${SCEP:-$ROOT/build/scep}
cd "$WORK"
CA=$WORK/ca
new_ca "$CA"
PORT=$(free_port)
TPORT=$(free_port)
URL="http://127.0.0.1:$PORT/scep"
TURL="https://localhost:$TPORT/scep"

# The TLS CA (not the SCEP CA) and a server certificate for localhost from it.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout tlsca.key \
  -out tlsca.pem -subj "/CN=TLS test CA" -days 2 2> /dev/null || fail "TLS CA"
tls_cert() { # tls_cert NAME: NAME.key and NAME.pem (chain: server, then the TLS CA)
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$1.key" \
    -subj "/CN=localhost" -out "$1.csr" 2> /dev/null
  openssl x509 -req -in "$1.csr" -CA tlsca.pem -CAkey tlsca.key -CAcreateserial -days 1 \
    -extfile <(printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n') -out "$1.leaf" 2> /dev/null
  cat "$1.leaf" tlsca.pem > "$1.pem"
  chmod 600 "$1.key"
}
tls_cert first
tls_cert second
cp first.key "$CA/tls.key"
cp first.pem "$CA/tls.pem"
chmod 600 "$CA/tls.key"
cp "$CA/scepd.conf" base.conf
conf() { # conf LINE...: scepd.conf = what init wrote, the listeners, then these lines
  cp base.conf "$CA/scepd.conf"
  printf '%s\n' "listen = 127.0.0.1:$PORT" "listen_tls = 127.0.0.1:$TPORT" "challenge = s3cret" \
    "$@" >> "$CA/scepd.conf"
}

# refused WHAT PATTERN LINE...: serve exits 1 with a message matching PATTERN.
refused() {
  local what=$1 pattern=$2 rc=0; shift 2
  conf "$@"
  timeout 20 "$SCEPD" serve --dir "$CA" "${SERVE_ROOT[@]}" > refused.log 2>&1 || rc=$?
  [ "$rc" = 1 ] || fail "start-up with $what: exit code $rc, expected 1: $(tail -n 2 refused.log)"
  grep -q -- "$pattern" refused.log || fail "start-up with $what: no '$pattern': $(cat refused.log)"
}
refused "no tls_cert" "listen_tls 127.0.0.1:$TPORT needs tls_cert and tls_key" "tls_key = tls.key"
refused "a missing certificate" "tls_cert $CA/none.pem: No such file" "tls_cert = none.pem" \
  "tls_key = tls.key"
mkdir -p "$CA/adir"
refused "a directory as certificate" "tls_cert $CA/adir: not a regular file" "tls_cert = adir" \
  "tls_key = tls.key"
echo "not a certificate" > "$CA/junk.pem"
refused "no PEM in the certificate" "tls_cert $CA/junk.pem: no PEM certificate" \
  "tls_cert = junk.pem" "tls_key = tls.key"
cp second.key "$CA/other.key"
refused "a key of another certificate" "tls_key other.key does not match the certificate in" \
  "tls_cert = tls.pem" "tls_key = other.key"
openssl pkey -in first.key -aes256 -passout pass:pw -out "$CA/enc.key" 2> /dev/null
chmod 600 "$CA/enc.key"
refused "an encrypted key" "tls_key $CA/enc.key: no unencrypted PEM private key" \
  "tls_cert = tls.pem" "tls_key = enc.key"
cp first.key "$CA/open.key"
chmod 644 "$CA/open.key"
refused "a world-readable key" "(tls_key) is readable by group or others (mode 0644)" \
  "tls_cert = tls.pem" "tls_key = open.key"
refused "a missing key" "tls_key $CA/none.key: No such file" "tls_cert = tls.pem" \
  "tls_key = none.key"
ok "start-up refuses a missing, unreadable, junk, mismatched, encrypted or world-readable file"

conf "tls_cert = tls.pem" "tls_key = tls.key" "max_connections_per_address = 8" \
  "request_deadline = 3"
"$SCEPD" serve --dir "$CA" "${SERVE_ROOT[@]}" >> scepd.log 2>&1 &
SCEPD_PID=$!
wait_for "no answer from $URL?operation=GetCACaps" answers "$URL?operation=GetCACaps"
log_has "serving HTTPS on port $TPORT"

curl -fsS --cacert tlsca.pem "$TURL?operation=GetCACaps" > caps.txt || fail "GetCACaps over https"
grep -qx "SCEPStandard" caps.txt || fail "GetCACaps over https: $(cat caps.txt)"
curl -fsS --cacert tlsca.pem "$TURL?operation=GetCACert" -o cacert.der || fail "GetCACert over https"
cmp -s cacert.der <(openssl x509 -in "$CA/ca.pem" -outform der) || fail "GetCACert over https is not the CA"
curl -fs "$URL?operation=GetCACaps" | grep -qx "SCEPStandard" || fail "plain HTTP beside it"
ok "curl over https (--cacert): GetCACaps and GetCACert, plain HTTP still served"

rc=0
curl -s --cacert tlsca.pem --tlsv1.1 --tls-max 1.1 "$TURL?operation=GetCACaps" > /dev/null || rc=$?
[ "$rc" = 35 ] || fail "TLS 1.1: curl exit code $rc, expected 35 (handshake refused)"
openssl s_client -connect "127.0.0.1:$TPORT" -tls1_1 -cipher 'DEFAULT:@SECLEVEL=0' \
  < /dev/null > s_client11.txt 2>&1 || true
grep -q "Cipher is (NONE)" s_client11.txt || fail "openssl s_client -tls1_1 got a session"
curl -fs --cacert tlsca.pem --tlsv1.2 --tls-max 1.2 "$TURL?operation=GetCACaps" > /dev/null \
  || fail "TLS 1.2 refused"
curl -fs --cacert tlsca.pem --tlsv1.3 "$TURL?operation=GetCACaps" > /dev/null || fail "TLS 1.3 refused"
ok "TLS 1.1 refused (curl and openssl s_client), TLS 1.2 and 1.3 served"

run_scep 3 "getca over https without --cafile" getca -u "$TURL" -o nocadir
run_scep 0 "getca over https" getca -u "$TURL" --cafile tlsca.pem -o cadir
run_scep 0 "enroll over https" enroll -u "$TURL" --cafile tlsca.pem --ca cadir --key dev.key \
  --out dev.pem --subject "CN=tls-device" --challenge s3cret
check_issued dev.pem dev.key "$CA/ca.pem" tls-device
ok "scep getca and enroll over https with --cafile (refused without it)"

# strongSwan's pki fetches with libcurl, which trusts only the system's bundle: in a private
# mount namespace, that bundle is the test's TLS CA alone.
if [ "$(id -u)" = 0 ] && command -v pki > /dev/null && command -v unshare > /dev/null; then
  [ -e /usr/lib/ipsec/plugins/libstrongswan-openssl.so ] \
    || fail "pki needs strongSwan's openssl plugin for https (libstrongswan-standard-plugins)"
  pki --gen --type rsa --size 2048 --outform pem > ss.key 2> /dev/null
  unshare -m sh -c 'mount --bind "$1" /etc/ssl/certs/ca-certificates.crt && shift &&
    pki --scep "$@"' sh tlsca.pem --url "$TURL" --in ss.key --dn "CN=ss-tls,O=Interop" \
    --password s3cret --cacert-enc "$CA/ca.pem" --cacert-sig "$CA/ca.pem" \
    --cacert "$CA/ca.pem" --outform pem > ss.pem 2> ss.err \
    || fail "pki --scep over https: $(grep -v -i tpm ss.err | tail -n 3)"
  check_issued ss.pem ss.key "$CA/ca.pem" ss-tls
  ok "strongSwan pki --scep over https"
else
  echo "skip $NAME: pki over https needs root (a private mount namespace) and pki"
fi

served_serial() {
  openssl s_client -connect "127.0.0.1:$TPORT" -servername localhost < /dev/null 2> /dev/null \
    | openssl x509 -noout -serial | cut -d= -f2
}
want_serial() { openssl x509 -in "$1" -noout -serial | cut -d= -f2; }
[ "$(served_serial)" = "$(want_serial first.leaf)" ] || fail "the first certificate is not served"
cp second.pem "$CA/tls.pem"
cp second.key "$CA/tls.key"
kill -HUP "$SCEPD_PID"
wait_until eval '[ "$(served_serial)" = "$(want_serial second.leaf)" ]' || true
[ "$(served_serial)" = "$(want_serial second.leaf)" ] || fail "SIGHUP: the renewed certificate is not served"
log_has "reload: TLS certificate $(want_serial second.leaf) replaces $(want_serial first.leaf)"
curl -fs --cacert tlsca.pem "$TURL?operation=GetCACaps" > /dev/null || fail "https after the reload"
cp first.key "$CA/tls.key" # the key of another certificate
kill -HUP "$SCEPD_PID"
wait_until eval 'grep -q "keeping the old TLS certificate" scepd.log' || true
log_has "reload: keeping the old TLS certificate and key: tls_key tls.key does not match"
[ "$(served_serial)" = "$(want_serial second.leaf)" ] || fail "a bad reload replaced the certificate"
curl -fs --cacert tlsca.pem "$TURL?operation=GetCACaps" > /dev/null || fail "https after a bad reload"
ok "SIGHUP serves a renewed TLS certificate (serial changes); a bad one keeps the old, logged"

# Over max_connections_per_address (8) on the TLS port: eight connections from 127.0.0.3 hold
# their places, and the ninth's GetCACaps gets a 503 with Retry-After over TLS, not a cut.
python3 - "$TPORT" > over.txt 2>&1 << 'PY' || fail "a refused HTTPS client: $(cat over.txt)"
import socket, ssl, sys
tport = int(sys.argv[1])
ctx = ssl.create_default_context(cafile="tlsca.pem")
def tls():
    s = socket.create_connection(("127.0.0.1", tport), timeout=10, source_address=("127.0.0.3", 0))
    return ctx.wrap_socket(s, server_hostname="localhost")
held = [tls() for _ in range(8)]
s = tls()
s.sendall(b"GET /scep?operation=GetCACaps HTTP/1.1\r\nHost: localhost\r\n\r\n")
answer = b""
while True:
    try:
        d = s.recv(4096)
    except (ssl.SSLError, OSError):
        break
    if not d:
        break
    answer += d
head = answer.split(b"\r\n\r\n")[0].decode(errors="replace")
if not head.startswith("HTTP/1.1 503 ") or "Retry-After: " not in head:
    sys.exit(f"the ninth connection got {answer[:200]!r}")
print(head.splitlines()[0])
PY
log_has "refused an HTTPS connection with 503: max_connections_per_address (8)"
ok "over max_connections_per_address on the TLS port: $(cat over.txt) with Retry-After, over TLS"

# Slowloris on the TLS port from 127.0.0.2: 40 connections send a real ClientHello a byte every
# 0.3 s. Past max_connections_per_address they are refused, and closed when they have sent no
# request after 2 s; the others at request_deadline (3 s); meanwhile plain GetCACaps from
# 127.0.0.1 are answered at once.
python3 - "$TPORT" "$PORT" > slow.txt 2>&1 << 'PY' || fail "slowloris on the TLS port: $(cat slow.txt)"
import select, socket, ssl, sys, time, urllib.request
tport, port = int(sys.argv[1]), int(sys.argv[2])
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
out = ssl.MemoryBIO()
try:
    ctx.wrap_bio(ssl.MemoryBIO(), out, server_hostname="localhost").do_handshake()
except ssl.SSLWantReadError:
    pass
hello = out.read()
# Each connection's times count from its own connect (the server's clocks start at its accept,
# and making 40 connections on a loaded machine takes a while); a close is seen as it happens
# (select until the next byte is due), not at the next 0.3 s round.
socks, born = [], []
for _ in range(40):
    s = socket.create_connection(("127.0.0.1", tport), timeout=5, source_address=("127.0.0.2", 0))
    born.append(time.monotonic())
    s.setblocking(False)
    socks.append(s)
start, worst, closed, sent, next_byte = time.monotonic(), 0.0, {}, 0, 0.0


def gone(i):
    closed[i] = time.monotonic() - born[i]


while time.monotonic() - start < 8 and len(closed) < len(socks):
    if time.monotonic() >= next_byte:
        for i, s in enumerate(socks):
            if i not in closed:
                try:
                    s.send(hello[sent:sent + 1])
                except BlockingIOError:
                    pass
                except OSError:
                    gone(i)
        sent += 1
        t0 = time.monotonic()
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/scep?operation=GetCACaps", timeout=5) as r:
            if r.status != 200:
                sys.exit(f"plain GetCACaps: HTTP {r.status}")
        worst = max(worst, time.monotonic() - t0)
        next_byte = time.monotonic() + 0.3
    open_now = [s for i, s in enumerate(socks) if i not in closed]
    ready, _, _ = select.select(open_now, [], [], max(0.0, next_byte - time.monotonic()))
    for s in ready:
        i = socks.index(s)
        try:
            if s.recv(4096) == b"":
                gone(i)
        except BlockingIOError:
            pass
        except OSError:
            gone(i)
if len(closed) < len(socks):
    sys.exit(f"{len(socks) - len(closed)} slow TLS connections still open after 8 s")
times = sorted(closed.values())
refused, late = times[:32], times[32:]
if refused[0] < 1.5 or refused[-1] > 2.9 or late[0] < 2.9:
    sys.exit(f"expected 32 refused connections closed at 2 s and 8 at the 3 s deadline, got {times}")
if worst > 1.0:
    sys.exit(f"a plain GetCACaps took {worst:.2f} s during the attack")
print(f"32 refused closed at {refused[0]:.1f}-{refused[-1]:.1f} s, 8 at {late[0]:.1f}-{late[-1]:.1f} s; "
      f"slowest plain GetCACaps {worst * 1000:.0f} ms")
PY
log_has "refused an HTTPS connection with 503: max_connections_per_address (8)"
log_has "request_deadline"
curl -fs --cacert tlsca.pem "$TURL?operation=GetCACaps" > /dev/null || fail "https after the slowloris"
ok "slowloris on the TLS port: cut by the limits, plain GetCACaps unharmed ($(cat slow.txt))"
stop_scepd
finish
