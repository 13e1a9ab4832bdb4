#!/bin/sh
# policyd benchmark: on the generated cluster (default 10,000 pods, 100 namespaces, 1,000
# policies, 10 nodes; policyd enforcing one node's pods) in a throwaway netns, times event ->
# enforced: from the rename of a file into the watched directory to the kernel's commit seen on
# an NFNLGRP_NFTABLES monitor socket (build/tests/nft_event_lat), p50/p99 over COUNT events each:
#   one pod added / removed   a one-Pod List file (a pod of ns-000 on policyd's node) and an
#                             empty List, in turn
#   one policy edited         ns-000's default-deny-ingress-0 gains Egress, and loses it
#   namespace relabelled      namespaces.json with ns-000's env label changed, and back
# beside the same events done by `netpol apply DIR --node N` after each rename (BASE_COUNT
# events: each apply re-reads the whole directory). Also: cold start to READY=1, idle CPU and
# wake-ups over 10 s, RSS after start and after FLIPS pod flips (growth), restart to READY with
# the tables left in the kernel and the state directory intact, and the kernel's floor under an
# incremental sync (build/tests/nft_floor: the commit of one element on the same table).
# With CT=N, N unreplied UDP conntrack entries are made in the netns after the first sync (kept
# 10 min by the netns's own timeout): toward a pod of this node in ns-000, the namespace every
# measured event touches (CT_TO=pod, the worst case: every entry is a candidate), or toward an
# address no pod has (CT_TO=unrelated); the conntrack step of each event is taken from
# policyd's log. Printed, not asserted.
# Env: NETPOL_BUILD, COUNT (200), BASE_COUNT (20; 0 leaves the baseline out), FLIPS (10000),
#      IDLE (10 s; 0 leaves it out), CT (0), CT_TO (pod), PODS, NAMESPACES, POLICIES, NODES, SEED.
SRC=${NETPOL_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
BUILD=${NETPOL_BUILD:-build}
case "$BUILD" in /*) ;; *) BUILD="$SRC/$BUILD" ;; esac
NETPOL=$BUILD/netpol POLICYD=$BUILD/policyd LAT=$BUILD/tests/nft_event_lat GEN=$BUILD/tests/gen_cluster
FLOOR=$BUILD/tests/nft_floor
COUNT=${COUNT:-200} BASE_COUNT=${BASE_COUNT:-20} FLIPS=${FLIPS:-10000} IDLE=${IDLE:-10} CT=${CT:-0} CT_TO=${CT_TO:-pod}
PODS=${PODS:-10000} NAMESPACES=${NAMESPACES:-100} POLICIES=${POLICIES:-1000}
NODES=${NODES:-10} SEED=${SEED:-1}
for x in "$NETPOL" "$POLICYD" "$LAT" "$GEN" "$FLOOR"; do
	[ -x "$x" ] || { echo "policyd.sh: missing $x (make all tests-built)" >&2; exit 2; }
done
[ "$(id -u)" = 0 ] || { echo "policyd.sh: needs root (network namespaces)" >&2; exit 77; }
N=np-$$-pdbench
tmp=$(mktemp -d "/tmp/np-$$-pdbench.XXXXXX") || exit 2
PD=""
cleanup() {
	[ -n "$PD" ] && { kill -TERM "$PD" 2>/dev/null; wait "$PD" 2>/dev/null; }
	ip netns del $N 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 2' INT TERM HUP
ip netns add $N || exit 2
ip -n $N link set lo up
DIR=$tmp/cluster
"$GEN" "$DIR" --pods "$PODS" --namespaces "$NAMESPACES" --policies "$POLICIES" \
	--nodes "$NODES" --seed "$SEED" >/dev/null || exit 2
/usr/bin/python3 - "$DIR" "$tmp" <<'PY' || exit 2
import copy, json, sys
d, t = sys.argv[1], sys.argv[2]
pods = json.load(open(d + "/pods-ns-000.json"))
p = copy.deepcopy(pods["items"][0])
p["metadata"]["name"] = "bench-added-0"
p["metadata"]["annotations"] = {"netpol.io/host-interface": "vethbench0"}
p["status"]["podIP"] = "10.254.0.1"
p["status"]["podIPs"] = [{"ip": "10.254.0.1"}]
json.dump({"apiVersion": "v1", "kind": "List", "items": [p]}, open(t + "/pod-on.json", "w"))
json.dump({"apiVersion": "v1", "kind": "List", "items": []}, open(t + "/pod-off.json", "w"))
open(t + "/node", "w").write(p["spec"]["nodeName"])
pol = json.load(open(d + "/netpol-ns-000.json"))
json.dump(pol, open(t + "/pol-a.json", "w"))
for it in pol["items"]:
    if it["metadata"]["name"] == "default-deny-ingress-0":
        it["spec"]["policyTypes"] = ["Ingress", "Egress"]
json.dump(pol, open(t + "/pol-b.json", "w"))
ns = json.load(open(d + "/namespaces.json"))
json.dump(ns, open(t + "/ns-a.json", "w"))
ns["items"][0]["metadata"]["labels"]["env"] = "relabelled"
json.dump(ns, open(t + "/ns-b.json", "w"))
PY
NODE=$(cat "$tmp/node")
cp "$tmp/pod-off.json" "$DIR/bench-pod.json"
echo "cluster: $PODS pods, $NAMESPACES namespaces, $POLICIES policies, $NODES nodes; policyd --node $NODE"

# start_pd LABEL TARGET: policyd started in the netns, timed to READY=1 (policyd's own clock
# from its start, and the wall clock from exec, polled every 10 ms)
start_pd() {
	: >"$tmp/policyd.log"
	T0=$(date +%s%N)
	ip netns exec $N "$POLICYD" --policy-dir "$DIR" --state-dir "$tmp/state" --node "$NODE" \
		--metrics none 2>>"$tmp/policyd.log" &
	PD=$!
	i=0
	while ! grep -q "ready: " "$tmp/policyd.log"; do
		i=$((i + 1)); [ $i -gt 60000 ] && { echo "policyd did not start in 10 min"; cat "$tmp/policyd.log"; exit 1; }
		sleep 0.01
	done
	T1=$(date +%s%N)
	echo "$1: $(sed -n 's/.*ready: .* in \([0-9.]*\) ms since start.*/\1/p' "$tmp/policyd.log") ms by policyd's clock," \
		"$(( (T1 - T0) / 1000000 )) ms wall (incl. exec); target $2"
	grep "commit marker\|ready: our tables" "$tmp/policyd.log" | sed 's/^policyd [0-9:.]*: /  /'
	# READY on the commit marker comes before the model is built: wait for that too
	i=0
	while ! grep -q "sync 1 (start)" "$tmp/policyd.log"; do
		i=$((i + 1)); [ $i -gt 60000 ] && { echo "policyd did not sync in 10 min"; cat "$tmp/policyd.log"; exit 1; }
		sleep 0.01
	done
	grep "model built" "$tmp/policyd.log" | sed 's/^policyd [0-9:.]*: /  /'
	grep "sync 1 (start)" "$tmp/policyd.log" | sed 's/^policyd [0-9:.]*: /  /'
}
start_pd "first boot to READY (empty kernel, empty state directory)" "<= 1 s"
rss() { awk '/VmRSS/ {print $2 / 1024 " MB"}' /proc/$PD/status; }
echo "RSS after start: $(rss); target <= 64 MB"
ctx() { awk '/voluntary_ctxt_switches/ {s += $2} END {print s}' /proc/$PD/status; }
cpu() { awk '{print $14 + $15}' /proc/$PD/stat; }
if [ "$IDLE" -gt 0 ]; then
	C0=$(ctx) U0=$(cpu); sleep "$IDLE"; C1=$(ctx) U1=$(cpu)
	echo "idle $IDLE s: $((U1 - U0)) CPU ticks (1/100 s), $((C1 - C0)) context switches (wake-ups); target CPU ~ 0"
fi
echo "kernel objects: $(ip netns exec $N nft -j list ruleset | /usr/bin/python3 -c '
import json, sys
k = {"set": 0, "map": 0, "chain": 0, "rule": 0}
el = 0
for o in json.load(sys.stdin)["nftables"]:
    for t in k:
        if t in o:
            k[t] += 1
            el += len(o[t].get("elem", [])) if t in ("set", "map") else 0
print("%d sets, %d maps, %d elements, %d chains, %d rules" % (k["set"], k["map"], el, k["chain"], k["rule"]))'); \
nft list ruleset $(ip netns exec $N nft list ruleset | wc -c) bytes"

if [ "$CT" -gt 0 ]; then
	ADDR=$(/usr/bin/python3 -c "import json,sys; print([p for p in json.load(open(sys.argv[1]))['items'] if p['spec']['nodeName'] == sys.argv[2]][0]['status']['podIP'])" \
		"$DIR/pods-ns-000.json" "$NODE")
	[ "$CT_TO" = unrelated ] && ADDR=192.0.2.77
	ip -n $N addr add "$ADDR/32" dev lo
	ip netns exec $N sysctl -qw net.netfilter.nf_conntrack_udp_timeout=600
	ip netns exec $N /usr/bin/python3 -c "
import socket, sys
for i in range(int(sys.argv[2])):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.sendto(b'x', (sys.argv[1], 1024 + i % 64000))
    s.close()" "$ADDR" "$CT"
	echo "conntrack: $(ip netns exec $N cat /proc/sys/net/netfilter/nf_conntrack_count) entries in the netns (UDP toward $ADDR: $CT_TO)"
	sleep 1
fi

lat() { # LABEL_A LABEL_B TARGET DEST A B [--run CMD] [COUNT]
	la=$1 lb=$2 target=$3 dest=$4 a=$5 b=$6; shift 6
	n=$COUNT
	[ "${1:-}" = --run ] && n=$BASE_COUNT
	ip netns exec $N "$LAT" --count "$n" --dest "$dest" --a "$a" --b "$b" "$@" >"$tmp/lat.out" ||
		return 1
	sed -e "s/^a:/  $la:/" -e "s/^b:/  $lb:/" -e "s/\$/   (target $target)/" "$tmp/lat.out"
}
echo "event -> enforced (rename -> commit on the monitor), policyd, $COUNT events each:"
# steps LABEL: p50/p99 of each step of the syncs logged since the last call (policyd's log)
LOGPOS=$(wc -l <"$tmp/policyd.log")
steps() {
	tail -n +$((LOGPOS + 1)) "$tmp/policyd.log" | /usr/bin/python3 -c '
import re, sys
keys = ["merge", "build", "diff", "kernel", "conntrack", "total"]
v = {k: [] for k in keys}
judged = []
for l in sys.stdin:
    if ": sync " not in l or "(inotify)" not in l:
        continue
    for k in keys:
        m = re.search(k + r" ([0-9.]+) ms", l)
        if m:
            v[k].append(float(m.group(1)))
    m = re.search(r"\(([0-9]+) judged", l)
    judged.append(int(m.group(1)) if m else 0)
def pct(a, q):
    a = sorted(a)
    return a[min(len(a) - 1, int(len(a) * q))] if a else 0
print("    steps (policyd log, p50/p99 ms, %d syncs): " % len(v["total"]) +
      ", ".join("%s %.1f/%.1f" % (k, pct(v[k], .5), pct(v[k], .99)) for k in keys) +
      "; conntrack entries judged max %d" % max(judged or [0]))'
	LOGPOS=$(wc -l <"$tmp/policyd.log")
}
lat "pod added      " "pod removed    " "p99 <= 5 ms" "$DIR/bench-pod.json" "$tmp/pod-on.json" "$tmp/pod-off.json"
steps
lat "policy edited  " "policy restored" "p99 <= 10 ms" "$DIR/netpol-ns-000.json" "$tmp/pol-b.json" "$tmp/pol-a.json"
steps
lat "ns relabelled  " "ns restored    " "p99 <= 20 ms" "$DIR/namespaces.json" "$tmp/ns-b.json" "$tmp/ns-a.json"
steps
[ "$CT" -gt 0 ] && echo "  (conntrack step target with $CT entries: <= 20 ms; widening changes: none)"

if [ "$FLIPS" -gt 0 ]; then
	sleep 3
	echo "soak: $FLIPS pod add/remove flips, 2 ms apart"
	R0=$(rss)
	/usr/bin/python3 "$SRC/tests/tools/pdtool.py" flips "$FLIPS" "$DIR/bench-pod.json" \
		"$tmp/pod-off.json" "$tmp/pod-on.json"
	sleep 3 # policyd gives memory back once quiet for 2 s
	echo "  RSS before $R0, after $(rss); syncs: $(grep -c ': sync ' "$tmp/policyd.log")"
fi
kill -TERM $PD; wait $PD; PD=""

# the common restart (upgrade, crash, unit reload): its tables stay in the kernel (the owner
# flag's persist flag) and its state directory as it was
start_pd "restart to READY (tables in the kernel, state directory intact)" "<= 200 ms"
echo "RSS after restart: $(rss)"
kill -TERM $PD; wait $PD; PD=""

[ "$BASE_COUNT" -gt 0 ] || exit 0

echo "baseline: netpol apply DIR --node $NODE after each rename, $BASE_COUNT events each:"
ip netns exec $N "$NETPOL" apply "$DIR" --node "$NODE" >/dev/null # our tables, unowned now
echo "the kernel's floor (build/tests/nft_floor: one transaction on this table, 100 rounds each):"
ip netns exec $N "$FLOOR" --rounds 100 | sed 's/^/  /'
APPLY="$NETPOL apply $DIR --node $NODE >/dev/null"
lat "pod added      " "pod removed    " "-" "$DIR/bench-pod.json" "$tmp/pod-on.json" "$tmp/pod-off.json" --run "$APPLY"
lat "policy edited  " "policy restored" "-" "$DIR/netpol-ns-000.json" "$tmp/pol-b.json" "$tmp/pol-a.json" --run "$APPLY"
lat "ns relabelled  " "ns restored    " "-" "$DIR/namespaces.json" "$tmp/ns-b.json" "$tmp/ns-a.json" --run "$APPLY"
