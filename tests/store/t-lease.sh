#!/bin/sh
# Liveness by lease: a host's endpoint records and its node key carry the lease its agent keeps
# alive. Three hosts (lib/etcd.sh), h2's policyd with --lease-ttl 3s, c1 (app=a) on h1 and c2
# (app=b) on h2, a policy from the store that lets app=b into c1 (so c2's addresses are in h1's
# peer sets). Checks: h2's agent SIGKILLed, c2 leaves h1's overlay programming (FDB, neighbour
# and flood entries) and h1's peer sets within the TTL plus 2 s; its addresses stay taken in
# the store (never handed out again by themselves), `netpol net gc` keeps them inside the grace
# and releases them after it; h2's agent restarted, it puts c2 back under a new lease, takes its
# addresses again, and h1 reaches c2 again.
. "$(dirname "$0")/../lib/netns.sh"
. "$(dirname "$0")/../lib/etcd.sh"
C1=${T}c1 C2=${T}c2
mkns $C1 $C2
etcd_up
pd_start 1
pd_start 2 --lease-ttl 3s
pd_start 3
for i in 1 2 3; do pd_ready $i || exit 1; done
check "create the overlay" q nn 1 create ov --driver overlay --vni 42 --subnet 10.99.70.0/24 \
	--subnet fd99:70::/64
check "attach c1 (app=a) on h1" q nn 1 attach ov --netns $C1 --pod default/c1 --labels app=a
check "attach c2 (app=b) on h2" q nn 2 attach ov --netns $C2 --pod default/c2 --labels app=b
A1=$(addr_of 1 ov $C1 4) A2=$(addr_of 1 ov $C2 4) A26=$(addr_of 1 ov $C2 6) M2=$(mac_of $C2)
mkdir -p "$STATE/policy"
cat >"$STATE/policy/a.yaml" <<'YAML'
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: a-in, namespace: default}
spec:
  podSelector: {matchLabels: {app: a}}
  ingress:
  - from: [{podSelector: {matchLabels: {app: b}}}]
YAML
check "store put a policy letting app=b into c1" \
	q ip netns exec "$H1" "$NETPOL" store put "$STATE/policy" --store "$STORE"
peer_on_h1() { ip netns exec "$H1" nft list table inet netpol 2>/dev/null | grep -q "$1"; }
check "c2's address is in h1's peer sets" poll 5 peer_on_h1 "$A2"
check "c2 -> c1 allowed" tcp $C2 $C1 "$A1" 8080
check "h1 has c2's FDB entry" fdb_has 1 "$M2" 10.99.250.2

pd_kill 2
t0=$(date +%s%N)
check "c2's FDB entry leaves h1 within the 3 s TTL + 2 s" poll 5 fdb_gone 1 "$M2"
echo "  (gone $(( ($(date +%s%N) - t0) / 1000000 )) ms after h2's agent was killed)"
check "and its neighbour entries (IPv4, IPv6)" sh -c "! ip -n $H1 neigh show dev npvx42 | grep -q '$M2'"
check "and h1's flood entry to h2" fails sh -c "ip netns exec $H1 bridge fdb show dev npvx42 |
	grep -q '^00:00:00:00:00:00 dst 10.99.250.2 '"
check "and h1's peer sets (IPv4)" poll 2 fails peer_on_h1 "$A2"
check "and h1's peer sets (IPv6)" fails peer_on_h1 "$A26"
ipam_has() { etcdctl_ get "/netpol/ipam/ov/$1" --print-value-only | grep -q "\"$C2\""; }
check "c2's addresses stay taken in the store" ipam_has "$A2"
nn 1 gc >"$STATE/gc.out"
sed 's/^/  /' "$STATE/gc.out"
check "gc keeps them inside the grace" grep -q "^ov $A2 kept (owner $C2): host h2 gone" "$STATE/gc.out"
check "and says when the host went" grep -q "gone for [0-9]*s, under the grace" "$STATE/gc.out"
sleep 1
nn 1 gc --grace 1s >"$STATE/gc2.out"
check "gc with a grace it has outlasted releases them" \
	grep -q "^ov $A2 released (owner $C2): host h2 gone" "$STATE/gc2.out"
check "their keys are gone" fails ipam_has "$A2"

old=$(jq -r .lease "$STATE/h2/agent.json")
pd_start 2 --lease-ttl 3s
new_lease() { [ "$(jq -r .lease "$STATE/h2/agent.json" 2>/dev/null)" != "$old" ]; }
check "h2's agent registers again under a new lease" poll 10 new_lease
check "c2 comes back to h1" poll 5 fdb_has 1 "$M2" 10.99.250.2
check "its agent took its released addresses back" poll 5 ipam_has "$A2"
check "c2 -> c1 again" poll 5 tcp $C2 $C1 "$A1" 8081
check "c2 is in h1's peer sets again" poll 5 peer_on_h1 "$A2"
for i in 1 2 3; do check "policyd h$i exits cleanly" pd_exit_ok $i; done
finish
