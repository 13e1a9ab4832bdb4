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
# wake-ups over 10 s, RSS after start and after FLIPS pod flips (growth). Printed, not asserted.
# Env: NETPOL_BUILD, COUNT (200), BASE_COUNT (20), FLIPS (10000), PODS, NAMESPACES, POLICIES,
#      NODES, SEED.
SRC=${NETPOL_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
BUILD=${NETPOL_BUILD:-build}
case "$BUILD" in /*) ;; *) BUILD="$SRC/$BUILD" ;; esac
NETPOL=$BUILD/netpol POLICYD=$BUILD/policyd LAT=$BUILD/tests/nft_event_lat GEN=$BUILD/tests/gen_cluster
COUNT=${COUNT:-200} BASE_COUNT=${BASE_COUNT:-20} FLIPS=${FLIPS:-10000}
PODS=${PODS:-10000} NAMESPACES=${NAMESPACES:-100} POLICIES=${POLICIES:-1000}
NODES=${NODES:-10} SEED=${SEED:-1}
for x in "$NETPOL" "$POLICYD" "$LAT" "$GEN"; do
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

# cold start to READY=1 (policyd's own clock from its start, and the wall clock from exec)
T0=$(date +%s%N)
ip netns exec $N "$POLICYD" --policy-dir "$DIR" --state-dir "$tmp/state" --node "$NODE" \
	--metrics none 2>"$tmp/policyd.log" &
PD=$!
i=0
while ! grep -q "ready: first sync" "$tmp/policyd.log"; do
	i=$((i + 1)); [ $i -gt 600 ] && { echo "policyd did not start"; cat "$tmp/policyd.log"; exit 1; }
	sleep 0.01
done
T1=$(date +%s%N)
echo "cold start to READY (tables absent): $(sed -n 's/.*ready: first sync done in \([0-9.]*\) ms.*/\1/p' "$tmp/policyd.log") ms by policyd's clock," \
	"$(( (T1 - T0) / 1000000 )) ms wall (incl. exec, polled every 10 ms); target <= 500 ms"
grep "sync 1 (start)" "$tmp/policyd.log" | sed 's/^policyd [0-9:.]*: /  /'
rss() { awk '/VmRSS/ {print $2 / 1024 " MB"}' /proc/$PD/status; }
echo "RSS after start: $(rss); target <= 64 MB"
ctx() { awk '/voluntary_ctxt_switches/ {s += $2} END {print s}' /proc/$PD/status; }
cpu() { awk '{print $14 + $15}' /proc/$PD/stat; }
C0=$(ctx) U0=$(cpu); sleep 10; C1=$(ctx) U1=$(cpu)
echo "idle 10 s: $((U1 - U0)) CPU ticks (1/100 s), $((C1 - C0)) context switches (wake-ups); target CPU ~ 0"

lat() { # LABEL_A LABEL_B TARGET DEST A B [--run CMD] [COUNT]
	la=$1 lb=$2 target=$3 dest=$4 a=$5 b=$6; shift 6
	n=$COUNT
	[ "${1:-}" = --run ] && n=$BASE_COUNT
	ip netns exec $N "$LAT" --count "$n" --dest "$dest" --a "$a" --b "$b" "$@" >"$tmp/lat.out" ||
		return 1
	sed -e "s/^a:/  $la:/" -e "s/^b:/  $lb:/" -e "s/\$/   (target $target)/" "$tmp/lat.out"
}
echo "event -> enforced (rename -> commit on the monitor), policyd, $COUNT events each:"
lat "pod added      " "pod removed    " "p99 <= 10 ms" "$DIR/bench-pod.json" "$tmp/pod-on.json" "$tmp/pod-off.json"
lat "policy edited  " "policy restored" "p99 <= 20 ms" "$DIR/netpol-ns-000.json" "$tmp/pol-b.json" "$tmp/pol-a.json"
lat "ns relabelled  " "ns restored    " "<= 50 ms" "$DIR/namespaces.json" "$tmp/ns-b.json" "$tmp/ns-a.json"
grep "sync" "$tmp/policyd.log" | tail -3 | sed 's/^policyd [0-9:.]*: /  last: /'

sleep 3
echo "soak: $FLIPS pod add/remove flips, 2 ms apart"
R0=$(rss)
/usr/bin/python3 "$SRC/tests/tools/pdtool.py" flips "$FLIPS" "$DIR/bench-pod.json" \
	"$tmp/pod-off.json" "$tmp/pod-on.json"
sleep 3 # policyd gives memory back once quiet for 2 s
echo "  RSS before $R0, after $(rss); syncs: $(grep -c ': sync ' "$tmp/policyd.log")"
kill -TERM $PD; wait $PD; PD=""

echo "baseline: netpol apply DIR --node $NODE after each rename, $BASE_COUNT events each:"
ip netns exec $N "$NETPOL" apply "$DIR" --node "$NODE" >/dev/null # our tables, unowned now
APPLY="$NETPOL apply $DIR --node $NODE >/dev/null"
lat "pod added      " "pod removed    " "-" "$DIR/bench-pod.json" "$tmp/pod-on.json" "$tmp/pod-off.json" --run "$APPLY"
lat "policy edited  " "policy restored" "-" "$DIR/netpol-ns-000.json" "$tmp/pol-b.json" "$tmp/pol-a.json" --run "$APPLY"
lat "ns relabelled  " "ns restored    " "-" "$DIR/namespaces.json" "$tmp/ns-b.json" "$tmp/ns-a.json" --run "$APPLY"
