#!/usr/bin/env python3
"""Issue 15 item 2, connection flood: 2,000 idle connections from one address. Past
max_connections_per_address each is answered 503 with Retry-After and closed at once (no queue
behind them), so a GetCACaps from another address answers under 50 ms (p99) and an enrollment
succeeds while the attacker holds what it got. With max_connections reached by many addresses,
the next connection also gets a fast 503 rather than a place in the kernel's queue."""
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
import hostile as H  # noqa: E402

CONNECTIONS = 2000
PER_ADDRESS = 64


def flood(port, n, sources):
    """Opens n idle connections round-robin from sources (None: the attacker's address) and
    waits a second for answers; returns (held sockets, 503 count, other outcomes)."""
    socks = [H.attacker_socket(port) if sources is None else _from(port, sources[i % len(sources)])
             for i in range(n)]
    time.sleep(1.0)
    held, refused, other = [], 0, []
    for s in socks:
        data, closed = H.read_answer(s, 0.01)
        if data.startswith(b"HTTP/1.1 503 ") and b"Retry-After: " in data and closed:
            refused += 1
            s.close()
        elif data or closed:
            other.append((data[:40], closed))
            s.close()
        else:
            held.append(s)
    return held, refused, other


def _from(port, source):
    import socket
    s = socket.socket()
    s.settimeout(5)
    s.bind((source, 0))
    s.connect(("127.0.0.1", port))
    return s


def test(work, servers):
    H.raise_fd_limit()
    srv = H.Server(work, [f"max_connections_per_address={PER_ADDRESS}",
                          "request_deadline=30"]).start()
    servers.append(srv)
    held, refused, other = flood(srv.port, CONNECTIONS, None)
    if len(held) > PER_ADDRESS or refused < CONNECTIONS - PER_ADDRESS or other:
        H.fail(f"{len(held)} idle connections held, {refused} refused "
               f"(max_connections_per_address {PER_ADDRESS}), others: {other[:3]}")
    H.ok(f"{CONNECTIONS} idle connections from {H.ATTACKER}: {len(held)} held, {refused} "
         f"answered 503 + Retry-After and closed")
    p99 = H.probe(srv.port)
    H.enroll(srv, work, "during-flood")
    H.ok(f"while they are held: probes p99 {p99:.1f} ms, an enrollment succeeds")
    if "refused a connection with 503: max_connections_per_address" not in srv.log_text():
        H.fail("no log line for the refused connections")
    for s in held:
        s.close()
    hwm = srv.check_memory()
    srv.stop()

    # max_connections from many addresses: the next connection gets a fast 503, not a queue.
    srv2 = H.Server(work, ["max_connections=100", "max_connections_per_address=0",
                           "request_deadline=30"], name="ca").start()
    servers.append(srv2)
    srv2.wait_idle()  # start()'s GetCACaps may not be closed yet: it would be the 101st
    sources = [f"127.0.1.{i}" for i in range(1, 101)]
    held, refused, other = flood(srv2.port, 100, sources)
    if len(held) != 100 or refused != 0 or other:
        H.fail(f"100 connections under max_connections=100: {len(held)} held, {refused} refused")
    status, ms = H.get_caps(srv2.port)
    if status != 503 or ms > H.PROBE_P99_MS:
        H.fail(f"past max_connections: HTTP {status} in {ms:.1f} ms, expected a fast 503")
    for s in held:
        s.close()
    time.sleep(0.5)
    H.probe(srv2.port, label="after the flood")
    H.ok(f"past max_connections: 503 in {ms:.1f} ms; recovered once they closed "
         f"(VmHWM {hwm} KiB)")


if __name__ == "__main__":
    H.main(test)
