#!/bin/sh
# Apply benchmark (issue 3): generates a cluster (default 10,000 pods in 100 namespaces, 1,000
# policies, 10 nodes; build/tests/gen_cluster), then in a throwaway network namespace times
#   netpol apply DIR --node N   full replace (tables absent), one node's share of the pods
#   netpol apply DIR            full replace with every pod local (worst case)
#   netpol apply DIR --node N   after one pod was added on node N: incremental
# and, for scale, `nft -f` of the rendered text for the same node. Figures come from
# `apply --stats` (phases: load+build, read-back, diff+batch, kernel commit, conntrack) and are
# printed, not asserted. Targets: full < 250 ms, one pod added < 5 ms (kernel transaction).
# Env: NETPOL_BUILD, NETPOL, PODS, NAMESPACES, POLICIES, NODES, SEED, RUNS (3).
# ADMIN=N adds N admin-tier policies of 25 rules (gen_cluster --admin).
SRC=${NETPOL_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
BUILD=${NETPOL_BUILD:-build}
case "$BUILD" in /*) ;; *) BUILD="$SRC/$BUILD" ;; esac
NETPOL=${NETPOL:-$BUILD/netpol}
GEN=${GEN:-$BUILD/tests/gen_cluster}
RUNS=${RUNS:-3}
PODS=${PODS:-10000} NAMESPACES=${NAMESPACES:-100} POLICIES=${POLICIES:-1000}
NODES=${NODES:-10} SEED=${SEED:-1}
for x in "$NETPOL" "$GEN"; do
	[ -x "$x" ] || { echo "apply.sh: missing $x (run make all tests-built)" >&2; exit 2; }
done
[ "$(id -u)" = 0 ] || { echo "apply.sh: needs root (network namespaces)" >&2; exit 77; }
N=np-$$-bench
tmp=$(mktemp -d "/tmp/np-$$-bench.XXXXXX") || exit 2
trap 'ip netns del $N 2>/dev/null; rm -rf "$tmp"' EXIT
trap 'exit 2' INT TERM HUP
ip netns add $N || exit 2

"$GEN" "$tmp/cluster" --pods "$PODS" --namespaces "$NAMESPACES" --policies "$POLICIES" \
	--nodes "$NODES" --seed "$SEED" --admin "${ADMIN:-0}" >/dev/null || exit 2
# the node of the first pod of the first namespace; the added pod goes there too
NODE=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['items'][0]['spec']['nodeName'])" \
	"$tmp/cluster/pods-ns-000.json") || exit 2
echo "cluster: $PODS pods, $NAMESPACES namespaces, $POLICIES policies, ${ADMIN:-0} admin policies, $NODES nodes; node $NODE"

# run LABEL ARGS...: RUNS applies starting from no tables; prints the median phases
full() {
	label=$1; shift
	i=0
	: >"$tmp/runs"
	while [ $i -lt "$RUNS" ]; do
		ip netns exec $N "$NETPOL" flush >/dev/null
		ip netns exec $N "$NETPOL" apply --stats "$@" >"$tmp/out" 2>&1 || { cat "$tmp/out"; exit 1; }
		grep "time:" "$tmp/out" >>"$tmp/runs"
		i=$((i + 1))
	done
	report "$label" "$(grep messages "$tmp/out")"
}

# report LABEL MESSAGES-LINE: median of each phase over the runs in $tmp/runs
report() {
	python3 - "$tmp/runs" "$1" "$2" <<'PY'
import re, statistics, sys
runs = [dict((k.strip(), float(v)) for k, v in re.findall(r"([a-z+\- ]+?) ([0-9.]+) ms", l))
        for l in open(sys.argv[1])]
med = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
kernel = med.get("kernel", 0) + med.get("diff+batch", 0)
print(f"{sys.argv[2]}: batch+kernel {kernel:.1f} ms (build batch {med.get('diff+batch', 0):.1f}, "
      f"kernel commit {med.get('kernel', 0):.1f}); read-back {med.get('read-back', 0):.1f}; "
      f"load+build {med.get('load+build', 0):.1f}; conntrack {med.get('conntrack', 0):.1f}; "
      f"whole command {med.get('total', 0):.1f} ms (median of {len(runs)})")
print("   ", sys.argv[3].strip())
PY
}

full "full apply, --node $NODE" --node "$NODE" "$tmp/cluster"
full "full apply, every pod local" "$tmp/cluster"

# one pod added on $NODE, applied on top of the full ruleset
python3 - "$tmp/cluster/pods-ns-000.json" "$tmp/extra.json" <<'PY' || exit 2
import json, sys
pod = json.load(open(sys.argv[1]))["items"][0]
pod["metadata"]["name"] = "bench-added-0"
pod["metadata"]["annotations"]["netpol.io/host-interface"] = "vethbench0"
pod["status"]["podIP"] = "10.255.255.1"
pod["status"]["podIPs"] = [{"ip": "10.255.255.1"}, {"ip": "fd00:ffff::1"}]
json.dump({"apiVersion": "v1", "kind": "List", "items": [pod]}, open(sys.argv[2], "w"))
PY
: >"$tmp/runs"
i=0
while [ $i -lt "$RUNS" ]; do
	rm -f "$tmp/cluster/zz-added.json"
	ip netns exec $N "$NETPOL" apply --node "$NODE" "$tmp/cluster" >/dev/null || exit 1
	cp "$tmp/extra.json" "$tmp/cluster/zz-added.json"
	ip netns exec $N "$NETPOL" apply --stats --node "$NODE" "$tmp/cluster" >"$tmp/out" 2>&1 || { cat "$tmp/out"; exit 1; }
	grep -q incremental "$tmp/out" || { echo "expected an incremental apply:"; cat "$tmp/out"; exit 1; }
	grep "time:" "$tmp/out" >>"$tmp/runs"
	i=$((i + 1))
done
report "one pod added, --node $NODE (incremental)" "$(grep messages "$tmp/out")"

# for scale: the same full ruleset through nft -f
"$NETPOL" render --node "$NODE" "$tmp/cluster" >"$tmp/r.nft" || exit 1
ip netns exec $N "$NETPOL" flush >/dev/null
s=$(date +%s%N)
ip netns exec $N nft -f "$tmp/r.nft" || exit 1
e=$(date +%s%N)
echo "nft -f of the rendered text (--node $NODE, same ruleset): $(( (e - s) / 1000000 )) ms"

# the conntrack step of a narrowing apply with a busy table: 40,000 UDP entries (unreplied,
# kept 10 min by this netns's own timeout sysctl) from a local pod's address, then one policy
# of that namespace removed, which rewrites chains: every entry touching an isolated local pod
# is judged
ip netns exec $N "$NETPOL" apply --node "$NODE" "$tmp/cluster" >/dev/null || exit 1
ADDR=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['items'][0]['status']['podIP'])" \
	"$tmp/cluster/pods-ns-000.json")
ip -n $N link set lo up
ip -n $N addr add "$ADDR/32" dev lo
ip netns exec $N sysctl -qw net.netfilter.nf_conntrack_udp_timeout=600
ip netns exec $N python3 -c "
import socket, sys
for i in range(40000):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.sendto(b'x', (sys.argv[1], 1024 + i))
    s.close()" "$ADDR"
python3 - "$tmp/cluster/netpol-ns-000.json" <<'PY' || exit 2
import json, sys
d = json.load(open(sys.argv[1]))
d["items"] = d["items"][1:]
json.dump(d, open(sys.argv[1], "w"))
PY
ip netns exec $N "$NETPOL" apply --stats --node "$NODE" "$tmp/cluster" >"$tmp/out" 2>&1 || { cat "$tmp/out"; exit 1; }
echo "conntrack step, $(ip netns exec $N cat /proc/sys/net/netfilter/nf_conntrack_count) entries, one policy removed: $(grep -o 'conntrack [0-9.]* ms ([^)]*)' "$tmp/out")"
