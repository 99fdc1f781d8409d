#!/usr/bin/env python3
"""Issue 15 item 2, slowloris: 515 connections from one address send their request a byte at a
time. They must not starve anyone else: past max_connections_per_address they are answered 503
with Retry-After at once, the others are closed at request_deadline (an idle timeout alone never
fires, since bytes keep coming), a GetCACaps from another address answers under 50 ms (p99) and
an enrollment succeeds. A keep-alive connection that keeps asking is closed after
connection_lifetime."""
import os
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
import hostile as H  # noqa: E402

CONNECTIONS = 515
PER_ADDRESS = 64
DEADLINE = 3   # request_deadline for this test (seconds)
LIFETIME = 6   # connection_lifetime for this test (past DEADLINE)
REQUEST = b"GET /scep?operation=GetCACaps HTTP/1.1\r\nHost: ca\r\nX-Padding: " + b"x" * 200


class Slowloris:
    def __init__(self, port):
        self.port = port
        self.refused = 0      # answered 503 with Retry-After, then closed
        self.closed_at = {}   # accepted connection -> when the server closed it
        self.opened = 0
        self.stop = False

    def open_all(self):
        self.socks = []
        for _ in range(CONNECTIONS):
            s = H.attacker_socket(self.port)
            self.socks.append([s, time.monotonic(), 0])
            self.opened += 1

    def trickle(self):
        """A byte on every open connection each 0.5 s (well inside any idle timeout)."""
        while not self.stop:
            now = time.monotonic()
            for entry in self.socks:
                s, opened, sent = entry
                if s is None:
                    continue
                s.setblocking(False)
                try:
                    data = s.recv(4096)
                    if data.startswith(b"HTTP/1.1 503 ") and b"Retry-After:" in data:
                        self.refused += 1
                    elif data:
                        H.fail(f"an attacking connection got an answer: {data[:60]!r}")
                    s.close()
                    entry[0] = None
                    if not data:
                        self.closed_at[id(entry)] = now - opened
                    continue
                except BlockingIOError:
                    pass
                except (ConnectionResetError, BrokenPipeError):
                    s.close()
                    entry[0] = None
                    self.closed_at[id(entry)] = now - opened
                    continue
                try:
                    if sent < len(REQUEST):
                        s.send(REQUEST[sent:sent + 1])
                        entry[2] += 1
                except (BlockingIOError, ConnectionResetError, BrokenPipeError):
                    pass
            time.sleep(0.5)

    def still_open(self):
        return sum(1 for e in self.socks if e[0] is not None)


def keep_asking(port, seconds):
    """GetCACaps on one keep-alive connection until the server closes it: how long it lived."""
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    t0 = time.monotonic()
    buf = b""
    try:
        while time.monotonic() - t0 < seconds:
            s.sendall(b"GET /scep?operation=GetCACaps HTTP/1.1\r\nHost: ca\r\n\r\n")
            while b"SCEPStandard\n" not in buf:
                chunk = s.recv(4096)
                if not chunk:
                    return time.monotonic() - t0, buf
                buf += chunk
            if b"Connection: close" in buf:
                closing = buf
                while s.recv(4096):
                    pass
                return time.monotonic() - t0, closing
            buf = b""
    except (ConnectionResetError, BrokenPipeError):
        return time.monotonic() - t0, buf
    finally:
        s.close()
    return None, buf


def test(work, servers):
    H.raise_fd_limit()
    srv = H.Server(work, [f"max_connections_per_address={PER_ADDRESS}",
                          f"request_deadline={DEADLINE}",
                          f"connection_lifetime={LIFETIME}"]).start()
    servers.append(srv)
    attack = Slowloris(srv.port)
    attack.open_all()
    trickler = threading.Thread(target=attack.trickle, daemon=True)
    trickler.start()
    time.sleep(1.0)
    p99 = H.probe_apart(srv.port)
    H.enroll(srv, work, "during-slowloris")
    H.ok(f"{CONNECTIONS} slow connections from {H.ATTACKER}: probes p99 {p99:.1f} ms, "
         f"an enrollment succeeds")
    if attack.refused < CONNECTIONS - PER_ADDRESS:
        H.fail(f"only {attack.refused} of {CONNECTIONS} got 503 + Retry-After "
               f"(max_connections_per_address {PER_ADDRESS})")
    H.ok(f"{attack.refused} connections past the per-address limit: 503 with Retry-After")

    time.sleep(DEADLINE + 1.5)
    attack.stop = True
    trickler.join()
    left = attack.still_open()
    if left != 0:
        H.fail(f"{left} slow connections outlived request_deadline ({DEADLINE} s)")
    late = [t for t in attack.closed_at.values() if t > DEADLINE + 1.5]
    if late:
        H.fail(f"{len(late)} slow connections were closed late (up to {max(late):.1f} s)")
    H.ok(f"the {len(attack.closed_at)} accepted slow connections were closed at request_deadline")
    if "no whole request within request_deadline" not in srv.log_text():
        H.fail("no log line for the connections closed at request_deadline")

    # Asking without pause, the connection ends with an answer that says Connection: close (or,
    # rarely, is closed in the moment between two requests).
    lived, last = keep_asking(srv.port, LIFETIME + 5)
    if lived is None or lived > LIFETIME + 1.5:
        H.fail(f"a keep-alive connection outlived connection_lifetime ({LIFETIME} s)")
    how = "its last answer says Connection: close" if b"Connection: close" in last \
        else "closed between two requests"
    H.ok(f"a busy keep-alive connection ends after connection_lifetime ({lived:.1f} s), {how}")

    H.probe(srv.port, label="after the attack")
    hwm = srv.check_memory()
    H.ok(f"the server recovers (VmHWM {hwm} KiB)")


if __name__ == "__main__":
    H.main(test)
