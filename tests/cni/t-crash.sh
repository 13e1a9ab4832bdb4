#!/bin/sh
# Crash consistency through the CNI plugin (netpol-cni in main mode: netsetup's bridge driver and
# IPAM, netsetup/intent.h): on a /27 (29 addresses), 20 pods are added; then 20 DELs of them and
# 30 ADDs of new ones run at once, a random half of these 50 plugin processes SIGKILLed at a
# random instant (tests/lib/crash.sh). The next operation (one more ADD) and the ones running
# beside the killed settle what these left, and say so on the runtime's log (stderr). Then the
# network is judged as tests/netsetup/t-crash.sh judges it (every listed endpoint whole, no
# address twice, no interface or veth without its endpoint, leases = listed addresses, no intent
# left); after a DEL of every pod, 29 new ADDs all succeed and a 30th finds the network full.
[ -n "$BASH_VERSION" ] || exec bash "$0" "$@"
. "$(dirname "$0")/../lib/netns.sh"
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/policyd.sh"
. "$(dirname "$0")/../lib/crash.sh"

cni_node_up
trap 'policyd_stop; cleanup' EXIT
CONF="$STATE/conf/crash.conf"
cat >"$CONF" <<EOF
{ "cniVersion": "1.0.0", "name": "cnitest", "type": "netpol-cni", "driver": "bridge",
  "subnets": ["10.99.64.0/27"], "policyDir": "$POL", "stateDir": "$NPS", "timeout": 60 }
EOF
CS=""
for i in $(seq 1 51); do cni_pod "$T$i"; CS="$CS $T$i"; done
# a policyd, as on a node: each plugin then asks it for one sync, which it coalesces (without,
# every plugin applies the policy itself, one at a time under the state directory's lock)
check "policyd starts" policyd_start "$NODE" "$POL" "$NPS"
FREE=29
# the plugin as a runtime runs it, in the node netns: CMD I (pod I: container c$I, netns $T$I);
# opx becomes the plugin's process (crash_start kills that one), op runs it in a subshell
opx() {
	exec ip netns exec "$NODE" env -i PATH="$PATH" CNI_COMMAND="$1" CNI_CONTAINERID="c$2" \
		CNI_NETNS="/run/netns/$T$2" CNI_IFNAME=eth0 CNI_PATH="$CNI_PATH" \
		CNI_ARGS="IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=p$2" \
		ASAN_OPTIONS="${ASAN_OPTIONS:-}" UBSAN_OPTIONS="${UBSAN_OPTIONS:-}" \
		"$CNI_PLUGIN" <"$CONF"
}
op() { (opx "$@"); }
listed() { # the pod numbers with an endpoint
	ip netns exec $NODE "$NETPOL" net inspect cnitest --state-dir "$NPS" |
		jq -r '.[0].Containers[].Netns | sub(".*/'$T'"; "")'
}

t0=$(date +%s)
# (every wait names its processes: policyd runs in the background too)
pids=""
for i in $(seq 1 20); do { op ADD $i >/dev/null 2>"$STATE/a$i.err" || echo $i >>"$STATE/afail"; } & pids="$pids $!"; done
wait $pids
check "20 ADDs" [ ! -s "$STATE/afail" ]
rm -f "$STATE/afail"
echo "20 ADDs at once: $(( $(date +%s) - t0 )) s"
start=$(date +%s%N)
added=$(listed)
{
	for i in $added; do crash_start DEL $i "$NPS/intents/cnitest/c$i-eth0.json" opx DEL $i; done
	for i in $(seq 21 50); do crash_start ADD $i "$NPS/endpoints/cnitest/c$i-eth0.json" opx ADD $i; done
	crash_wait
} 2>/dev/null # the shell's own "Killed" lines
echo "50 operations, $CRASH_KILLED killed while running ($(( ($(date +%s%N) - start) / 1000000 )) ms)"
left=$(crash_intents "$NPS" cnitest)
op ADD 51 >/dev/null 2>"$STATE/next.err"
settled=$(grep -c 'was killed' "$STATE/next.err")
grep 'was killed' "$STATE/next.err" | sed 's/^/    /' | head -n 5
check "the next ADD settled and said each of the $left intents left ($settled)" [ "$settled" = "$left" ]
crash_said "after the kills" "$STATE/next.err"
crash_consistent "after the kills" cnitest "$NPS"

# nothing leaked: DEL of every pod (a runtime DELs a pod whose ADD failed, too), then every
# free address can be handed out again
t0=$(date +%s)
pids=""
for i in $(seq 1 51); do { op DEL $i 2>"$STATE/d$i.err" || echo $i >>"$STATE/dfail"; } & pids="$pids $!"; done
wait $pids
check "DEL of every pod" [ ! -s "$STATE/dfail" ]
check "no record left" [ -z "$(listed)" ]
check "no lease left" [ "$(jq '.leases | length' "$NPS/ipam/cnitest.json")" = 0 ]
pids=""
for i in $(seq 1 $FREE); do { op ADD $i >/dev/null 2>"$STATE/a$i.err" || echo $i >>"$STATE/afail"; } & pids="$pids $!"; done
wait $pids
check "$FREE new ADDs all succeed ($(( $(date +%s) - t0 )) s with the DELs)" [ ! -s "$STATE/afail" ]
[ -s "$STATE/afail" ] && cat "$STATE/a$(head -n 1 "$STATE/afail").err"
out=$(op ADD 51 2>&1)
check "one more finds the network full" sh -c "echo '$out' | grep -q 'no free address'"
crash_consistent "full" cnitest "$NPS"
check "policyd lived through it all" kill -0 "$PD_PID"
finish
