#!/usr/bin/env bash
# Durability of group commit: no CertRep (or PENDING) leaves scepd before the write-ahead log
# that holds it is flushed. scepd runs under strace, which makes every fdatasync/fsync return
# 300 ms late; the trace then must show, for each answer, a flush of the log that started after
# the log's last write and returned before the answer was sent. A server that answered without
# waiting for its flush would send while the delayed flush is still running. A worker thread
# serves other connections while an answer waits, so an answer's writes are those its thread
# made after it read the request and before it read another connection's.
source "$(dirname "$0")/../interop/lib.sh"
SCEP=${SCEP:-$ROOT/build/scep}
command -v strace > /dev/null || fail "strace is missing (scripts/install-deps)"

CA=$WORK/ca
new_ca "$CA"
PORT=$(free_port)
URL="http://127.0.0.1:$PORT/scep"
cd "$WORK"
strace -f -qq -ttt -y -s 16 -o trace.txt \
  -e trace=pwrite64,write,fdatasync,fsync,sendmsg,sendto,writev,send,recvfrom,recvmsg,read \
  -e inject=fdatasync,fsync:delay_exit=300000 \
  "$SCEPD" serve --dir "$CA" --listen "127.0.0.1:$PORT" --challenge pw --threads 2 "${SERVE_ROOT[@]}" \
  >> scepd.log 2>&1 &
STRACE_PID=$!
for _ in $(seq 1 300); do
  SCEPD_PID=$(pgrep -P "$STRACE_PID" scepd || true)
  [ -n "$SCEPD_PID" ] && break
  sleep 0.1
done
[ -n "$SCEPD_PID" ] || fail "scepd did not start under strace"
for _ in $(seq 1 300); do
  curl -fs "$URL?operation=GetCACaps" > /dev/null 2>&1 && break
  sleep 0.1
done
"$SCEP" getca -u "$URL" -o cadir > /dev/null || fail "getca"

# Two enrollments at once, then one alone.
"$SCEP" enroll -u "$URL" --ca cadir --key a.key --out a.pem --subject CN=a --challenge pw > a.out 2>&1 &
A=$!
"$SCEP" enroll -u "$URL" --ca cadir --key b.key --out b.pem --subject CN=b --challenge pw > b.out 2>&1 \
  || fail "enroll b: $(tail -n 2 b.out)"
wait $A || fail "enroll a: $(tail -n 2 a.out)"
"$SCEP" enroll -u "$URL" --ca cadir --key c.key --out c.pem --subject CN=c --challenge pw > c.out 2>&1 \
  || fail "enroll c: $(tail -n 2 c.out)"
kill "$SCEPD_PID"
wait "$STRACE_PID" 2> /dev/null || true
SCEPD_PID=""
check_issued a.pem a.key cadir/ca.pem a
check_issued c.pem c.key cadir/ca.pem c
ok "three enrollments with every flush 300 ms late"

python3 - trace.txt << 'EOF' || fail "an answer left before its flush (see $WORK/trace.txt)"
import re, sys
DELAY = 0.3  # the injected delay: a flush returns no sooner than DELAY after it began
# strace -f -ttt stamps each call with the time it began, and splits a call that another
# thread interrupts into "<unfinished ...>" and "<... resumed>".
calls = []  # (thread, start time, call, line)
for line in open(sys.argv[1]):
    m = re.match(r'(\d+)\s+([\d.]+)\s+(\w+)\((.*)', line)
    if m:
        calls.append((m.group(1), float(m.group(2)), m.group(3), m.group(4)))
calls.sort(key=lambda c: c[1])
flushes = [c[1] for c in calls if c[2] in ('fdatasync', 'fsync') and '-wal>' in c[3]]

def sock(args):
    m = re.match(r'\d+<(socket:\[\d+\])>', args)
    return m.group(1) if m else None

reads = [c for c in calls if c[2] in ('recvfrom', 'recvmsg', 'read') and sock(c[3])]
checked = 0
for thread, t, call, args in calls:
    if call not in ('sendmsg', 'sendto', 'writev', 'send', 'write') or not sock(args) \
            or 'HTTP/1.1 200' not in args:
        continue
    # Its request: the thread's last read of this connection; its writes: the thread's log
    # writes from then until it read another connection, or answered.
    own_reads = [c[1] for c in reads if c[0] == thread and c[1] < t and sock(c[3]) == sock(args)]
    if not own_reads:
        print(f"thread {thread}: answer at {t:.6f} on {sock(args)} without a request read")
        sys.exit(1)
    begin = own_reads[-1]
    others = [c[1] for c in reads if c[0] == thread and begin < c[1] < t
              and sock(c[3]) != sock(args)]
    end = others[0] if others else t
    own = [c[1] for c in calls if c[0] == thread and begin <= c[1] < end
           and c[2] in ('pwrite64', 'write') and '-wal>' in c[3]]
    if not own:
        continue  # this answer reports no new write (GetCACert)
    if not any(f >= own[-1] and f + DELAY <= t for f in flushes):
        print(f"thread {thread}: answer at {t:.6f}, its log write at {own[-1]:.6f}, "
              f"no flush of the log began after the write and ended before the answer")
        sys.exit(1)
    checked += 1
if checked < 3:
    print(f"only {checked} answers reported a log write; expected the three enrollments")
    sys.exit(1)
print(f"{checked} answers, each sent after a flush of its log write")
EOF
ok "every answer that reports a write waited for the flush of the log"

# Flushes that fail after the first: the enrollment whose flush fails gets a 503 (no
# certificate), and so does every later use of the store; answers that need no store still work.
start_scepd_strace "$CA" \
  "-f -qq -o /dev/null -e trace=fdatasync,fsync -e inject=fdatasync,fsync:error=EIO:when=2+" \
  --challenge pw
"$SCEP" enroll -u "$URL" --ca cadir --key d.key --out d.pem --subject CN=d --challenge pw > d.out 2>&1 \
  || fail "enroll d (its flush succeeds): $(tail -n 2 d.out)"
for k in e f; do
  if "$SCEP" enroll -u "$URL" --ca cadir --key $k.key --out $k.pem --subject CN=$k --challenge pw \
    > $k.out 2>&1; then
    fail "enroll $k succeeded although its flush failed"
  fi
  grep -q "503" $k.out || fail "enroll $k: no 503 in: $(tail -n 2 $k.out)"
  [ -e $k.pem ] && fail "enroll $k wrote a certificate"
done
curl -fs -o /dev/null "$URL?operation=GetCACert" || fail "GetCACert failed with a failing disk"
kill "$SCEPD_PID"
wait "$STRACE_PID" 2> /dev/null || true
SCEPD_PID=""
grep -q "writing the log to disk failed" scepd.log || fail "scepd did not log the failed flush"
ok "a failed flush: 503 for enrollments, no certificate, GetCACert still served"
finish
