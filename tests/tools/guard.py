#!/usr/bin/env python3
"""guard.py — traffic for the pod-start guard test (tests/cni/t-guard.sh).

  guard.py listen PORT READYFILE STOPFILE  UDP on PORT and TCP on PORT+1 (IPv4 and IPv6)
                                           until STOPFILE exists; counts datagrams and
                                           connections per sender tag (the payload), prints
                                           {"udp": {...}, "tcp": {...}}
  guard.py send ADDR PORT TAG STOPFILE     a tight loop until STOPFILE exists: a UDP datagram
                                           to ADDR:PORT and a TCP connect to ADDR:PORT+1
                                           (10 ms timeout) each round; prints
                                           {"sent": N, "tcp_ok": N}
"""
import errno
import json
import os
import select
import socket
import sys
import time


def listen(port, ready, stop):
    socks = []
    for fam, addr in ((socket.AF_INET, "0.0.0.0"), (socket.AF_INET6, "::")):
        u = socket.socket(fam, socket.SOCK_DGRAM)
        if fam == socket.AF_INET6:
            u.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        u.bind((addr, port))
        t = socket.socket(fam, socket.SOCK_STREAM)
        t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if fam == socket.AF_INET6:
            t.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        t.bind((addr, port + 1))
        t.listen(128)
        socks += [u, t]
    open(ready, "w").write("ready\n")
    counts = {"udp": {}, "tcp": {}}
    while not os.path.exists(stop):
        r, _, _ = select.select(socks, [], [], 0.02)
        for s in r:
            if s.type == socket.SOCK_DGRAM:
                data = s.recv(256).decode(errors="replace")
                counts["udp"][data] = counts["udp"].get(data, 0) + 1
            else:
                c, _ = s.accept()
                c.settimeout(0.2)
                try:
                    data = c.recv(256).decode(errors="replace") or "?"
                except OSError:
                    data = "?"
                c.close()
                counts["tcp"][data] = counts["tcp"].get(data, 0) + 1
    print(json.dumps(counts))


def send(addr, port, tag, stop):
    fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
    u = socket.socket(fam, socket.SOCK_DGRAM)
    u.setblocking(False)
    sent = tcp_ok = 0
    while not os.path.exists(stop):
        try:
            u.sendto(tag.encode(), (addr, port))
            sent += 1
        except OSError:
            pass  # no neighbour yet, unreachable: keep trying
        t = socket.socket(fam, socket.SOCK_STREAM)
        t.setblocking(False)
        rc = t.connect_ex((addr, port + 1))
        if rc in (0, errno.EINPROGRESS):
            _, w, _ = select.select([], [t], [], 0.01)
            if w and t.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0:
                try:
                    t.send(tag.encode())
                    tcp_ok += 1
                except OSError:
                    pass
        t.close()
        time.sleep(0.001)
    print(json.dumps({"sent": sent, "tcp_ok": tcp_ok}))


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "listen":
        listen(int(sys.argv[2]), sys.argv[3], sys.argv[4])
    elif len(sys.argv) == 6 and sys.argv[1] == "send":
        send(sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5])
    else:
        sys.stderr.write(__doc__)
        sys.exit(2)
