#!/bin/sh
# Benchmark: attach and detach 100 containers to a bridge network, per endpoint, with
# `netpol net attach|detach` (one process per operation, as a runtime would exec it) and with the
# netsetup library in one process, beside Debian's reference CNI bridge plugin with host-local
# IPAM (/usr/lib/cni/bridge, exec'd directly with its JSON config on stdin). Everything runs in a
# throw-away node netns; the 100 container netns are reused by each contender in turn.
# Target (issue 4): at most 5 ms per attach, and faster than the reference plugin.
cd "$(dirname "$0")/../.." || exit 2
BUILD=${NETPOL_BUILD:-build}
NETPOL=${NETPOL:-$PWD/$BUILD/netpol}
LIBBENCH=$PWD/$BUILD/tests/ns_attach_bench
N=${N:-100}
REF=/usr/lib/cni/bridge
[ "$(id -u)" = 0 ] || { echo "attach bench: needs root"; exit 0; }
[ -x "$NETPOL" ] || { echo "attach bench: no $NETPOL"; exit 1; }

T=npb$$
TMP=$(mktemp -d /tmp/netpol-bench.XXXXXX)
NODE=${T}node
cleanup() {
	ip netns del $NODE 2>/dev/null
	for i in $(seq 1 $N); do ip netns del ${T}c$i 2>/dev/null; done
	rm -rf "$TMP"
}
trap cleanup EXIT INT TERM
ip netns add $NODE && ip -n $NODE link set lo up
for i in $(seq 1 $N); do ip netns add ${T}c$i; done

# run_timed LABEL SCRIPT: runs SCRIPT inside the node netns, prints elapsed ms for the whole.
run_timed() {
	ip netns exec $NODE sh -c "s=\$(date +%s%N); $2; e=\$(date +%s%N); echo \$(( (e - s) / 1000 ))" \
		>"$TMP/$1.us" 2>"$TMP/$1.err" || { echo "$1 failed:"; tail -3 "$TMP/$1.err"; exit 1; }
}
per() { awk -v us="$(tail -n 1 "$TMP/$1.us")" -v n=$N 'BEGIN { printf "%.2f", us / 1000 / n }'; }

# --- netpol (CLI) ---
NP="$NETPOL net"
SD="--state-dir $TMP/state"
ip netns exec $NODE $NP create bench $SD --driver bridge --subnet 10.99.128.0/24 >/dev/null || exit 1
run_timed np_attach "for i in \$(seq 1 $N); do $NP attach bench $SD --netns ${T}c\$i >/dev/null || exit 1; done"
VETHS=$(ip -n $NODE -o link show type veth | wc -l)
[ "$VETHS" = "$N" ] || { echo "netpol attach made $VETHS veths, not $N"; exit 1; }
run_timed np_detach "for i in \$(seq 1 $N); do $NP detach bench $SD --id ${T}c\$i || exit 1; done"
[ -z "$(ip -n $NODE -o link show type veth)" ] || { echo "netpol detach left veths"; exit 1; }

# --- netsetup library in one process ---
LIB=""
if [ -x "$LIBBENCH" ]; then
	LIB=$(ip netns exec $NODE "$LIBBENCH" "$TMP/state" bench ${T}c $N) || { echo "library bench failed"; exit 1; }
fi
ip netns exec $NODE $NP rm bench $SD >/dev/null

# --- reference CNI bridge plugin + host-local ---
REFLINE="reference plugin: not installed ($REF; package containernetworking-plugins)"
if [ -x "$REF" ]; then
	CONF='{"cniVersion":"1.0.0","name":"benchref","type":"bridge","bridge":"cnibench0","isGateway":true,"ipMasq":false,"hairpinMode":false,"ipam":{"type":"host-local","ranges":[[{"subnet":"10.99.129.0/24"}]],"dataDir":"'$TMP'/cni-ipam"}}'
	echo "$CONF" > "$TMP/ref.json"
	ENV="CNI_IFNAME=eth0 CNI_PATH=/usr/lib/cni"
	# Warm-up: the first ADD creates the bridge, as our `net create` did before timing.
	ip netns exec $NODE sh -c "CNI_COMMAND=ADD CNI_CONTAINERID=warm CNI_NETNS=/run/netns/${T}c1 $ENV $REF <$TMP/ref.json >/dev/null &&
		CNI_COMMAND=DEL CNI_CONTAINERID=warm CNI_NETNS=/run/netns/${T}c1 $ENV $REF <$TMP/ref.json" || exit 1
	run_timed ref_attach "for i in \$(seq 1 $N); do CNI_COMMAND=ADD CNI_CONTAINERID=r\$i CNI_NETNS=/run/netns/${T}c\$i $ENV $REF <$TMP/ref.json >/dev/null || exit 1; done"
	VETHS=$(ip -n $NODE -o link show type veth | wc -l)
	[ "$VETHS" = "$N" ] || { echo "reference ADD made $VETHS veths, not $N"; exit 1; }
	run_timed ref_detach "for i in \$(seq 1 $N); do CNI_COMMAND=DEL CNI_CONTAINERID=r\$i CNI_NETNS=/run/netns/${T}c\$i $ENV $REF <$TMP/ref.json >/dev/null || exit 1; done"
	REFLINE=$(printf '%-44s %8s ms %8s ms' "reference CNI bridge + host-local (exec)" "$(per ref_attach)" "$(per ref_detach)")
fi

# Kernel floor for detach: deleting a veth (cross-netns pair) with ip(8), nothing else. Link
# unregistration waits for RCU grace periods, which is most of every detach on this kernel.
for i in $(seq 1 20); do ip -n $NODE link add fl$i type veth peer name eth0 netns ${T}c$i; done
run_timed floor_del "for i in \$(seq 1 20); do ip link del fl\$i || exit 1; done"
FLOOR=$(awk -v us="$(tail -n 1 "$TMP/floor_del.us")" 'BEGIN { printf "%.2f", us / 1000 / 20 }')

echo "attach/detach of $N containers on a bridge network, per endpoint:"
printf '%-44s %11s %11s\n' "" attach detach
printf '%-44s %8s ms %8s ms\n' "netpol net attach|detach (exec per op)" "$(per np_attach)" "$(per np_detach)"
[ -n "$LIB" ] && printf '%-44s %8s ms %8s ms\n' "netsetup library (one process)" \
	"$(echo "$LIB" | awk '/attach/ { printf "%.2f", $2 }')" "$(echo "$LIB" | awk '/detach/ { printf "%.2f", $2 }')"
echo "$REFLINE"
printf '%-44s %11s %8s ms\n' "kernel floor: ip link del of one veth pair" "" "$FLOOR"
A=$(per np_attach)
awk -v a="$A" 'BEGIN { exit !(a <= 5) }' && echo "target <= 5 ms per attach: met ($A ms)" ||
	echo "target <= 5 ms per attach: NOT met ($A ms)"
if [ -x "$REF" ]; then
	awk -v a="$A" -v r="$(per ref_attach)" 'BEGIN { exit !(a < r) }' &&
		echo "faster than the reference plugin: yes" || echo "faster than the reference plugin: no"
fi
