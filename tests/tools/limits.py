#!/usr/bin/python3
"""limits — the clients of the policyd limit and chaos tests (tests/policyd/t-limits.sh,
tests/soak/): what a noisy or hostile local client does, and how long a change takes to be
enforced meanwhile.

  limits.py latency SOCK DEST A B N     N policy changes: writes B and A in turn over DEST
                                        (temporary file + rename), each after the previous one
                                        is enforced; for each, the time from the rename to
                                        policyd's status saying a new generation is synced.
                                        Prints "latency ms: min X median Y max Z (N changes)"
  limits.py requests SOCK CMD N [GAP_MS] N requests {"cmd": CMD, "wait": true} one after the
                                        other, GAP_MS apart; prints "CMD: N in S s, failed F,
                                        slowest X ms"
  limits.py hold SOCK N STOP OUT        opens N control connections and sends nothing; writes
                                        "open N" to OUT.ready once all are connected; when STOP
                                        exists writes "held N closed C" (C: closed by policyd)
  limits.py long-line SOCK BYTES        sends one line of BYTES bytes; prints policyd's reply
                                        (or "no reply") and "closed" once it closes the
                                        connection
  limits.py http-flood HOST PORT SRC CONNS STOP OUT   CONNS clients from address SRC each
                                        requesting /metrics in a loop (keep-alive); writes
                                        "requests N ok K refused R" to OUT
  limits.py slowloris HOST PORT SRC CONNS STOP OUT    CONNS connections from SRC sending a
                                        request one byte a second, never finishing it; writes
                                        "connections N cut_at_once K longest_s S" to OUT (cut
                                        at once: closed by the server within 1 s)
  limits.py http-idle HOST PORT SRC OUT  one connection that sends nothing; writes
                                        "closed_after_s S" to OUT
  limits.py http-big HOST PORT SRC BYTES one request with a header of BYTES bytes; prints the
                                        status line, "closed" (closed with no answer) or
                                        "timeout"
"""
import json
import os
import resource
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pdtool  # noqa: E402


def more_files():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def ctl(path, req):
    return json.loads(pdtool.ctl_line(path, json.dumps(req), timeout=10))


def latency(sock, dest, a, b, n):
    texts = [open(b).read(), open(a).read()]  # DEST holds A: B changes it first
    tmp = os.path.join(os.path.dirname(dest), ".latency.tmp")
    ms = []
    for i in range(n):
        gen = ctl(sock, {"cmd": "status"})["generation"]
        with open(tmp, "w") as f:
            f.write(texts[i % 2])
        t0 = time.monotonic()
        os.rename(tmp, dest)
        while True:
            st = ctl(sock, {"cmd": "status"})
            if st["generation"] > gen and st.get("synced"):
                break
            if time.monotonic() - t0 > 30:
                sys.exit("latency: change %d not enforced after 30 s" % i)
            time.sleep(0.001)
        ms.append((time.monotonic() - t0) * 1000)
    ms.sort()
    print("latency ms: min %.1f median %.1f max %.1f (%d changes)" %
          (ms[0], ms[len(ms) // 2], ms[-1], n))


def requests(sock, cmd, n, gap_ms=0):
    t0 = time.monotonic()
    failed = 0
    slowest = 0.0
    for _ in range(n):
        t = time.monotonic()
        if not ctl(sock, {"cmd": cmd, "wait": True}).get("ok"):
            failed += 1
        slowest = max(slowest, time.monotonic() - t)
        time.sleep(gap_ms / 1000)
    print("%s: %d in %.1f s, failed %d, slowest %.1f ms" %
          (cmd, n, time.monotonic() - t0, failed, slowest * 1000))


def hold(sock, n, stop, out):
    more_files()
    conns = []
    for _ in range(n):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(sock)
        conns.append(s)
    with open(out + ".ready", "w") as f:
        f.write("open %d\n" % len(conns))
    while not os.path.exists(stop):
        time.sleep(0.2)
    closed = 0
    for s in conns:
        s.setblocking(False)
        try:
            closed += s.recv(1, socket.MSG_PEEK) == b""
        except BlockingIOError:
            pass
        except OSError:
            closed += 1
        s.close()
    with open(out, "w") as f:
        f.write("held %d closed %d\n" % (n, closed))


def long_line(sock, size):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(10)
    s.connect(sock)
    try:
        s.sendall(b"x" * size + b"\n")
    except OSError:
        pass  # policyd closed it before taking everything: what is read next says why
    buf = b""
    while True:
        try:
            d = s.recv(65536)
        except OSError:
            break
        if not d:
            break
        buf += d
    print(buf.decode().strip() or "no reply")
    print("closed")


def connect_from(host, port, src, timeout=5):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind((src, 0))
    s.settimeout(timeout)
    s.connect((host, port))
    return s


def http_flood(host, port, src, conns, stop, out):
    more_files()
    counts = {"requests": 0, "ok": 0, "refused": 0}
    lock = threading.Lock()
    req = b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"

    def client():
        s = None
        while not os.path.exists(stop):
            try:
                if s is None:
                    s = connect_from(host, port, src)
                s.sendall(req)
                buf = b""
                while b"\r\n\r\n" not in buf:
                    d = s.recv(65536)
                    if not d:
                        raise OSError("closed")
                    buf += d
                head, body = buf.split(b"\r\n\r\n", 1)
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":")[1])
                while len(body) < length:
                    d = s.recv(65536)
                    if not d:
                        raise OSError("closed")
                    body += d
                with lock:
                    counts["requests"] += 1
                    counts["ok"] += head.startswith(b"HTTP/1.1 200")
            except OSError:
                with lock:
                    counts["refused"] += 1
                if s:
                    s.close()
                s = None
                time.sleep(0.01)
    threads = [threading.Thread(target=client) for _ in range(conns)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with open(out, "w") as f:
        f.write("requests %(requests)d ok %(ok)d refused %(refused)d\n" % counts)


def slowloris(host, port, src, conns, stop, out):
    more_files()
    socks = []
    for _ in range(conns):
        try:
            s = connect_from(host, port, src)
            s.setblocking(False)
            socks.append([s, time.monotonic(), None])
        except OSError:
            pass
    text = b"GET /metrics HTTP/1.1\r\nX-Slow: " + b"a" * 100000
    i = 0
    while not os.path.exists(stop) and any(c[2] is None for c in socks):
        for c in socks:
            if c[2] is not None:
                continue
            try:
                if c[0].recv(4096) == b"":
                    c[2] = time.monotonic() - c[1]
                    continue
            except BlockingIOError:
                pass
            except OSError:
                c[2] = time.monotonic() - c[1]
                continue
            try:
                c[0].send(text[i:i + 1])
            except BlockingIOError:
                pass
            except OSError:
                c[2] = time.monotonic() - c[1]
        i += 1
        time.sleep(1)
    now = time.monotonic()
    lived = [c[2] if c[2] is not None else now - c[1] for c in socks]
    at_once = sum(1 for c in socks if c[2] is not None and c[2] < 1.5)
    with open(out, "w") as f:
        f.write("connections %d cut_at_once %d longest_s %.1f open_at_end %d\n" %
                (len(socks), at_once, max(lived) if lived else 0,
                 sum(1 for c in socks if c[2] is None)))


def http_idle(host, port, src, out):
    s = connect_from(host, port, src, timeout=120)
    t0 = time.monotonic()
    try:
        while s.recv(4096):
            pass
    except OSError:
        pass
    with open(out, "w") as f:
        f.write("closed_after_s %.1f\n" % (time.monotonic() - t0))


def http_big(host, port, src, size):
    s = connect_from(host, port, src, timeout=10)
    try:
        s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * size + b"\r\n\r\n")
    except OSError:
        pass
    buf = b""
    end = "closed"
    try:
        while b"\r\n" not in buf:
            d = s.recv(4096)
            if not d:
                break
            buf += d
    except socket.timeout:
        end = "timeout"
    except OSError:
        pass
    print(buf.split(b"\r\n")[0].decode() if b"\r\n" in buf else end)


def main():
    cmd, a = sys.argv[1], sys.argv[2:]
    if cmd == "latency":
        latency(a[0], a[1], a[2], a[3], int(a[4]))
    elif cmd == "requests":
        requests(a[0], a[1], int(a[2]), float(a[3]) if len(a) > 3 else 0)
    elif cmd == "hold":
        hold(a[0], int(a[1]), a[2], a[3])
    elif cmd == "long-line":
        long_line(a[0], int(a[1]))
    elif cmd == "http-flood":
        http_flood(a[0], int(a[1]), a[2], int(a[3]), a[4], a[5])
    elif cmd == "slowloris":
        slowloris(a[0], int(a[1]), a[2], int(a[3]), a[4], a[5])
    elif cmd == "http-idle":
        http_idle(a[0], int(a[1]), a[2], a[3])
    elif cmd == "http-big":
        http_big(a[0], int(a[1]), a[2], int(a[3]))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
