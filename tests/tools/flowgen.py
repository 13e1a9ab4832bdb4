#!/usr/bin/python3
"""flowgen — traffic the flow tests need that np_agent does not make (Debian's python3, run in
a pod's netns with `ip netns exec`).

  flowgen.py udp DST PORT COUNT [SPREAD]  COUNT datagrams to DST, destination ports PORT ..
                                          PORT+SPREAD-1 in turn (SPREAD 1: one flow; each
                                          port is a conntrack entry of its own); prints "sent N"
  flowgen.py udp-for DST PORT SECONDS SPREAD  as udp, for SECONDS, as fast as it can
  flowgen.py udp-rate DST PORT RATE SECONDS SPREAD   as udp, RATE datagrams a second (in
                                          steps of 5 ms), for SECONDS; prints "sent N in S s"
  flowgen.py icmp DST COUNT               ICMP (or ICMPv6) echo requests, 50 ms apart, no
                                          waiting for replies; prints "sent N"
  flowgen.py xfer-server PORT RECV SEND   TCP on [::]:PORT (v4 too), one connection: reads
                                          RECV bytes, sends SEND bytes, closes; prints "ready"
                                          and, once done, "done"
  flowgen.py xfer-client ADDR PORT SEND RECV [SPORT]   connects (from SPORT), sends SEND
                                          bytes, reads RECV bytes and the close; prints "sent S
                                          received R"
  flowgen.py knock ADDR PORT SPORT        one connection attempt from SPORT, whatever comes of
                                          it: its SYN looks up the conntrack entry of an earlier
                                          connection of the same ports, which reaps it once
                                          expired (the kernel's own end of an entry, at once
                                          instead of at its garbage collector's next round)
"""
import socket
import struct
import sys
import time


def family(addr):
    return socket.AF_INET6 if ":" in addr else socket.AF_INET


def udp(dst, port, count, spread=1):
    s = socket.socket(family(dst), socket.SOCK_DGRAM)
    sent = 0
    for i in range(count):
        try:
            s.sendto(b"flowgen", (dst, port + i % spread))
            sent += 1
        except OSError:
            time.sleep(0.001)  # a full queue (or an ICMP error): no reason to stop
    print("sent", sent, flush=True)


def udp_for(dst, port, seconds, spread):
    s = socket.socket(family(dst), socket.SOCK_DGRAM)
    end = time.monotonic() + seconds
    sent = i = 0
    while time.monotonic() < end:
        for _ in range(100):
            try:
                s.sendto(b"flowgen", (dst, port + i % spread))
                sent += 1
            except OSError:
                pass
            i += 1
    print("sent", sent, flush=True)


def udp_rate(dst, port, rate, seconds, spread):
    s = socket.socket(family(dst), socket.SOCK_DGRAM)
    start = time.monotonic()
    sent = i = 0
    while True:
        now = time.monotonic() - start
        if now >= seconds:
            break
        due = int(rate * now)
        while sent < due:
            try:
                s.sendto(b"flowgen", (dst, port + i % spread))
            except OSError:
                pass
            sent += 1
            i += 1
        time.sleep(0.005)
    print("sent", sent, "in", round(time.monotonic() - start, 3), "s", flush=True)


def checksum(data):
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def icmp(dst, count):
    v6 = ":" in dst
    s = socket.socket(family(dst), socket.SOCK_RAW,
                      socket.IPPROTO_ICMPV6 if v6 else socket.IPPROTO_ICMP)
    for seq in range(count):
        if v6:  # the kernel fills in the ICMPv6 checksum
            pkt = struct.pack("!BBHHH", 128, 0, 0, 0x4E50, seq) + b"flowgen"
        else:
            hdr = struct.pack("!BBHHH", 8, 0, 0, 0x4E50, seq) + b"flowgen"
            pkt = struct.pack("!BBHHH", 8, 0, checksum(hdr), 0x4E50, seq) + b"flowgen"
        s.sendto(pkt, (dst, 0))
        time.sleep(0.05)
    print("sent", count, flush=True)


def xfer_server(port, recv, send):
    ls = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    ls.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("::", port))
    ls.listen(1)
    print("ready", flush=True)
    c, _ = ls.accept()
    got = 0
    while got < recv:
        d = c.recv(65536)
        if not d:
            break
        got += len(d)
    c.sendall(b"y" * send)
    c.close()
    print("done", got, flush=True)


def client_socket(addr, sport):
    c = socket.socket(family(addr), socket.SOCK_STREAM)
    c.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    c.settimeout(10)
    if sport:
        c.bind(("::" if ":" in addr else "0.0.0.0", sport))
    return c


def xfer_client(addr, port, send, recv, sport=0):
    c = client_socket(addr, sport)
    c.connect((addr, port))
    c.sendall(b"x" * send)
    got = 0
    while True:
        d = c.recv(65536)
        if not d:
            break
        got += len(d)
    c.close()
    print("sent", send, "received", got, flush=True)


def knock(addr, port, sport):
    c = client_socket(addr, sport)
    c.settimeout(1)
    try:
        c.connect((addr, port))
    except OSError:
        pass
    c.close()


def main():
    cmd, a = sys.argv[1], sys.argv[2:]
    if cmd == "udp":
        udp(a[0], int(a[1]), int(a[2]), int(a[3]) if len(a) > 3 else 1)
    elif cmd == "udp-for":
        udp_for(a[0], int(a[1]), float(a[2]), int(a[3]))
    elif cmd == "udp-rate":
        udp_rate(a[0], int(a[1]), float(a[2]), float(a[3]), int(a[4]))
    elif cmd == "icmp":
        icmp(a[0], int(a[1]))
    elif cmd == "xfer-server":
        xfer_server(int(a[0]), int(a[1]), int(a[2]))
    elif cmd == "xfer-client":
        xfer_client(a[0], int(a[1]), int(a[2]), int(a[3]), int(a[4]) if len(a) > 4 else 0)
    elif cmd == "knock":
        knock(a[0], int(a[1]), int(a[2]))
    else:
        sys.exit("flowgen: unknown command " + cmd)


if __name__ == "__main__":
    main()
