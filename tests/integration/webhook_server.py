#!/usr/bin/env python3
"""A validation webhook for tests/integration/webhook.sh (stdlib only).

Checks X-Scep-Signature (HMAC-SHA256 of the body with --secret) and answers 401 when it is
wrong. Otherwise answers what --plan (a JSON file, read at each request) says:
{"status": 200, "body": "...", "sleep": 0, "want_challenge": "..."}; with want_challenge set,
a document whose challenge differs gets {"allow": false, "reason": "wrong challenge"}.
Every request's body and signature header go to --record/N.json and N.sig.
"""
import argparse
import hashlib
import hmac
import http.server
import json
import os
import ssl
import threading
import time

args = None
lock = threading.Lock()
count = [0]


class Handler(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        sig = self.headers.get("X-Scep-Signature", "")
        with lock:
            count[0] += 1
            n = count[0]
        with open(os.path.join(args.record, "%d.json" % n), "wb") as f:
            f.write(body)
        with open(os.path.join(args.record, "%d.sig" % n), "w") as f:
            f.write(sig + "\n" + self.headers.get("Content-Type", "") + "\n")
        want = "sha256=" + hmac.new(args.secret.encode(), body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(want, sig):
            return self.answer(401, '{"error": "bad signature"}')
        with open(args.plan) as f:
            plan = json.load(f)
        time.sleep(plan.get("sleep", 0))
        wanted = plan.get("want_challenge")
        if wanted is not None and json.loads(body).get("challenge") != wanted:
            return self.answer(200, '{"allow": false, "reason": "wrong challenge"}')
        self.answer(plan.get("status", 200), plan.get("body", '{"allow": true}'))

    def answer(self, status, text):
        data = text.encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        try:
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def log_message(self, fmt, *a):
        pass


def main():
    global args
    p = argparse.ArgumentParser()
    p.add_argument("--secret", required=True)
    p.add_argument("--plan", required=True)
    p.add_argument("--record", required=True)
    p.add_argument("--port-file", required=True)
    p.add_argument("--cert")
    p.add_argument("--key")
    args = p.parse_args()
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    if args.cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(args.cert, args.key)
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    with open(args.port_file + ".tmp", "w") as f:
        f.write(str(srv.server_address[1]))
    os.rename(args.port_file + ".tmp", args.port_file)
    srv.serve_forever()


main()
