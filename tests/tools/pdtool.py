#!/usr/bin/python3
"""pdtool — the client side of the policyd tests (run with Debian's /usr/bin/python3, which has
python3-prometheus-client).

  pdtool.py ctl SOCK JSON               one control-socket request; prints the reply line
  pdtool.py echo-server PORT            TCP echo on [::]:PORT (v4 too); prints "ready"
  pdtool.py busy ADDR PORT STOPFILE OUT one long-lived connection, echo round trips until
                                        STOPFILE exists; writes "roundtrips N errors E" to OUT
  pdtool.py deny-probe ADDR PORT STOPFILE OUT   connect attempts (200 ms timeout) in a loop
                                        until STOPFILE exists; writes "attempts N connected C"
  pdtool.py notify-listen PATH OUT      receives sd_notify datagrams on PATH ('@' = abstract),
                                        appends each to OUT, one line per KEY=VALUE
  pdtool.py flips N DEST A B            writes A and B in turn over DEST N times (temporary
                                        file + rename), 2 ms apart; ends with A when N is even
  pdtool.py metrics-parse FILE          parses Prometheus text; prints "NAME{labels} value" of
                                        every sample, sorted; exits 1 when it does not parse
"""
import os
import socket
import sys
import time


def ctl_line(path, req, timeout=30):
    """One request line (text) on the control socket; policyd's reply line."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect(path)
    s.sendall(req.encode() + b"\n")
    buf = b""
    while not buf.endswith(b"\n"):
        d = s.recv(65536)
        if not d:
            break
        buf += d
    s.close()
    return buf.decode().strip()


def ctl(path, req):
    print(ctl_line(path, req))


def echo_server(port):
    ls = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    ls.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("::", port))
    ls.listen(64)
    print("ready", flush=True)
    import threading

    def serve(c):
        try:
            while True:
                d = c.recv(65536)
                if not d:
                    break
                c.sendall(d)
        except OSError:
            pass
        c.close()

    while True:
        c, _ = ls.accept()
        threading.Thread(target=serve, args=(c,), daemon=True).start()


def busy(addr, port, stop, out):
    n = errors = 0
    try:
        s = socket.create_connection((addr, port), timeout=5)
        s.settimeout(5)
        while not os.path.exists(stop):
            msg = b"x" * 64
            s.sendall(msg)
            got = b""
            while len(got) < len(msg):
                d = s.recv(len(msg) - len(got))
                if not d:
                    raise OSError("closed")
                got += d
            n += 1
            time.sleep(0.002)
    except OSError as e:
        errors += 1
        sys.stderr.write("busy: %s\n" % e)
    with open(out, "w") as f:
        f.write("roundtrips %d errors %d\n" % (n, errors))


def deny_probe(addr, port, stop, out):
    n = ok = 0
    while not os.path.exists(stop):
        n += 1
        try:
            s = socket.create_connection((addr, port), timeout=0.2)
            s.close()
            ok += 1
        except OSError:
            pass
        time.sleep(0.01)
    with open(out, "w") as f:
        f.write("attempts %d connected %d\n" % (n, ok))


def notify_listen(path, out):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind("\0" + path[1:] if path.startswith("@") else path)
    print("ready", flush=True)
    while True:
        d = s.recv(4096).decode()
        with open(out, "a") as f:
            for line in d.split("\n"):
                f.write(line + "\n")


def flips(n, dest, a, b):
    texts = [open(b).read(), open(a).read()]
    tmp = os.path.join(os.path.dirname(dest), ".flip.tmp")
    for i in range(1, n + 1):
        with open(tmp, "w") as f:
            f.write(texts[i % 2 == 0])
        os.rename(tmp, dest)
        time.sleep(0.002)


def metrics_parse(path):
    from prometheus_client.parser import text_string_to_metric_families
    text = open(path).read()
    rows = []
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            labels = ",".join('%s="%s"' % kv for kv in sorted(s.labels.items()))
            rows.append("%s{%s} %s" % (s.name, labels, repr(float(s.value))))
    for r in sorted(rows):
        print(r)


def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "ctl":
        ctl(args[0], args[1])
    elif cmd == "echo-server":
        echo_server(int(args[0]))
    elif cmd == "busy":
        busy(args[0], int(args[1]), args[2], args[3])
    elif cmd == "deny-probe":
        deny_probe(args[0], int(args[1]), args[2], args[3])
    elif cmd == "notify-listen":
        notify_listen(args[0], args[1])
    elif cmd == "flips":
        flips(int(args[0]), args[1], args[2], args[3])
    elif cmd == "metrics-parse":
        try:
            metrics_parse(args[0])
        except Exception as e:
            sys.stderr.write("metrics do not parse: %s\n" % e)
            sys.exit(1)
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
