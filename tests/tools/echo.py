#!/usr/bin/env python3
"""echo.py — long-lived two-way connections for the "a deny cuts a live connection" tests.

  echo.py serve PORT
      TCP and UDP echo on PORT, IPv4 and IPv6, in the current netns; prints "ready".
  echo.py client --proto tcp|udp|icmp --to ADDR --port PORT [--cut-file F] [--seconds S]
      One connection (TCP), one connected UDP socket, or ICMP echo requests and replies (what
      ping sends; a raw socket, PORT unused): sends "ping N" every 10 ms and reads its echo
      (1 s timeout each). Prints "up" after 20 round trips. Without --cut-file it runs
      for S seconds (or, with --stop-file, until that file exists) and prints
      "steady N broken B" (B: round trips that failed). With
      --cut-file it waits until the file exists (the test creates it once the narrowing apply
      has returned), lets 200 ms of packets already in flight drain, then keeps the same
      connection going for S more seconds and prints "after-cut echoes K" — K > 0 means the
      connection survived the deny. With --restore-file it then waits for that file (the test
      creates it once an apply allowing the flow again has returned) and prints
      "after-restore echoes K" over --restore-seconds: K > 0 means the same connection works
      again.
"""
import argparse
import os
import select
import socket
import struct
import sys
import threading
import time


def serve(port):
    socks = []
    for fam, addr in ((socket.AF_INET, "0.0.0.0"), (socket.AF_INET6, "::")):
        for typ in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
            s = socket.socket(fam, typ)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if fam == socket.AF_INET6:
                s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            s.bind((addr, port))
            if typ == socket.SOCK_STREAM:
                s.listen(64)
            socks.append(s)
    print("ready", flush=True)

    def tcp_conn(c):
        try:
            while True:
                d = c.recv(4096)
                if not d:
                    break
                c.sendall(d)
        except OSError:
            pass
        c.close()

    while True:
        r, _, _ = select.select(socks, [], [])
        for s in r:
            if s.type == socket.SOCK_STREAM:
                c, _ = s.accept()
                threading.Thread(target=tcp_conn, args=(c,), daemon=True).start()
            else:
                d, peer = s.recvfrom(4096)
                s.sendto(d, peer)


class Icmp:
    """ICMP echo to one address over a raw socket (ping sockets are off in a new netns):
    send(data) sends an echo request carrying data; recv() gives the data of an echo reply to
    this process, or b"" for any other ICMP packet."""

    def __init__(self, to):
        self.v6 = ":" in to
        if self.v6:
            self.s = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
        else:
            self.s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
        self.s.connect((to, 0))  # a connected raw socket receives from that address only
        self.ident = os.getpid() & 0xFFFF
        self.seq = 0

    def fileno(self):
        return self.s.fileno()

    def setblocking(self, flag):
        self.s.setblocking(flag)

    def send(self, data):
        self.seq = (self.seq + 1) & 0xFFFF
        sum_ = 0
        if not self.v6:  # the kernel sums ICMPv6 itself
            pkt = struct.pack("!BBHHH", 8, 0, 0, self.ident, self.seq) + data
            for i in range(0, len(pkt), 2):
                sum_ += (pkt[i] << 8) + (pkt[i + 1] if i + 1 < len(pkt) else 0)
            sum_ = (sum_ >> 16) + (sum_ & 0xFFFF)
            sum_ = ~(sum_ + (sum_ >> 16)) & 0xFFFF
        hdr = struct.pack("!BBHHH", 128 if self.v6 else 8, 0, sum_, self.ident, self.seq)
        return self.s.send(hdr + data)

    def recv(self, n):
        d = self.s.recv(n)
        if not self.v6:
            d = d[(d[0] & 0xF) * 4:]  # a raw IPv4 socket gets the IP header too
        if len(d) < 8:
            return b""
        typ, _, _, ident, _ = struct.unpack("!BBHHH", d[:8])
        return d[8:] if typ == (129 if self.v6 else 0) and ident == self.ident else b""


def client(a):
    fam = socket.AF_INET6 if ":" in a.to else socket.AF_INET
    typ = socket.SOCK_STREAM if a.proto == "tcp" else socket.SOCK_DGRAM
    if a.proto == "icmp":
        s = Icmp(a.to)
    else:
        s = socket.socket(fam, typ)
        s.settimeout(3)
        s.connect((a.to, a.port))
    s.setblocking(False)
    n = ok = broken = 0
    buf = b""

    def round_trip():
        """One ping and its echo (1 s at most); True when the echo came back."""
        nonlocal n, buf
        n += 1
        msg = b"ping %d\n" % n
        try:
            s.send(msg)
        except (BlockingIOError, OSError):
            pass  # a TCP send buffer full of unacknowledged pings: a cut connection
        end = time.monotonic() + 1.0
        while time.monotonic() < end:
            r, _, _ = select.select([s], [], [], max(0.0, end - time.monotonic()))
            if not r:
                continue
            try:
                d = s.recv(65536)
            except (BlockingIOError, InterruptedError):
                continue
            except OSError:
                return False
            if typ == socket.SOCK_DGRAM:
                if d == msg:
                    return True
                continue
            if not d:
                return False
            buf += d
            if msg in buf:
                buf = buf[buf.index(msg) + len(msg):]
                return True
        return False

    while ok < 20:
        if not round_trip():
            print("never up", flush=True)
            return 2
        ok += 1
        time.sleep(0.01)
    print("up", flush=True)
    if not a.cut_file:
        end = time.monotonic() + a.seconds
        while (os.path.exists(a.stop_file) is False) if a.stop_file else time.monotonic() < end:
            if round_trip():
                ok += 1
            else:
                broken += 1
            time.sleep(0.01)
        print("steady %d broken %d" % (ok, broken), flush=True)
        return 0 if broken == 0 else 1
    while not os.path.exists(a.cut_file):
        if round_trip():
            ok += 1
        time.sleep(0.01)
    time.sleep(0.2)
    while True:  # drop what was already in flight before the cut
        r, _, _ = select.select([s], [], [], 0)
        if not r:
            break
        try:
            if not s.recv(65536):
                break
        except OSError:
            break
    buf = b""
    echoes = 0
    end = time.monotonic() + a.seconds
    while time.monotonic() < end:
        if round_trip():
            echoes += 1
        time.sleep(0.01)
    print("after-cut echoes %d" % echoes, flush=True)
    if a.restore_file:
        while not os.path.exists(a.restore_file):
            time.sleep(0.01)
        echoes = 0
        end = time.monotonic() + a.restore_seconds
        while time.monotonic() < end:
            if round_trip():
                echoes += 1
            time.sleep(0.01)
        print("after-restore echoes %d" % echoes, flush=True)
    return 0


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    sv = sub.add_parser("serve")
    sv.add_argument("port", type=int)
    cl = sub.add_parser("client")
    cl.add_argument("--proto", choices=("tcp", "udp", "icmp"), required=True)
    cl.add_argument("--to", required=True)
    cl.add_argument("--port", type=int, required=True)
    cl.add_argument("--cut-file")
    cl.add_argument("--stop-file")
    cl.add_argument("--restore-file")
    cl.add_argument("--restore-seconds", type=float, default=4.0)
    cl.add_argument("--seconds", type=float, default=2.0)
    a = p.parse_args()
    if a.cmd == "serve":
        serve(a.port)
        return 0
    return client(a)


if __name__ == "__main__":
    sys.exit(main())
