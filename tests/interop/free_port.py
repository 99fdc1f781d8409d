#!/usr/bin/env python3
"""free_port.py USED_FILE: prints a TCP port free on loopback and appends it to USED_FILE; never
one already listed there (two calls in one test never get the same port). The port is below the
kernel's ephemeral range, so no outgoing connection is given it as its local port between this
pick and the server's bind (a random port in the range would be, under a load of connections)."""
import random
import socket
import sys


def free(port):
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", port))
        return True
    except OSError:
        return False
    finally:
        s.close()


def pick(used):
    """A free port below the ephemeral range that is not in used (a set of ints), or None."""
    with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
        low = int(f.read().split()[0])
    if low - 1 - 1024 < 1000:
        sys.exit(f"free_port.py: the ephemeral range starts at {low}: too few ports below it")
    for _ in range(2000):
        port = random.randint(max(1024, low // 2), low - 1)
        if port not in used and free(port):
            return port
    return None


def main():
    used_file = sys.argv[1]
    try:
        with open(used_file) as f:
            used = {int(p) for p in f.read().split()}
    except FileNotFoundError:
        used = set()
    port = pick(used)
    if port is None:
        sys.exit("free_port.py: no free port found")
    with open(used_file, "a") as f:
        f.write(f"{port}\n")
    print(port)


if __name__ == "__main__":
    main()
