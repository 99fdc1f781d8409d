"""Shared by the hostile-client tests: a fresh scepd on loopback, probes from another address,
the memory bound, and the ok/FAIL lines of the other suites.

Attackers connect from 127.0.0.2 (every 127/8 address is loopback on Linux); probes and
enrollments come from 127.0.0.1, so a per-address limit on the attacker leaves them alone."""
import multiprocessing
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
SCEPD = os.environ.get("SCEPD", os.path.join(ROOT, "build", "scepd"))
SCEP = os.environ.get("SCEP", os.path.join(ROOT, "build", "scep"))
ATTACKER = "127.0.0.2"
HWM_LIMIT_KIB = 64 * 1024   # VmHWM bound of the issue: 64 MiB
PROBE_P99_MS = 50.0          # a normal GetCACaps during an attack
sys.path.insert(0, os.path.join(ROOT, "tests", "interop"))
import free_port as free_port_py  # noqa: E402

NAME = os.path.splitext(os.path.basename(sys.argv[0]))[0]
_passed = 0


class Failure(Exception):
    pass


def fail(msg):
    raise Failure(msg)


def ok(msg):
    global _passed
    _passed += 1
    print(f"ok   {NAME}: {msg}", flush=True)


def raise_fd_limit():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


_given = set()


def free_port():
    """A free loopback port below the kernel's ephemeral range, never the same twice in one
    test (tests/interop/free_port.py): the thousands of attacking connections take their local
    ports from that range, and one could take a port picked there before the server binds it."""
    port = free_port_py.pick(_given)
    if port is None:
        fail("no free port below the ephemeral range")
    _given.add(port)
    return port


class Server:
    """scepd serving a fresh CA on 127.0.0.1 with --challenge pw and extra --set KEY=VALUE."""

    def __init__(self, work, settings=(), name="ca"):
        self.work = work
        self.dir = os.path.join(work, name)
        self.log = os.path.join(work, "scepd.log")
        if not os.path.isdir(self.dir):
            subprocess.run([SCEPD, "init", "--dir", self.dir, "--subject", "CN=Hostile CA"],
                           check=True, stdout=subprocess.DEVNULL)
        self.settings = list(settings)
        self.proc = None

    def start(self):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/scep"
        args = [SCEPD, "serve", "--dir", self.dir, "--listen", f"127.0.0.1:{self.port}",
                "--challenge", "pw"]
        if os.geteuid() == 0:
            args.append("--allow-root")  # CI runs as root; scepd refuses root without it
        for s in self.settings:
            args += ["--set", s]
        self.proc = subprocess.Popen(args, stdout=open(self.log, "a"), stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30  # generous: a loaded machine starts it slowly
        while time.monotonic() < deadline and self.proc.poll() is None:
            try:
                if get_caps(self.port, timeout=1)[0] == 200:
                    return self
            except OSError:
                pass
            time.sleep(0.1)
        fail("scepd did not start: " + self.tail())

    def open_connections(self):
        """The server's own TCP sockets on its port still open (ESTABLISHED or CLOSE_WAIT in
        /proc/net/tcp): what its connection limits count."""
        n = 0
        with open("/proc/net/tcp") as f:
            for line in f.readlines()[1:]:
                local, state = line.split()[1], line.split()[3]
                if int(local.split(":")[1], 16) == self.port and state in ("01", "08"):
                    n += 1
        return n

    def wait_idle(self, timeout=30):
        """Waits until the server has closed every connection (start()'s probe among them), so
        that a test of its connection limits counts only its own."""
        deadline = time.monotonic() + timeout
        while self.open_connections() > 0:
            if time.monotonic() > deadline:
                fail(f"scepd still holds {self.open_connections()} connections after {timeout} s")
            time.sleep(0.05)

    def status(self, key):
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
        return -1

    def check_memory(self):
        hwm = self.status("VmHWM")
        if hwm >= HWM_LIMIT_KIB:
            fail(f"scepd's peak memory (VmHWM) is {hwm} KiB, over {HWM_LIMIT_KIB} KiB")
        return hwm

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout=20):
        if not self.alive():
            return None
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            fail(f"scepd did not stop within {timeout} s of SIGTERM")

    def tail(self, n=15):
        try:
            with open(self.log, errors="replace") as f:
                return "".join(f.readlines()[-n:])
        except OSError:
            return ""

    def log_text(self):
        with open(self.log, errors="replace") as f:
            return f.read()


def get_caps(port, timeout=5.0, source="127.0.0.1"):
    """One GetCACaps on a new connection: (HTTP status, milliseconds)."""
    t0 = time.monotonic()
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout, source_address=(source, 0))
    try:
        s.sendall(b"GET /scep?operation=GetCACaps HTTP/1.1\r\nHost: ca\r\nConnection: close\r\n\r\n")
        data = b""
        while True:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
    finally:
        s.close()
    ms = (time.monotonic() - t0) * 1000.0
    status = int(data.split(b" ", 2)[1]) if data.startswith(b"HTTP/1.") else 0
    return status, ms


def probe(port, n=100, label="during the attack"):
    """n GetCACaps from 127.0.0.1, one after another; fails unless every one is a 200 and the
    99th percentile is under PROBE_P99_MS. Returns the p99."""
    times = []
    for _ in range(n):
        try:
            status, ms = get_caps(port)
        except OSError as e:
            fail(f"probe {label}: {e}")
        if status != 200:
            fail(f"probe {label}: HTTP {status}")
        times.append(ms)
    times.sort()
    p99 = times[max(0, (len(times) * 99 + 99) // 100 - 1)]
    if p99 >= PROBE_P99_MS:
        fail(f"probe {label}: p99 {p99:.1f} ms over {PROBE_P99_MS} ms (max {times[-1]:.1f} ms)")
    return p99


def probe_apart(port, n=100, label="during the attack"):
    """probe() in a child process: a test whose attack runs in a thread of its own would else
    add its own waits for the interpreter lock to the times measured."""
    with multiprocessing.get_context("fork").Pool(1) as pool:
        return pool.apply(probe, (port, n, label))


def enroll(server, work, name, timeout=60):
    """A real enrollment with our client from 127.0.0.1; fails unless it succeeds."""
    cadir = os.path.join(work, "cadir")
    if not os.path.isdir(cadir):
        r = subprocess.run([SCEP, "getca", "-u", server.url, "-o", cadir], capture_output=True,
                           text=True, timeout=timeout)
        if r.returncode != 0:
            fail(f"scep getca: {r.stderr.strip()[-300:]}")
    r = subprocess.run([SCEP, "enroll", "-u", server.url, "--ca", cadir,
                        "--key", os.path.join(work, name + ".key"),
                        "--out", os.path.join(work, name + ".pem"), "--subject", "CN=" + name,
                        "--challenge", "pw", "--key-type", "ec:P-256"],
                       capture_output=True, text=True, timeout=timeout)
    if r.returncode != 0:
        fail(f"enroll {name}: exit {r.returncode}: {r.stderr.strip()[-300:]}")


def attacker_socket(port, timeout=5.0):
    s = socket.socket()
    s.settimeout(timeout)
    s.bind((ATTACKER, 0))
    s.connect(("127.0.0.1", port))
    return s


def read_answer(s, timeout):
    """What the server sent before closing (or before timeout): bytes, and whether it closed."""
    s.settimeout(timeout)
    data = b""
    try:
        while True:
            chunk = s.recv(4096)
            if not chunk:
                return data, True
            data += chunk
    except socket.timeout:
        return data, False
    except ConnectionResetError:
        return data, True


def main(test):
    """Runs test(work) in a fresh directory; prints PASS/FAIL like the shell suites."""
    work = tempfile.mkdtemp(prefix=f"scep-hostile-{NAME}.")
    servers = []
    rc = 0
    try:
        test(work, servers)
        print(f"PASS {NAME}: {_passed} checks", flush=True)
    except (Failure, subprocess.CalledProcessError, subprocess.TimeoutExpired) as e:
        print(f"FAIL {NAME}: {e}", file=sys.stderr, flush=True)
        for s in servers:
            print("--- scepd log:\n" + s.tail(), file=sys.stderr)
        rc = 1
    finally:
        for s in servers:
            if s.alive():
                s.proc.kill()
                s.proc.wait()
        if os.environ.get("KEEP_WORK") == "1":
            print(f"{NAME}: work kept in {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    sys.exit(rc)
