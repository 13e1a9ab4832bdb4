#!/bin/sh
# netpol-cni in main mode: netsetup's four drivers through the plugin (the network defined
# inline in the CNI configuration, created on first ADD), each with real traffic and a policy
# "db accepts only web": web reaches db, other does not. bridge; macvlan (policy inside the
# pods' own netns); overlay (two hosts, one shared state directory, VXLAN underlay); host (no
# interface, never isolated: the node reaches an isolated pod). Results are full CNI results;
# DEL removes interface, lease and record.
[ -n "$BASH_VERSION" ] || exec bash "$0" "$@"
. "$(dirname "$0")/../lib/netns.sh"
. "$(dirname "$0")/lib.sh"

cni_node_up
cni_policy db-from-web <<'EOF'
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: db-from-web, namespace: default}
spec:
  podSelector: {matchLabels: {app: db}}
  ingress: [{from: [{podSelector: {matchLabels: {app: web}}}]}]
EOF

# conf FILE NAME DRIVER_KEYS: a one-plugin network, netpol-cni in main mode
conf() {
	cat >"$1" <<EOF
{ "cniVersion": "1.1.0", "name": "$2", "type": "netpol-cni", "policyDir": "$POL",
  "stateDir": "$NPS", $3 }
EOF
}
# add NODE CONF CID POD APP: ADD with labels through the conf; prints the result
add() {
	jq --arg app "$5" '.labels = {app: $app}' "$2" >"$2.$3"
	NODE=$1 plugin ADD "$2.$3" "$3" "$4" "default/$3"
}
del() { NODE=$1 plugin DEL "$2.$3" "$3" "$4" "default/$3"; }
addr_of() { printf '%s' "$1" | jq -r '[.ips[].address | select(test(":") | not)][0] | sub("/.*"; "")'; }
addr6_of() { printf '%s' "$1" | jq -r '[.ips[].address | select(test(":"))][0] | sub("/.*"; "")'; }

db_web_other() { # LABEL NODE_OF_WEB NODE_OF_DB NODE_OF_OTHER CONF
	lbl=$1; C=$5
	for p in web db other; do cni_pod "$T$lbl$p"; done
	rw=$(add "$2" "$C" "${lbl}web" "$T${lbl}web" web)
	ro=$(add "$4" "$C" "${lbl}other" "$T${lbl}other" other)
	rd=$(add "$3" "$C" "${lbl}db" "$T${lbl}db" db)
	check "$lbl: three ADDs" [ -n "$rw" -a -n "$rd" -a -n "$ro" ]
	check "$lbl: a full result (interface in the sandbox, addresses on it, routes)" \
		[ "$(printf '%s' "$rd" | jq -r '.cniVersion + " " + (.interfaces[.ips[0].interface].sandbox | tostring) + " " + (.routes | length | tostring)')" = "1.1.0 /run/netns/$T${lbl}db 2" ]
	DB=$(addr_of "$rd"); DB6=$(addr6_of "$rd")
}
traffic() { # LABEL
	check "$1: web -> db allowed (IPv4)" tcp "$T${1}web" "$T${1}db" "$DB" 5432
	check "$1: web -> db allowed (IPv6)" tcp "$T${1}web" "$T${1}db" "$DB6" 5432
	check "$1: other -> db denied (IPv4)" denied "$T${1}other" "$T${1}db" "$DB" 5432
	check "$1: other -> db denied (IPv6)" denied "$T${1}other" "$T${1}db" "$DB6" 5432
	check "$1: db -> other allowed (no egress policy)" tcp "$T${1}db" "$T${1}other" "$(addr_of "$ro")" 80
}

echo "== bridge"
conf "$STATE/conf/br.conf" brnet '"driver": "bridge", "subnets": ["10.99.1.0/24", "fd99:1::/64"]'
db_web_other br "$NODE" "$NODE" "$NODE" "$STATE/conf/br.conf"
traffic br
check "br: the bridge network was created from the inline definition" [ -e "$NPS/networks/brnet.json" ]
check "br: DEL db" del "$NODE" "$STATE/conf/br.conf" brdb "$T"brdb
check "br: no record, lease or interface left" [ ! -e "$NPS/endpoints/brnet/brdb-eth0.json" -a \
	"$(jq '[.leases[] | select(. == "brdb-eth0")] | length' "$NPS/ipam/brnet.json")" = 0 -a \
	-z "$(ip -n "$T"brdb -o link show eth0 2>/dev/null)" ]
check "br: DEL again succeeds" del "$NODE" "$STATE/conf/br.conf" brdb "$T"brdb

echo "== macvlan"
ip -n "$NODE" link add mv0 type veth peer name mv1
ip -n "$NODE" link set mv0 up; ip -n "$NODE" link set mv1 up
conf "$STATE/conf/mv.conf" mvnet '"driver": "macvlan", "parent": "mv0", "subnets": ["10.99.2.0/24", "fd99:2::/64"]'
db_web_other mv "$NODE" "$NODE" "$NODE" "$STATE/conf/mv.conf"
traffic mv
check "mv: db's policy lives in its own netns" sh -c "ip netns exec $T""mvdb nft list table inet netpol | grep -q 'ing-default/mvdb'"
check "mv: result has no host-side interface" [ "$(printf '%s' "$rd" | jq '.interfaces | length')" = 1 ]

echo "== overlay (two hosts)"
UL=${T}ul H1=${T}h1 H2=${T}h2
mkns "$UL" "$H1" "$H2"
ip -n "$UL" link add ul type bridge; ip -n "$UL" link set ul up
for i in 1 2; do
	h=${T}h$i
	ip -n "$UL" link add p$i type veth peer name ul0 netns "$h"
	ip -n "$UL" link set p$i master ul up
	ip -n "$h" addr add 10.99.200.$i/24 dev ul0; ip -n "$h" link set ul0 up
	ip netns exec "$h" sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0
done
conf "$STATE/conf/ov.conf" ovnet '"driver": "overlay", "vni": 4343, "peers": ["10.99.200.1", "10.99.200.2"], "subnets": ["10.99.3.0/24", "fd99:3::/64"]'
db_web_other ov "$H1" "$H2" "$H1" "$STATE/conf/ov.conf"
check "ov: h1 learns of db on h2 (netpol net sync)" ip netns exec "$H1" "$NETPOL" net sync ovnet --state-dir "$NPS"
check "ov: db's record says it lives on h2" [ "$(jq -r .host "$NPS/endpoints/ovnet/ovdb-eth0.json")" = 10.99.200.2 ]
traffic ov

echo "== host"
conf "$STATE/conf/host.conf" hostnet '"driver": "host"'
rh=$(add "$NODE" "$STATE/conf/host.conf" agent "$NODE" db)
check "host: ADD returns a result without interfaces or addresses" [ "$(printf '%s' "$rh" | jq -c '[.interfaces, .ips]')" = '[[],[]]' ]
check "host: recorded as a host endpoint" [ "$(jq -r .driver "$NPS/endpoints/hostnet/agent-eth0.json")" = host ]
check "host: app=db on the host network is never isolated" sh -c "! ip netns exec $NODE nft list map inet netpol ing4 | grep -q agent"
# the node (where host-network pods live) reaches an isolated pod; another pod does not
cni_pod "$T"brdb2
rd2=$(add "$NODE" "$STATE/conf/br.conf" brdb2 "$T"brdb2 db)
check "host: the node reaches an isolated bridge pod" tcp "$NODE" "$T"brdb2 "$(addr_of "$rd2")" 5432
check "host: ...which other pods cannot reach" denied "$T"brother "$T"brdb2 "$(addr_of "$rd2")" 5432
check "host: DEL" del "$NODE" "$STATE/conf/host.conf" agent "$NODE"
check "host: record gone" [ ! -e "$NPS/endpoints/hostnet/agent-eth0.json" ]
finish
