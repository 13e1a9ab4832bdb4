#!/bin/sh
# 50 CNI operations at once: netpol-cni in main mode (netsetup's bridge driver and IPAM; no
# policyd: each plugin applies under the state directory's lock), run directly as a runtime
# runs a one-plugin network. First 50 ADDs in parallel, then 25 DELs and 25 new ADDs in
# parallel, then 50 DELs. (The reference bridge plugin, at 3-5 s per call with 50 running at
# once on this 2-core machine, would make this a minutes-long test of itself; t-chain.sh covers
# the chain.) After each round: every address is unique, one record per live pod,
# and `netpol status` finds the kernel equal to a fresh render of the policy directory plus the
# records that remain (the same check `netpol apply` passes).
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
CONF="$STATE/conf/par.conf"
# 50 writers queue on one lock: give each the time the whole queue may take
cat >"$CONF" <<EOF
{ "cniVersion": "1.0.0", "name": "cnitest", "type": "netpol-cni", "driver": "bridge",
  "subnets": ["10.99.0.0/24", "fd99::/64"], "policyDir": "$POL", "stateDir": "$NPS",
  "timeout": 60, "labels": {"tier": "par"} }
EOF
for i in $(seq 1 75); do cni_pod "$T$i"; done

op() { # ADD|DEL I
	if [ $((${2} % 2)) = 0 ]; then app=db; else app=web; fi
	jq --arg app $app '.labels.app = $app' "$CONF" >"$STATE/conf/c$2.conf"
	plugin "$1" "$STATE/conf/c$2.conf" "c$2" "$T$2" "default/p$2" >"$STATE/$1-$2.out" 2>"$STATE/$1-$2.err" ||
		echo "$1 $2" >>"$STATE/failed"
}
export -f op plugin
export CONF STATE T NODE CNI_PATH CNI_PLUGIN

verify() { # ROUND LIVE_IDS...
	round=$1; shift
	check "$round: every operation succeeded" [ ! -s "$STATE/failed" ]
	[ -s "$STATE/failed" ] && { sed 's/^/    /' "$STATE/failed"; cat "$STATE"/ADD-*.out | head -5; }
	n=$(ls "$NPS/endpoints/cnitest/" | wc -l)
	check "$round: main-mode results carry both addresses" [ "$(jq -s '[.[] | .ips | length] | unique' "$STATE"/ADD-*.out | tr -d ' \n')" = "[2]" ]
	check "$round: one record per live pod ($n, want $#)" [ "$n" = $# ]
	dups=$(for i in "$@"; do jq -r '.addresses[]' "$NPS/endpoints/cnitest/c$i-eth0.json"; done | sort | uniq -d | wc -l)
	addrs=$(for i in "$@"; do jq -r '.addresses[]' "$NPS/endpoints/cnitest/c$i-eth0.json"; done | wc -l)
	check "$round: $addrs addresses, none twice" [ "$dups" = 0 -a "$addrs" = $(($# * 2)) ]
	check "$round: kernel equals a fresh render (netpol status in sync)" \
		ip netns exec "$NODE" "$NETPOL" status "$POL" --state-dir "$NPS"
	dbs=0; for i in "$@"; do [ $((i % 2)) = 0 ] && dbs=$((dbs + 1)); done
	got=$(ip netns exec "$NODE" nft -j list map inet netpol ing4 | jq '[.nftables[] | select(.map) | .map.elem // [] | length] | add')
	check "$round: $dbs isolated pods in the IPv4 ingress map ($got)" [ "$got" = "$dbs" ]
}

start=$(date +%s)
seq 1 50 | xargs -P 50 -I{} bash -c 'op ADD {}'
echo "round 1 (50 parallel ADDs): $(( $(date +%s) - start ))s"
verify "50 ADDs" $(seq 1 50)

start=$(date +%s)
{ seq 1 25 | sed 's/^/DEL /'; seq 51 75 | sed 's/^/ADD /'; } | xargs -P 50 -L1 bash -c 'op $0 $1'
echo "round 2 (25 DELs + 25 ADDs in parallel): $(( $(date +%s) - start ))s"
verify "25 DELs + 25 ADDs" $(seq 26 75)
# DEL of them all: nothing left
seq 26 75 | xargs -P 50 -I{} bash -c 'op DEL {}'
check "DEL of all 50 in parallel: no record left" [ -z "$(ls "$NPS/endpoints/cnitest/")" ]
check "...no lease left" [ "$(jq '.leases | length' "$NPS/ipam/cnitest.json")" = 0 ]
check "...no veth left on the node" [ -z "$(ip -n "$NODE" -o link show type veth)" ]
check "...kernel in sync (empty maps)" ip netns exec "$NODE" "$NETPOL" status "$POL" --state-dir "$NPS"
finish
