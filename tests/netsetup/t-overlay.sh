#!/bin/sh
# overlay driver: three simulated hosts (h1, h2, h3: one netns each) joined by an underlay
# bridge in a fourth netns. One VXLAN network (VNI 4242) shared through one state directory
# (the cluster store); peers from --peer plus Node objects (JSON and YAML) in --nodes DIR.
# Checks: vxlan device parameters, flood entries per peer, FDB + neighbour entries for remote
# endpoints, container MTU = underlay MTU - 50, containers on different hosts talk, stale
# entries go on sync after a detach, remote detach is refused, rm --local per host.
. "$(dirname "$0")/../lib/netns.sh"
UL=${T}ul H1=${T}h1 H2=${T}h2 H3=${T}h3 C1=${T}c1 C2=${T}c2 C3=${T}c3 C4=${T}c4
mkns $UL $H1 $H2 $H3 $C1 $C2 $C3 $C4
ip -n $UL link add ul type bridge; ip -n $UL link set ul up
i=0
for h in $H1 $H2 $H3; do
	i=$((i + 1))
	ip -n $UL link add p$i type veth peer name ul0 netns $h
	ip -n $UL link set p$i master ul up
	ip -n $h link set ul0 mtu 1480 up     # a non-default underlay MTU: containers get 1430
	ip -n $h addr add 10.99.200.$i/24 dev ul0
done
NODES=$STATE/nodes; mkdir -p $NODES
cat > $NODES/h2.json <<JSON
{"apiVersion":"v1","kind":"Node","metadata":{"name":"h2"},
 "status":{"addresses":[{"type":"Hostname","address":"h2"},{"type":"InternalIP","address":"10.99.200.2"}]}}
JSON
cat > $NODES/h3.yaml <<YAML
apiVersion: v1
kind: Node
metadata: {name: h3}
status:
  addresses:
  - {type: InternalIP, address: 10.99.200.3}
YAML

check "create on h1" np $H1 create ov --driver overlay --subnet 10.99.70.0/24 --subnet fd99:70::/64 --vni 4242 \
	--peer 10.99.200.1 --nodes $NODES
check "attach c1 on h1" np $H1 attach ov --netns $C1
check "attach c2 on h2" np $H2 attach ov --netns $C2
check "attach c3 on h3" np $H3 attach ov --netns $C3
# h1 and h2 learn of the endpoints attached after theirs (the store is the control plane).
check "sync h1" np $H1 sync ov
check "sync h2" np $H2 sync ov
C1A=$(ep_addr $H1 ov $C1 4) C2A=$(ep_addr $H1 ov $C2 4) C3A=$(ep_addr $H1 ov $C3 4)
C2MAC=$(jq -r .mac $STATE/endpoints/ov/$C2.json)
check "addresses unique across hosts ($C1A $C2A $C3A)" \
	[ "$(printf '%s\n' $C1A $C2A $C3A | sort -u | wc -l)" = 3 ]
VX=$(ip -n $H1 -d link show npvx4242)
check "vxlan id/local/port/nolearning/proxy" sh -c "echo '$VX' | grep -q 'vxlan id 4242 local 10.99.200.1 dev ul0' &&
	echo '$VX' | grep -q 'dstport 4789' && echo '$VX' | grep -q nolearning && echo '$VX' | grep -q proxy"
check "vxlan enslaved to the bridge" sh -c "echo '$VX' | grep -q 'master np-ov'"
check "container MTU is underlay - 50" sh -c "ip -n $C1 link show eth0 | grep -q 'mtu 1430'"
FDB=$(ip netns exec $H1 bridge fdb show dev npvx4242)
check "flood entry to h2" sh -c "echo '$FDB' | grep -q '00:00:00:00:00:00 dst 10.99.200.2'"
check "flood entry to h3" sh -c "echo '$FDB' | grep -q '00:00:00:00:00:00 dst 10.99.200.3'"
check "no flood entry to itself" fails sh -c "echo '$FDB' | grep -q 'dst 10.99.200.1'"
check "c2's MAC -> h2 on h1" sh -c "echo '$FDB' | grep -q '$C2MAC dst 10.99.200.2'"
check "c2's neighbour entry on h1" \
	sh -c "ip -n $H1 neigh show dev npvx4242 | grep -q '$C2A lladdr $C2MAC PERMANENT'"
check "c1 -> c2 (h1 -> h2)" tcp $C1 $C2 "$C2A" 8080
check "c2 -> c3 (h2 -> h3)" tcp $C2 $C3 "$C3A" 8081
check "c3 -> c1 (h3 -> h1)" tcp $C3 $C1 "$C1A" 8082
check "c1 -> c3 over IPv6 (h1 -> h3)" tcp $C1 $C3 "$(ep_addr $H1 ov $C3 6)" 8084
check "traffic went through the underlay" \
	sh -c "[ \$(ip -n $H1 -s -j link show npvx4242 | jq '.[0].stats64.tx.packets') -gt 0 ]"
# A bulk transfer larger than one MTU: fragmentation would lose it, the MTU keeps it whole.
ip netns exec $C2 socat -T5 TCP-LISTEN:9000,reuseaddr SYSTEM:'head -c 200000 /dev/zero' &
sleep 0.3
N=$(ip netns exec $C1 timeout 10 socat -T5 - TCP:$C2A:9000 </dev/null | wc -c)
check "200 kB across hosts ($N bytes)" [ "$N" = 200000 ]

check "detach of c2 from h1 refused (it lives on h2)" fails np $H1 detach ov --id $C2
check "detach c2 on h2" np $H2 detach ov --id $C2
check "sync h1 drops c2's entry" np $H1 sync ov
check "c2's MAC gone from h1's vxlan fdb" \
	fails sh -c "ip netns exec $H1 bridge fdb show dev npvx4242 | grep -q '$C2MAC dst'"
check "attach c4 on h2 reuses the address" np $H2 attach ov --netns $C4
check "c4 has c2's old address" [ "$(ep_addr $H2 ov $C4 4)" = "$C2A" ]
np $H1 sync ov >/dev/null
check "h1 now maps c2's old address to c4's MAC" sh -c "ip -n $H1 neigh show dev npvx4242 |
	grep -q '$C2A lladdr $(jq -r .mac $STATE/endpoints/ov/$C4.json) PERMANENT'"
# c1 itself still caches c2's MAC for that address until its neighbour entry goes stale (as it
# would after any address reuse); flush it instead of waiting.
ip -n $C1 neigh flush dev eth0
check "c1 -> c4" tcp $C1 $C4 "$C2A" 8083

check "rm from h1 refused while endpoints exist" fails np $H1 rm ov
check "rm --local --force on h2" np $H2 rm ov --local --force
check "h2's side gone" sh -c "! ip -n $H2 link show npvx4242 2>/dev/null && ! ip -n $H2 link show np-ov 2>/dev/null"
check "c4 detached by it" fails ip -n $C4 link show eth0
check "definition still there" np $H1 inspect ov
check "rm --local --force on h3" np $H3 rm ov --local --force
check "rm --force on h1" np $H1 rm ov --force
check "all state gone" sh -c "[ -z \"\$(find $STATE/endpoints $STATE/networks $STATE/ipam -type f)\" ]"
check "h1's side gone" fails ip -n $H1 link show npvx4242
finish
