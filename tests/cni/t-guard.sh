#!/bin/sh
# No window at pod start. A pod "guarded" may talk only with "friend", both ways. Before its
# ADD starts, friend and foe already send to its (static) address in a tight loop, UDP and TCP
# connects; the instant the chain's ADD returns, a listener starts in the new pod and the pod
# itself starts sending to friend and foe. The listener must get friend's packets and nothing
# of foe's, foe's connects must never succeed, and foe must receive nothing from the pod while
# friend does. Legs: the plugin applying itself (no policyd), policyd's fast path (when
# build/policyd exists), a hung policyd (ADD fails closed with code 11 and leaves nothing),
# and a control without netpol-cni in the chain, where foe's packets do arrive — so the test
# can see a window when there is one.
[ -n "$BASH_VERSION" ] || exec bash "$0" "$@"
. "$(dirname "$0")/../lib/netns.sh"
. "$(dirname "$0")/lib.sh"
GUARD="$CNI_SRC/tests/tools/guard.py"
export CNIRUN_LOG="$STATE/cnirun.log"

cni_node_up
cni_policy guarded <<'EOF'
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: guarded, namespace: default}
spec:
  podSelector: {matchLabels: {app: guarded}}
  policyTypes: [Ingress, Egress]
  ingress: [{from: [{podSelector: {matchLabels: {app: friend}}}]}]
  egress: [{to: [{podSelector: {matchLabels: {app: friend}}}]}]
EOF

# conflist NAME FILE [NETPOL_KEYS]: bridge (static addresses through the ips capability) +
# host-local, then netpol-cni unless NETPOL_KEYS is "none"
conflist() {
	if [ "${3:-}" = none ]; then last=""; else last=", { \"type\": \"netpol-cni\", \"policyDir\": \"$POL\",
	  \"stateDir\": \"$NPS\", \"capabilities\": {\"labels\": true}${3:+, $3} }"; fi
	cat >"$2" <<EOF
{ "cniVersion": "1.0.0", "name": "$1",
  "plugins": [
    { "type": "bridge", "bridge": "cnibr0", "isGateway": true, "ipMasq": false,
      "capabilities": {"ips": true},
      "ipam": { "type": "host-local", "dataDir": "$STATE/ipam",
        "ranges": [[{"subnet": "10.99.0.0/24", "gateway": "10.99.0.1"}]] } }$last ] }
EOF
}
CONF="$STATE/conf/guard.conflist"; conflist cnitest "$CONF"
add_static() { # CONFLIST CID POD NAME LABELS_JSON IP
	CNIRUN_ARGS="IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=$4" \
	CNIRUN_CAPS="{\"labels\": $5, \"ips\": [\"$6/24\"]}" cni ADD "$1" "$2" "/run/netns/$3" eth0
}

cni_pod "$T"friend; cni_pod "$T"foe
add_static "$CONF" friend "$T"friend friend '{"app":"friend"}' 10.99.0.10 >/dev/null
add_static "$CONF" foe "$T"foe foe '{"app":"foe"}' 10.99.0.20 >/dev/null
check "friend and foe attached" [ -e "$NPS/endpoints/cnitest/friend-eth0.json" -a -e "$NPS/endpoints/cnitest/foe-eth0.json" ]

# leg NAME CONFLIST IP [expect-fail]: one pod start under fire; leaves results in $STATE/NAME.*
leg() {
	name=$1 conf=$2 ip=$3 d="$STATE/$1"
	mkdir -p "$d"; cni_pod "$T$name"
	pids=""
	for who in friend foe; do
		ip netns exec "$T$who" python3 "$GUARD" listen 7000 "$d/$who.ready" "$d/stop.listen" >"$d/$who.listen" &
		pids="$pids $!"
	done
	for i in $(seq 200); do [ -e "$d/friend.ready" ] && [ -e "$d/foe.ready" ] && break; sleep 0.02; done
	for who in friend foe; do
		ip netns exec "$T$who" python3 "$GUARD" send "$ip" 7000 "$who" "$d/stop.send" >"$d/$who.send" &
		pids="$pids $!"
	done
	sleep 0.4 # the senders are in their loop before ADD starts
	if add_static "$conf" "$name" "$T$name" "$name" '{"app":"guarded"}' "$ip" >"$d/add.out" 2>"$d/add.err"; then
		# the instant ADD returns: a listener in the pod, and the pod sending to both
		ip netns exec "$T$name" python3 "$GUARD" listen 7000 "$d/pod.ready" "$d/stop.pod" >"$d/pod.listen" &
		pids="$pids $!"
		ip netns exec "$T$name" python3 "$GUARD" send 10.99.0.10 7000 "$name" "$d/stop.pod" >"$d/pod.send-friend" &
		pids="$pids $!"
		ip netns exec "$T$name" python3 "$GUARD" send 10.99.0.20 7000 "$name" "$d/stop.pod" >"$d/pod.send-foe" &
		pids="$pids $!"
		echo ok >"$d/add.rc"
		for i in $(seq 200); do [ -e "$d/pod.ready" ] && break; sleep 0.02; done
		sleep 1.5
	else
		echo failed >"$d/add.rc"
	fi
	touch "$d/stop.pod"; sleep 0.1; touch "$d/stop.send"; sleep 0.1; touch "$d/stop.listen"
	for p in $pids; do wait "$p"; done
	[ -n "${CNI_DEBUG:-}" ] && for f in "$d"/*; do echo "  $f: $(head -c 300 "$f")"; done
	return 0
}
n() { jq -r "$2 // 0" "$1" 2>/dev/null || echo missing; }

assert_guarded() { # NAME
	d="$STATE/$1"
	check "$1: ADD succeeded" [ "$(cat "$d/add.rc")" = ok ]
	check "$1: the pod's listener got friend's UDP ($(n "$d/pod.listen" .udp.friend))" [ "$(n "$d/pod.listen" .udp.friend)" -gt 0 ]
	check "$1: the pod's listener got friend's TCP ($(n "$d/pod.listen" .tcp.friend))" [ "$(n "$d/pod.listen" .tcp.friend)" -gt 0 ]
	check "$1: the pod's listener got nothing from foe (UDP $(n "$d/pod.listen" .udp.foe), TCP $(n "$d/pod.listen" .tcp.foe); foe sent $(n "$d/foe.send" .sent))" \
		[ "$(n "$d/pod.listen" .udp.foe)" = 0 -a "$(n "$d/pod.listen" .tcp.foe)" = 0 -a "$(n "$d/foe.send" .sent)" -gt 20 ]
	check "$1: no connect of foe's ever succeeded" [ "$(n "$d/foe.send" .tcp_ok)" = 0 ]
	check "$1: friend received the pod's packets ($(n "$d/friend.listen" ".udp[\"$1\"]"))" [ "$(n "$d/friend.listen" ".udp[\"$1\"]")" -gt 0 ]
	check "$1: foe received nothing from the pod (UDP $(n "$d/foe.listen" ".udp[\"$1\"]"), TCP $(n "$d/foe.listen" ".tcp[\"$1\"]"); the pod sent $(n "$d/pod.send-foe" .sent))" \
		[ "$(n "$d/foe.listen" ".udp[\"$1\"]")" = 0 -a "$(n "$d/foe.listen" ".tcp[\"$1\"]")" = 0 -a "$(n "$d/pod.send-foe" .sent)" -gt 20 ]
}

echo "== control: bridge + host-local without netpol-cni (a window exists)"
conflist plain "$STATE/conf/plain.conflist" none
leg control "$STATE/conf/plain.conflist" 10.99.0.60
check "control: foe's packets reach an unguarded pod ($(n "$STATE/control/pod.listen" .udp.foe))" [ "$(n "$STATE/control/pod.listen" .udp.foe)" -gt 0 ]

echo "== no policyd: netpol-cni applies under the lock itself"
leg self "$CONF" 10.99.0.50
assert_guarded self
check "self: the ADD was enforced by the plugin itself (netpol-cni's log)" \
	sh -c "jq -r 'select(.plugin == \"netpol-cni\" and .command == \"ADD\" and .containerID == \"self\") | .stderr' $CNIRUN_LOG | grep -q 'enforced by this plugin'"

echo "== policyd hangs: ADD fails closed"
python3 - "$STATE/hung.sock" <<'EOF' &
import socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM); s.bind(sys.argv[1]); s.listen(8)
conns = []
while True:
    c, _ = s.accept(); conns.append(c)   # accepts, reads nothing, never answers
EOF
hung=$!
for i in $(seq 50); do [ -S "$STATE/hung.sock" ] && break; sleep 0.02; done
conflist cnitest "$STATE/conf/hung.conflist" "\"policydSocket\": \"$STATE/hung.sock\", \"timeout\": 0.5"
leg hung "$STATE/conf/hung.conflist" 10.99.0.51
kill $hung; wait $hung 2>/dev/null
check "hung: ADD failed" [ "$(cat "$STATE/hung/add.rc")" = failed ]
check "hung: with code 11 (try again later)" [ "$(jq -r .code "$STATE/hung/add.out")" = 11 ]
check "hung: no record left" [ ! -e "$NPS/endpoints/cnitest/hung-eth0.json" ]
check "hung: no interface left in the pod" [ -z "$(ip -n "$T"hung -o link show eth0 2>/dev/null)" ]
check "hung: no lease left" [ -z "$(grep -l '^hung' "$STATE"/ipam/cnitest/* 2>/dev/null)" ]
check "hung: the kernel never dispatched the address" sh -c "! ip netns exec $NODE nft list map inet netpol ing4 | grep -q '10.99.0.51 '"

if [ -x "$CNI_BUILD/policyd" ]; then
	echo "== policyd running: the fast path"
	. "$(dirname "$0")/policyd.sh"
	check "policyd started (first sync done)" policyd_start "$NODE" "$POL" "$NPS"
	leg fast "$CONF" 10.99.0.52
	assert_guarded fast
	check "fast: the ADD was enforced by policyd (netpol-cni's log)" policyd_synced fast
	policyd_stop
else
	echo "NOTE: $CNI_BUILD/policyd is not built; the fast-path leg did not run"
fi
finish
