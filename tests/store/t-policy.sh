#!/bin/sh
# One policy written once to the store reaches every host and is enforced where its pod lives:
# three hosts (lib/etcd.sh), c1 (app=client) on h1, c2 (app=server) on h2, c3 (app=other) on
# h3, attached with --pod/--labels. `netpol store put` writes a NetworkPolicy selecting c2; only
# h2 isolates c2 (its record names node h2; every policyd runs --node hN), and the peers are
# the pods of the other hosts, which each policyd learned by watch. Checks, by real TCP
# connections across hosts over IPv4 and IPv6: before the policy everything connects; after it
# c1 -> c2 connects and c3 -> c2 does not; h1 and h3 dispatch nothing for c2; a changed policy
# (put again) lets c3 in; `store rm` opens everything again; a put with an error writes
# nothing; `store ls`; `netpol render --store` sees every host's pods.
. "$(dirname "$0")/../lib/netns.sh"
. "$(dirname "$0")/../lib/etcd.sh"
C1=${T}c1 C2=${T}c2 C3=${T}c3
mkns $C1 $C2 $C3
etcd_up
for i in 1 2 3; do pd_start $i; done
for i in 1 2 3; do pd_ready $i || exit 1; done
check "create the overlay" q nn 1 create ov --driver overlay --vni 42 --subnet 10.99.70.0/24 \
	--subnet fd99:70::/64
check "attach c1 (app=client) on h1" q nn 1 attach ov --netns $C1 --pod default/c1 --labels app=client
check "attach c2 (app=server) on h2" q nn 2 attach ov --netns $C2 --pod default/c2 --labels app=server
check "attach c3 (app=other) on h3" q nn 3 attach ov --netns $C3 --pod default/c3 --labels app=other
A2=$(addr_of 1 ov $C2 4) A26=$(addr_of 1 ov $C2 6)
check "before any policy: c3 -> c2" tcp $C3 $C2 "$A2" 8080

POL=$STATE/policy
mkdir -p "$POL"
server_policy() { # FROM_APP...: c2 takes TCP 8080-8099 from these apps only
	{
		echo "apiVersion: networking.k8s.io/v1"
		echo "kind: NetworkPolicy"
		echo "metadata: {name: server-in, namespace: default}"
		echo "spec:"
		echo "  podSelector: {matchLabels: {app: server}}"
		echo "  ingress:"
		echo "  - from:"
		for a in "$@"; do echo "    - podSelector: {matchLabels: {app: $a}}"; done
		echo "    ports: [{port: 8080, endPort: 8099, protocol: TCP}]"
	} >"$POL/server.yaml"
}
server_policy client
store() { ip netns exec "$H1" "$NETPOL" store "$@" --store "$STORE"; }
check "netpol store put (once, from h1)" q store put "$POL"
check "store ls names it" sh -c "ip netns exec $H1 $NETPOL store ls --store $STORE | grep -qx default/NetworkPolicy/server-in"
# enforced on h2 as soon as its watch delivered it: poll the deny, then check the rest
denied_now() { denied "$C3" "$C2" "$A2" 8081; }
check "c3 -> c2 denied (IPv4, h3 -> h2)" poll 5 denied_now
echo "  (denied ${POLL_MS} ms after the put returned, counting the probes)"
check "c1 -> c2 allowed (IPv4, h1 -> h2)" tcp $C1 $C2 "$A2" 8082
check "c1 -> c2 allowed (IPv6)" tcp $C1 $C2 "$A26" 8083
check "c3 -> c2 denied (IPv6)" denied $C3 $C2 "$A26" 8084
in_map() { # N ADDR: host N's ingress dispatch maps hold ADDR
	ip netns exec "$(host $1)" nft list table inet netpol 2>/dev/null | grep -A3 'map ing' | grep -q "$2"
}
check "h2 dispatches c2's address" in_map 2 "$A2"
check "h1 does not (c2 does not live there)" fails in_map 1 "$A2"
check "h3 does not" fails in_map 3 "$A2"

server_policy client other
check "put the changed policy" q store put "$POL"
check "c3 -> c2 now allowed" poll 5 tcp $C3 $C2 "$A2" 8085
check "c1 -> c2 still allowed" tcp $C1 $C2 "$A26" 8086

echo "kind: NetworkPolicy" >"$POL/broken.yaml"
check "a put with an error fails" fails q store put "$POL"
check "and writes nothing" sh -c "[ \$(ip netns exec $H1 $NETPOL store ls --store $STORE | wc -l) = 1 ]"
rm "$POL/broken.yaml"

check "store rm" store rm default/NetworkPolicy/server-in
server_policy client # what rm undid must not come back from anywhere: deny c3 is gone
check "c3 -> c2 allowed again on all ports" poll 5 tcp $C3 $C2 "$A2" 9000
check "store rm of what is not there fails" fails store rm default/NetworkPolicy/server-in

rendered() { # every host's pods, from the store: c2's address in h2's render
	ip netns exec "$H2" "$NETPOL" render "$POL" --node h2 --state-dir "$STATE/h2" --store "$STORE" |
		grep -q "$A2"
}
check "render --store on h2 dispatches c2 (a pod from the store's records)" rendered
for i in 1 2 3; do check "policyd h$i exits cleanly" pd_exit_ok $i; done
finish
