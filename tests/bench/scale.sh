#!/bin/sh
# make bench-scale: how policyd's costs grow with the cluster. tests/bench/policyd.sh on
# generated clusters of SIZES pods (default 1,000 and 10,000; 100,000 takes minutes to generate
# and load: SIZES="1000 10000 100000"), with one policy per 10 pods, one namespace per 100 pods
# and one node per 1,000 pods (so every row enforces about 1,000 local pods on its node: what
# grows is the rest of the cluster). Per size, one table row: first boot and restart to READY,
# the full replace of the first sync, pod event and policy edit p50/p99, RSS, the node's kernel
# objects and the size of its ruleset listing. Printed, not asserted; the raw output of each
# run is kept beside it (SCALE_LOG_DIR, default a temp directory, printed).
# Env: NETPOL_BUILD, SIZES, COUNT (events of each kind, default 100).
cd "$(dirname "$0")/../.." || exit 2
SIZES=${SIZES:-1000 10000}
COUNT=${COUNT:-100}
LOGS=${SCALE_LOG_DIR:-$(mktemp -d /tmp/np-scale.XXXXXX)}
mkdir -p "$LOGS"
echo "raw output in $LOGS"
for p in $SIZES; do
	nodes=$((p / 1000)); [ "$nodes" -ge 1 ] || nodes=1
	echo "== $p pods, $((p / 10)) policies, $((p / 100)) namespaces, $nodes nodes" >&2
	PODS=$p POLICIES=$((p / 10)) NAMESPACES=$((p / 100)) NODES=$nodes COUNT=$COUNT \
		BASE_COUNT=0 FLIPS=0 IDLE=0 sh tests/bench/policyd.sh >"$LOGS/$p.out" 2>&1 ||
		{ echo "policyd.sh failed at $p pods:"; tail -20 "$LOGS/$p.out"; exit 1; }
done
/usr/bin/python3 - "$LOGS" $SIZES <<'PY'
import re, sys
d, sizes = sys.argv[1], sys.argv[2:]
def grab(t, pat, g=1):
    m = re.search(pat, t)
    return m.group(g) if m else "-"
print("| pods | first boot | restart | full replace (build / kernel) | pod added p50/p99 | pod removed p50/p99 | policy edit p50/p99 | RSS | kernel objects | listing |")
print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
for p in sizes:
    t = open("%s/%s.out" % (d, p)).read()
    boot = grab(t, r"first boot to READY[^:]*: ([0-9.]+) ms")
    rst = grab(t, r"restart to READY[^:]*: ([0-9.]+) ms")
    s1 = re.search(r"sync 1 \(start\).*?build ([0-9.]+) ms.*?kernel ([0-9.]+) ms", t)
    full = "%s / %s ms" % s1.groups() if s1 else "-"
    ev = lambda k: grab(t, k + r"\s*:\s+n=\d+ missed=\d+ p50=([0-9.]+ ms p99=[0-9.]+) ms").replace(" ms p99=", " / ") + " ms"
    print("| %s | %s ms | %s ms | %s | %s | %s | %s | %s | %s | %s bytes |" % (
        p, boot, rst, full, ev("pod added"), ev("pod removed"), ev("policy edited"),
        grab(t, r"RSS after start: ([0-9.]+ MB)"), grab(t, r"kernel objects: ([^;]*);"),
        grab(t, r"nft list ruleset ([0-9]+) bytes")))
PY
