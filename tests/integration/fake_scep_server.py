#!/usr/bin/env python3
"""A misbehaving SCEP server for the client tests: a proxy in front of a real scepd that breaks
one thing and forwards everything else unchanged.

    fake_scep_server.py --upstream URL --mode MODE --port-file FILE [options]

It listens on 127.0.0.1 on a port the kernel picks and writes that port to FILE once it is
ready. Modes (one per run):

    pass          forward everything; with --record DIR, save each PKIOperation reply
    nopost        GetCACaps without POSTPKIOperation and SCEPStandard (the client must GET)
    html500       PKIOperation answers an HTML error page with status 500
    truncated     PKIOperation answers the real CertRep cut in half, status 200
    content-type  PKIOperation answers the real CertRep as text/html
    foreign       PKIOperation is forwarded to --other (an unrelated scepd) instead
    replay        PKIOperation answers the body saved in --replay FILE (an earlier CertRep)
    cacert-type   GetCACert answers the real certificates as text/plain

Every PKIOperation request is counted in DIR/pkioperations when --record DIR is given, so a
test can prove the broken answer was actually served. With --tls CERT KEY it speaks HTTPS
(TLS 1.2 or later) with that certificate and key, so that the client's certificate checks can
be tested.
"""
import argparse
import http.server
import os
import ssl
import sys
import threading
import urllib.error
import urllib.parse
import urllib.request

HTML_ERROR = (b"<!DOCTYPE html>\n<html><head><title>500 Internal Server Error</title></head>\n"
              b"<body><h1>Internal Server Error</h1><p>The gateway failed.</p></body></html>\n")


def parse_args():
    p = argparse.ArgumentParser()
    p.add_argument("--upstream", required=True, help="the real scepd, http://HOST:PORT/PATH")
    p.add_argument("--other", help="foreign mode: the unrelated scepd")
    p.add_argument("--mode", required=True,
                   choices=["pass", "nopost", "html500", "truncated", "content-type",
                            "foreign", "replay", "cacert-type"])
    p.add_argument("--port-file", required=True)
    p.add_argument("--record", help="save PKIOperation replies in this folder")
    p.add_argument("--replay", help="replay mode: the CertRep to answer with")
    p.add_argument("--tls", nargs=2, metavar=("CERT", "KEY"), help="serve HTTPS")
    return p.parse_args()


ARGS = parse_args()
LOCK = threading.Lock()
COUNT = [0]


def forward(base, method, path_qs, body, content_type):
    """Sends the request to base (same query string); returns (status, content type, body)."""
    up = urllib.parse.urlsplit(base)
    qs = urllib.parse.urlsplit(path_qs).query
    url = urllib.parse.urlunsplit((up.scheme, up.netloc, up.path, qs, ""))
    req = urllib.request.Request(url, data=body, method=method)
    if content_type:
        req.add_header("Content-Type", content_type)
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, r.headers.get("Content-Type", ""), r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Content-Type", ""), e.read()


def record(kind, data):
    if not ARGS.record:
        return None
    with LOCK:
        COUNT[0] += 1
        n = COUNT[0]
        with open(os.path.join(ARGS.record, "pkioperations"), "a") as f:
            f.write("%d %s\n" % (n, kind))
    if data is not None:
        path = os.path.join(ARGS.record, "reply-%d.der" % n)
        with open(path, "wb") as f:
            f.write(data)
    return n


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        sys.stderr.write("fake_scep_server: %s %s\n" % (ARGS.mode, fmt % args))

    def send(self, status, content_type, body):
        self.send_response(status)
        if content_type:
            self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)
        self.close_connection = True

    def handle_any(self, method):
        body = None
        if method == "POST":
            n = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(n) if n else b""
        ctype = self.headers.get("Content-Type")
        q = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)
        op = (q.get("operation") or [""])[0]
        mode = ARGS.mode

        if op == "PKIOperation" and mode != "pass" and mode != "nopost" \
                and mode != "cacert-type":
            if mode == "html500":
                record(mode, None)
                return self.send(500, "text/html; charset=utf-8", HTML_ERROR)
            if mode == "replay":
                with open(ARGS.replay, "rb") as f:
                    data = f.read()
                record(mode, data)
                return self.send(200, "application/x-pki-message", data)
            base = ARGS.other if mode == "foreign" else ARGS.upstream
            status, rtype, data = forward(base, method, self.path, body, ctype)
            record(mode, data)
            if mode == "truncated":
                return self.send(200, rtype, data[: len(data) // 2])
            if mode == "content-type":
                return self.send(status, "text/html", data)
            return self.send(status, rtype, data)  # foreign: as the other server answered

        status, rtype, data = forward(ARGS.upstream, method, self.path, body, ctype)
        if op == "PKIOperation":
            record("%s %s" % (mode, method), data)
        if op == "GetCACaps" and mode == "nopost":
            keep = [w for w in data.decode().split("\n")
                    if w.strip() not in ("POSTPKIOperation", "SCEPStandard")]
            data = "\n".join(keep).encode()
        if op == "GetCACert" and mode == "cacert-type":
            rtype = "text/plain"
        return self.send(status, rtype, data)

    def do_GET(self):
        self.handle_any("GET")

    def do_POST(self):
        self.handle_any("POST")


def main():
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    if ARGS.tls:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.load_cert_chain(ARGS.tls[0], ARGS.tls[1])
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    tmp = ARGS.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % srv.server_address[1])
    os.rename(tmp, ARGS.port_file)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
