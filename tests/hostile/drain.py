#!/usr/bin/env python3
"""Issue 15 item 9: SIGTERM under keep-alive load. scepd stops taking requests at once (none is
served after SIGTERM but those already being answered), sends the answers in flight, closes its
connections and exits within shutdown_timeout; every certificate in the store was either
received by its client or is still resumable: sending the same request again to the restarted
server gets the same certificate."""
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
import hostile as H  # noqa: E402

BENCH = os.environ.get("SCEP_BENCH", os.path.join(H.ROOT, "build", "bench", "scep-bench"))
COUNT = 800
CONCURRENCY = 16
SHUTDOWN_TIMEOUT = 10


def stored_certs(srv):
    db = sqlite3.connect(f"file:{srv.dir}/scepd.db?mode=ro", uri=True)
    try:
        return db.execute("SELECT transaction_id, serial FROM certs WHERE is_ca = 0").fetchall()
    finally:
        db.close()


def same_serial(a, b):
    return a.lstrip("0").upper() == b.lstrip("0").upper()


def resend(srv, save, tid, work):
    """POSTs the saved request again and opens the answer: the serials of the certificates in
    it (openssl: verify the signature, decrypt with the requester's key)."""
    import http.client
    with open(os.path.join(save, tid + ".req"), "rb") as f:
        body = f.read()
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=30)
    conn.request("POST", "/scep?operation=PKIOperation", body,
                 {"Content-Type": "application/x-pki-message"})
    resp = conn.getresponse()
    answer = resp.read()
    conn.close()
    if resp.status != 200:
        H.fail(f"resend of {tid}: HTTP {resp.status} {answer[:80]!r}")
    files = {k: os.path.join(work, f"resend.{k}") for k in ("der", "env", "p7")}
    with open(files["der"], "wb") as f:
        f.write(answer)

    def openssl(*args):
        r = subprocess.run(["openssl", *args], capture_output=True, text=True)
        if r.returncode != 0:
            H.fail(f"resend of {tid}: openssl {args[0]} {args[1]}: {r.stderr.strip()[-200:]}")
        return r.stdout
    openssl("cms", "-verify", "-noverify", "-inform", "DER", "-in", files["der"], "-binary",
            "-certfile", os.path.join(srv.dir, "ca.pem"), "-out", files["env"])
    openssl("cms", "-decrypt", "-inform", "DER", "-in", files["env"], "-binary",
            "-inkey", os.path.join(save, tid + ".key"), "-recip", os.path.join(save, tid + ".crt"),
            "-out", files["p7"])
    pem = openssl("pkcs7", "-inform", "DER", "-in", files["p7"], "-print_certs")
    serials = []
    for block in re.findall(r"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----", pem, re.S):
        r = subprocess.run(["openssl", "x509", "-noout", "-serial"], input=block,
                           capture_output=True, text=True)
        serials.append(r.stdout.strip().split("=", 1)[-1])
    return serials


def test(work, servers):
    if not os.access(BENCH, os.X_OK):
        H.fail(f"no scep-bench at {BENCH} (make bench)")
    srv = H.Server(work, [f"shutdown_timeout={SHUTDOWN_TIMEOUT}"]).start()
    servers.append(srv)
    save = os.path.join(work, "saved")
    os.mkdir(save)
    bench = subprocess.Popen([BENCH, "-u", srv.url, "-c", "pw", "-n", str(COUNT),
                              "-C", str(CONCURRENCY), "--timeout", "30", "--save", save],
                             stdout=open(os.path.join(work, "bench.out"), "w"),
                             stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 90
    while srv.log_text().count("PKIOperation PKCSReq") < 40:
        if time.monotonic() > deadline or bench.poll() is not None:
            H.fail("the load did not start")
        time.sleep(0.05)
    t0 = time.monotonic()
    srv.proc.send_signal(signal.SIGTERM)
    try:
        rc = srv.proc.wait(SHUTDOWN_TIMEOUT + 20)
    except subprocess.TimeoutExpired:
        H.fail("scepd did not exit after SIGTERM")
    took = time.monotonic() - t0
    if rc != 0 or took > SHUTDOWN_TIMEOUT + 1:
        H.fail(f"scepd exited with {rc} {took:.1f} s after SIGTERM (shutdown_timeout "
               f"{SHUTDOWN_TIMEOUT} s)")
    bench.wait(120)
    log = srv.log_text()
    after = log[log.index("stopping: finishing requests in flight"):]
    served_after = after.count("PKIOperation PKCSReq")
    before = log.count("PKIOperation PKCSReq") - served_after
    if served_after > CONCURRENCY:
        H.fail(f"{served_after} enrollments answered after SIGTERM with {CONCURRENCY} "
               f"connections: new requests were still taken")
    H.ok(f"SIGTERM after {before} enrollments on {CONCURRENCY} keep-alive connections: exit in "
         f"{took:.2f} s, {served_after} answers in flight finished, no new request taken")

    results = {}
    with open(os.path.join(save, "results")) as f:
        for line in f:
            tid, outcome, serial = line.split()[:3]
            results[tid] = (outcome, serial)
    certs = stored_certs(srv)
    if not certs:
        H.fail("no certificate stored")
    unanswered = [(tid, serial) for tid, serial in certs
                  if not (results.get(tid, ("", ""))[0] == "ok"
                          and same_serial(results[tid][1], serial))]
    srv.start()
    # The first answered one too: the check below would see a resend that issues anew.
    answered = [c for c in certs if c not in unanswered][:1]
    for tid, serial in unanswered + answered:
        got = resend(srv, save, tid, work)
        if not any(same_serial(s, serial) for s in got):
            H.fail(f"{tid}: stored with serial {serial}, a resend got {got}")
    if len(stored_certs(srv)) != len(certs):
        H.fail("the resends issued new certificates")
    H.ok(f"{len(certs)} certificates stored: {len(certs) - len(unanswered)} received by their "
         f"client, {len(unanswered)} resumable (a resend gets the same certificate)")
    H.probe(srv.port, label="after the restart")
    srv.check_memory()


if __name__ == "__main__":
    H.main(test)
