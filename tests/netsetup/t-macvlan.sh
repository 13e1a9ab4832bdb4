#!/bin/sh
# macvlan driver: sub-interfaces of --parent created inside the containers with address and
# gateway route; bridge-mode siblings talk, private-mode siblings cannot; vepa is selectable; a
# bad parent is refused at create and a vanished parent fails the attach leaving nothing behind;
# detach works after the container netns is gone.
. "$(dirname "$0")/../lib/netns.sh"
NODE=${T}node A=${T}a B=${T}b C=${T}c D=${T}d E=${T}e
mkns $NODE $A $B $C $D $E
# The kernel has no dummy links: a veth end serves as the parent (its peer stays in the node).
for p in mvb mvp mvv mvg; do
	ip -n $NODE link add ${p}0 type veth peer name ${p}1
	ip -n $NODE link set ${p}0 up; ip -n $NODE link set ${p}1 up
done

check "create on a missing parent refused" fails np $NODE create bad --driver macvlan \
	--subnet 10.99.40.0/24 --parent nosuch0
check "create bridge-mode macvlan" np $NODE create mvl --driver macvlan --subnet 10.99.41.0/24 \
	--subnet fd99:41::/64 --parent mvb0
check "attach a" np $NODE attach mvl --netns $A
check "attach b" np $NODE attach mvl --netns $B
A4=$(ep_addr $NODE mvl $A 4) B4=$(ep_addr $NODE mvl $B 4) B6=$(ep_addr $NODE mvl $B 6)
check "a's eth0 is a macvlan in bridge mode" sh -c "ip -n $A -d link show eth0 | grep -q 'macvlan mode bridge'"
check "a has the default route via the gateway" \
	sh -c "ip -n $A route show default | grep -q 'via 10.99.41.1 dev eth0'"
check "no macvlan left in the node netns" sh -c "[ -z \"\$(ip -n $NODE -o link show type macvlan)\" ]"
check "a -> b tcp over IPv4 ($A4 -> $B4)" tcp $A $B "$B4" 8080
check "a -> b tcp over IPv6" tcp $A $B "$B6" 8081
check "b -> a tcp" tcp $B $A "$A4" 8082

check "create private-mode macvlan" np $NODE create mvp --driver macvlan --subnet 10.99.42.0/24 \
	--parent mvp0 --mode private
check "attach c (private)" np $NODE attach mvp --netns $C
check "attach d (private)" np $NODE attach mvp --netns $D
check "c's eth0 is in private mode" sh -c "ip -n $C -d link show eth0 | grep -q 'macvlan mode private'"
check "private siblings cannot talk" fails tcp $C $D "$(ep_addr $NODE mvp $D 4)" 8083

check "create vepa-mode macvlan" np $NODE create mvv --driver macvlan --subnet 10.99.43.0/24 \
	--parent mvv0 --mode vepa --mtu 1400
check "attach e (vepa)" np $NODE attach mvv --netns $E --ifname net1
check "e's net1 is vepa with mtu 1400" \
	sh -c "ip -n $E -d link show net1 | grep -q 'mtu 1400' && ip -n $E -d link show net1 | grep -q 'macvlan mode vepa'"

# A parent that vanished after create: the attach fails and leaves no lease, record or link.
check "create on mvg0" np $NODE create mvg --driver macvlan --subnet 10.99.44.0/24 --parent mvg0
ip -n $NODE link del mvg0
check "detach e from mvv" np $NODE detach mvv --id $E
ERR=$(np $NODE attach mvg --netns $E 2>&1); RC=$?
check "attach on a vanished parent fails ($ERR)" sh -c "[ $RC != 0 ] && echo '$ERR' | grep -q 'parent'"
check "no interface left in e" sh -c "! ip -n $E link show eth0 2>/dev/null && ! ip -n $E link show net1 2>/dev/null"
check "no lease left" sh -c "[ ! -s $STATE/ipam/mvg.json ] || [ \$(jq '.leases | length' $STATE/ipam/mvg.json) = 0 ]"
check "no record left" [ ! -e "$STATE/endpoints/mvg/$E.json" ]

ip netns del $B
check "detach b after its netns is gone" np $NODE detach mvl --id $B
check "detach a (macvlan removed from a)" np $NODE detach mvl --id $A
check "a has no eth0" fails ip -n $A link show eth0
check "leases of mvl all released" [ "$(jq '.leases | length' $STATE/ipam/mvl.json)" = 0 ]
check "rm all" np $NODE rm mvl mvp mvv mvg --force
check "parents untouched" sh -c "ip -n $NODE link show mvb0 >/dev/null && ip -n $NODE link show mvp0 >/dev/null"
finish
