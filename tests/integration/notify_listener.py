#!/usr/bin/env python3
"""A stand-in for systemd's notify socket: binds a datagram socket at argv[1] and appends every
message it receives (its lines joined by '|') as one line to argv[2], until killed."""
import os
import socket
import sys

path, out = sys.argv[1], sys.argv[2]
sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
sock.bind(path)
os.chmod(path, 0o666)
with open(out, "a", buffering=1) as f:
    f.write("listening\n")
    while True:
        data = sock.recv(4096)
        f.write(data.decode("utf-8", "replace").strip().replace("\n", "|") + "\n")
