#!/usr/bin/env python3
"""Issue 15 item 3: a chunked body without end was read forever. Chunked bytes count against
max_body: past it the client gets 413 at once and the connection is closed within a second; a
body that trickles in (chunked or with a Content-Length) is closed at request_deadline."""
import os
import select
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
import hostile as H  # noqa: E402

MAX_BODY = 256 * 1024
DEADLINE = 3
CHUNK = b"4000\r\n" + b"A" * 0x4000 + b"\r\n"


def endless_chunked(port, method):
    """Sends chunks until the server stops it: (answer, bytes sent, seconds until closed)."""
    s = H.attacker_socket(port)
    s.sendall(f"{method} /scep?operation=PKIOperation HTTP/1.1\r\nHost: ca\r\n"
              "Content-Type: application/x-pki-message\r\nTransfer-Encoding: chunked\r\n\r\n"
              .encode())
    sent, t0 = 0, time.monotonic()
    try:
        while time.monotonic() - t0 < 10:
            s.sendall(CHUNK)
            sent += len(CHUNK)
    except (BrokenPipeError, ConnectionResetError):
        pass
    took = time.monotonic() - t0
    answer, _ = H.read_answer(s, 2)
    s.close()
    return answer, sent, took


def trickle(port, head):
    """Sends head, then a byte of body every 0.5 s: seconds until the server closed. The close
    is seen when it comes (the wait between bytes watches the socket), not at the second send
    after it, which would add up to a second of the test's own to the time."""
    s = H.attacker_socket(port)
    s.sendall(head)
    t0 = time.monotonic()
    try:
        while time.monotonic() - t0 < DEADLINE + 5:
            s.send(b"5\r\nAAAAA\r\n" if b"chunked" in head else b"A")
            until = time.monotonic() + 0.5
            while time.monotonic() < until:
                if select.select([s], [], [], max(0.0, until - time.monotonic()))[0] \
                        and s.recv(4096) == b"":
                    raise ConnectionResetError
    except (BrokenPipeError, ConnectionResetError):
        pass
    s.close()
    return time.monotonic() - t0


def test(work, servers):
    srv = H.Server(work, [f"max_body={MAX_BODY}", f"request_deadline={DEADLINE}"]).start()
    servers.append(srv)
    for method in ("POST", "GET"):
        answer, sent, took = endless_chunked(srv.port, method)
        if not answer.startswith(b"HTTP/1.1 413 "):
            H.fail(f"{method} with an endless chunked body: no 413 (got {answer[:60]!r}) after "
                   f"{sent} bytes in {took:.1f} s")
        # Well under the 10 s the client would go on for: the server stopped it (the time is
        # mostly the client's own sending, slower on a loaded machine).
        if took > 6:
            H.fail(f"{method} with an endless chunked body: read for {took:.1f} s ({sent} bytes)")
        H.ok(f"{method}, endless chunked body: 413, closed after {took:.2f} s")
    log = srv.log_text()
    if log.count("http=413") < 2:
        H.fail("the 413s are not logged")

    for label, head in (("chunked", b"Transfer-Encoding: chunked\r\n"),
                        ("Content-Length", b"Content-Length: 100000\r\n")):
        took = trickle(srv.port, b"POST /scep?operation=PKIOperation HTTP/1.1\r\nHost: ca\r\n"
                       b"Content-Type: application/x-pki-message\r\n" + head + b"\r\n")
        if took > DEADLINE + 1.5:
            H.fail(f"a trickled {label} body was read for {took:.1f} s "
                   f"(request_deadline {DEADLINE} s)")
        H.ok(f"a trickled {label} body is closed at request_deadline ({took:.1f} s)")

    H.probe(srv.port, label="after the bodies")
    H.enroll(srv, work, "after-bodies")
    hwm = srv.check_memory()
    H.ok(f"the server recovers (VmHWM {hwm} KiB)")


if __name__ == "__main__":
    H.main(test)
