#!/bin/sh
# bridge driver: dual-stack network, two containers talk (IPv4 and IPv6), a container reaches
# its gateway, hairpin is set on the port, --masquerade rewrites outbound sources through our own
# `table ip netpol-nat`, a static address is honoured, a taken one is refused with nothing left
# behind, detach works after the container netns is gone, rm removes everything.
. "$(dirname "$0")/../lib/netns.sh"
NODE=${T}node A=${T}a B=${T}b C=${T}c D=${T}d E=${T}e OUT=${T}out
mkns $NODE $A $B $C $D $E $OUT
# read only: the machine's own forwarding setting must be the same at the end
ROOT_FWD=$(cat /proc/sys/net/ipv4/ip_forward)

check "create" np $NODE create web --driver bridge --subnet 10.99.31.0/24 --subnet fd99:31::/64 \
	--hairpin --masquerade
check "attach a" np $NODE attach web --netns $A --pod default/a --labels app=a,tier=fe
check "attach b with static ip" np $NODE attach web --netns $B --ip 10.99.31.77
A4=$(ep_addr $NODE web $A 4) A6=$(ep_addr $NODE web $A 6) B4=$(ep_addr $NODE web $B 4) B6=$(ep_addr $NODE web $B 6)
check "a got the first free address" [ "$A4" = 10.99.31.2 ]
check "b got its static address" [ "$B4" = 10.99.31.77 ]
check "b got an IPv6 address" [ -n "$B6" ]
check "a -> b tcp over IPv4" tcp $A $B "$B4" 8080
check "b -> a tcp over IPv6" tcp $B $A "$A6" 8081
check "a reaches its gateway" tcp $A $NODE 10.99.31.1 8082
check "a has a default route via the gateway" \
	sh -c "ip -n $A route show default | grep -q 'via 10.99.31.1 dev eth0'"
check "a has an IPv6 default route" sh -c "ip -n $A -6 route show default | grep -q 'via fd99:31::1'"
HOSTIF=$(np $NODE inspect web | jq -r --arg id $A '.[0].Containers[$id].HostInterface')
check "host side port has hairpin on" sh -c "ip -n $NODE -d link show $HOSTIF | grep -q 'hairpin on'"
check "forwarding on in the node netns only" \
	[ "$(ip netns exec $NODE cat /proc/sys/net/ipv4/ip_forward)" = 1 ]
inspect_ok() {
	np $NODE inspect web | jq -e --arg id $A '.[0].Containers[$id] |
		.Pod.name == "a" and .Labels.tier == "fe" and .Interface == "eth0"' >/dev/null
}
check "inspect records pod and labels" inspect_ok
ls_ok() { np $NODE ls | grep -q '^web  *bridge .* 2$'; }
check "ls lists the network with 2 endpoints" ls_ok

# Masquerade: an 'outside' host on a link of the node sees the node's address, not the pod's.
ip -n $NODE link add up0 type veth peer name up0 netns $OUT
ip -n $NODE addr add 10.99.250.1/30 dev up0; ip -n $NODE link set up0 up
ip -n $OUT addr add 10.99.250.2/30 dev up0; ip -n $OUT link set up0 up
ip netns exec $OUT socat -T5 TCP-LISTEN:9000,reuseaddr SYSTEM:'echo $SOCAT_PEERADDR' 2>/dev/null &
sleep 0.3
SEEN=$(ip netns exec $A timeout 5 socat -T3 - TCP:10.99.250.2:9000 </dev/null)
check "masquerade: outside sees the node address ($SEEN)" [ "$SEEN" = 10.99.250.1 ]
ip netns exec $B socat -T5 TCP-LISTEN:9001,reuseaddr SYSTEM:'echo $SOCAT_PEERADDR' 2>/dev/null &
sleep 0.3
SEEN=$(ip netns exec $A timeout 5 socat -T3 - TCP:$B4:9001 </dev/null)
check "masquerade leaves traffic inside the bridge alone (b sees $SEEN)" [ "$SEEN" = "$A4" ]
check "nat table is ours" sh -c "ip netns exec $NODE nft list table ip netpol-nat | grep -q masquerade"

# A taken static address is refused and leaves no interface, lease or record.
LINKS=$(ip -n $NODE -o link | wc -l)
ERR=$(np $NODE attach web --netns $C --ip 10.99.31.77 2>&1); RC=$?
check "taken static ip refused ($ERR)" sh -c "[ $RC != 0 ] && echo '$ERR' | grep -q 'already in use by $B'"
check "failed attach left no interface in the node" [ "$(ip -n $NODE -o link | wc -l)" = "$LINKS" ]
check "failed attach left no interface in the container" sh -c "! ip -n $C link show eth0 2>/dev/null"
check "failed attach left no lease" sh -c "! grep -q '$C' $STATE/ipam/web.json"
check "failed attach left no record" [ ! -e "$STATE/endpoints/web/$C.json" ]
# A failure after the veth exists: IPv6 is disabled in d, so its IPv6 address is refused by
# the kernel; the veth pair, the leases and the record must all go, and the kernel says why.
ip netns exec $D sh -c 'echo 1 > /proc/sys/net/ipv6/conf/default/disable_ipv6'
ERR=$(np $NODE attach web --netns $D 2>&1); RC=$?
check "attach into an IPv6-less netns fails with the kernel's reason ($ERR)" \
	sh -c "[ $RC != 0 ] && echo '$ERR' | grep -q 'add address fd99:31::'"
check "...and leaves no interface in the node" [ "$(ip -n $NODE -o link | wc -l)" = "$LINKS" ]
check "...nor in the container" fails ip -n $D link show eth0
check "...nor a lease" fails grep -q "$D" $STATE/ipam/web.json
check "...nor a record" [ ! -e "$STATE/endpoints/web/$D.json" ]
ERR=$(np $NODE attach web --netns $C --ip 10.99.31.1 2>&1); RC=$?
check "gateway as static ip refused" sh -c "[ $RC != 0 ] && echo '$ERR' | grep -q reserved"
ERR=$(np $NODE attach web --netns $C --ip 10.99.32.5 2>&1); RC=$?
check "static ip outside the subnet refused" sh -c "[ $RC != 0 ] && echo '$ERR' | grep -q 'not in any subnet'"
check "attach with a missing netns fails" fails np $NODE attach web --netns ${T}nope 2>/dev/null
check "same id twice refused" fails np $NODE attach web --netns $A 2>/dev/null
check "ids derived from netns; leases equal endpoints" \
	[ "$(jq '.leases | length' $STATE/ipam/web.json)" = 4 ]

# Detach after the container netns is gone; the lease comes back.
ip netns del $B
check "detach b after its netns is gone" np $NODE detach web --id $B
check "b's veth is gone from the node" sh -c "[ \$(ip -n $NODE -o link show type veth | wc -l) = 2 ]"
check "b's leases released" sh -c "! grep -q '\"$B\"' $STATE/ipam/web.json"
check "detach of an unknown id fails" fails np $NODE detach web --id nosuch 2>/dev/null
check "rm refused while a is attached" fails np $NODE rm web 2>/dev/null
check "attach e" np $NODE attach web --netns $E
ip netns del $E
check "rm --force (e's netns already gone)" np $NODE rm web --force
check "bridge and veths gone" sh -c "[ -z \"\$(ip -n $NODE -o link show type bridge)\" ] &&
	[ \$(ip -n $NODE -o link show type veth | wc -l) = 1 ]"
check "a's eth0 gone" sh -c "! ip -n $A link show eth0 2>/dev/null"
check "nat table removed with the last masquerading network" \
	sh -c "! ip netns exec $NODE nft list table ip netpol-nat 2>/dev/null"
check "state cleaned" sh -c "[ ! -e $STATE/networks/web.json ] && [ ! -e $STATE/ipam/web.json ]"
check "the machine's own ip_forward untouched" [ "$(cat /proc/sys/net/ipv4/ip_forward)" = "$ROOT_FWD" ]
finish
