#!/bin/sh
# netpol-cni chained after Debian's reference bridge + host-local, driven by a spec-following
# runtime (tests/tools/cnirun.py) in a node netns, for every cniVersion netpol-cni accepts:
# results in the version asked (prevResult passed through), pod identity and labels (CNI_ARGS,
# runtimeConfig, a Pod object), real TCP over IPv4 and IPv6 allowed and denied as the policy
# says, CHECK (and CHECK failing when the pod's map entry is gone), DEL idempotent (again,
# after the netns is gone, without a cached result), STATUS and GC (1.1.0), VERSION, and the
# error object for bad configurations and environments. No policyd runs: the plugin applies.
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
  ingress:
  - from: [{podSelector: {matchLabels: {app: web}}}]
    ports: [{port: 5432}]
EOF
# db's labels come from its Pod object (no addresses: the CNI record supplies them)
cni_policy pod-db <<'EOF'
apiVersion: v1
kind: Pod
metadata: {name: db, namespace: default, labels: {app: db}}
spec: {containers: [{name: c, image: x}]}
EOF

# run PLUGIN-ENV... -- feeds stdin to netpol-cni directly; prints stdout
direct() { # STDIN_JSON ENV...
	_in=$1; shift
	printf '%s' "$_in" | env -i PATH="$PATH" "$@" ip netns exec "$NODE" "$CNI_PLUGIN" 2>/dev/null
}
code_is() { # WANT JSON
	[ "$(printf '%s' "$2" | jq -r .code)" = "$1" ] || { echo "  got: $2"; return 1; }
}

for V in 0.3.1 0.4.0 1.0.0 1.1.0; do
	echo "== cniVersion $V"
	CONF="$STATE/conf/chain-$V.conflist"
	cni_conflist "$CONF" "$V" '"unknownKey": {"ignored": true}'
	# Debian's plugins stop at 1.0.0: the 1.1.0 leg calls them at 1.0.0 and converts
	export CNIRUN_LOG="$STATE/log-$V" CNIRUN_DOWNGRADE=1 CNIRUN_VERSION=$V
	pods="web db other"
	for p in $pods; do cni_pod "$T$p$V"; done
	rw=$(cni_add "$CONF" "web$V" "$T""web$V" default/web '{"app":"web"}')
	rd=$(cni_add "$CONF" "db$V" "$T""db$V" default/db)
	ro=$(cni_add "$CONF" "other$V" "$T""other$V" default/other '{"app":"other"}')
	check "$V: three ADDs return results" [ -n "$rw" -a -n "$rd" -a -n "$ro" ]
	check "$V: result cniVersion is $V" [ "$(printf '%s' "$rd" | jq -r .cniVersion)" = "$V" ]
	# netpol-cni's own output is its prevResult (in the version asked), unchanged
	check "$V: netpol-cni returns prevResult unchanged" [ "$(jq -s '[.[] | select(.plugin == "netpol-cni" and .command == "ADD") | (.stdout | fromjson) == .stdin.prevResult] | all' "$CNIRUN_LOG")" = true ]
	if [ "$(printf '%s\n%s\n' "$V" 1.0.0 | sort -V | head -1)" = 1.0.0 ]; then
		check "$V: ips carry no version (1.x shape)" [ "$(printf '%s' "$rd" | jq '[.ips[] | has("version")] | any')" = false ]
	else
		check "$V: ips carry version (0.x shape)" [ "$(printf '%s' "$rd" | jq -r '[.ips[].version] | join(",")')" = "4,6" ]
	fi
	check "$V: interfaces: bridge, host veth, eth0 in the sandbox" \
		[ "$(printf '%s' "$rd" | jq -r '[.interfaces[] | (.sandbox // "-")] | length')" = 3 ]
	dbip=$(cni_addr "$rd" 4); dbip6=$(cni_addr "$rd" 6); webip=$(cni_addr "$rw" 4)
	rec="$NPS/endpoints/cnitest/db$V-eth0.json"
	check "$V: endpoint record with pod identity" [ "$(jq -r '.pod.namespace + "/" + .pod.name + " " + .addresses[0] + " " + .cni.containerID' "$rec" 2>/dev/null)" = "default/db ${dbip}/24 db$V" ]
	check "$V: record has the host veth (anti-spoofing)" [ "$(jq -r .host_ifname "$rec" | cut -c1-4)" = veth ]
	check "$V: web's labels from runtimeConfig" [ "$(jq -r .labels.app "$NPS/endpoints/cnitest/web$V-eth0.json")" = web ]
	check "$V: db's dispatch entry is in the kernel" sh -c "ip netns exec $NODE nft list map inet netpol ing4 | grep -q '$dbip'"
	check "$V: web -> db:5432 allowed (IPv4)" tcp "$T""web$V" "$T""db$V" "$dbip" 5432
	check "$V: web -> db:5432 allowed (IPv6)" tcp "$T""web$V" "$T""db$V" "$dbip6" 5432
	check "$V: other -> db:5432 denied (IPv4)" denied "$T""other$V" "$T""db$V" "$dbip" 5432
	check "$V: other -> db:5432 denied (IPv6)" denied "$T""other$V" "$T""db$V" "$dbip6" 5432
	check "$V: db -> web:80 allowed (no egress policy)" tcp "$T""db$V" "$T""web$V" "$webip" 80
	if [ "$V" != 0.3.1 ]; then
		check "$V: CHECK passes after ADD" cni CHECK "$CONF" "db$V" "/run/netns/$T""db$V" eth0
		ip netns exec "$NODE" nft delete element inet netpol ing4 "{ $dbip }"
		out=$(cni CHECK "$CONF" "db$V" "/run/netns/$T""db$V" eth0 2>/dev/null)
		check "$V: CHECK fails (code 103) once db's map entry is gone" code_is 103 "$out"
		check "$V: CHECK of web still passes" cni CHECK "$CONF" "web$V" "/run/netns/$T""web$V" eth0
		ip -n "$T""web$V" addr del "$(cni_addr "$rw" 6)/64" dev eth0
		out=$(cni CHECK "$CONF" "web$V" "/run/netns/$T""web$V" eth0 2>/dev/null)
		check "$V: CHECK fails once web's IPv6 address is gone" [ -n "$out" ]
	fi
	# DEL: record and map entry go; again; after the netns is gone; without a cached result
	check "$V: DEL db" cni_del "$CONF" "db$V" "$T""db$V" default/db
	check "$V: db's record removed" [ ! -e "$rec" ]
	check "$V: db's dispatch entry removed" sh -c "! ip netns exec $NODE nft list map inet netpol ing4 | grep -q '$dbip'"
	check "$V: DEL db again succeeds" cni_del "$CONF" "db$V" "$T""db$V" default/db
	ip netns del "$T""other$V"
	check "$V: DEL after the netns is gone succeeds" cni_del "$CONF" "other$V" "$T""other$V" default/other
	check "$V: ...and removed other's record" [ ! -e "$NPS/endpoints/cnitest/other$V-eth0.json" ]
	rm -f "$CNIRUN_CACHE/cnitest-web$V-eth0.json"
	check "$V: DEL without a cached result succeeds" cni_del "$CONF" "web$V" "$T""web$V" default/web
	check "$V: no record left" [ -z "$(ls "$NPS/endpoints/cnitest/" 2>/dev/null)" ]
	check "$V: no lease left" [ "$(ls "$STATE/ipam/cnitest" 2>/dev/null | grep -c '^10\.99\|^fd99')" = 0 ]
	unset CNIRUN_LOG CNIRUN_VERSION
done

echo "== STATUS, GC, VERSION (1.1.0)"
CONF="$STATE/conf/chain-1.1.0.conflist"
export CNIRUN_DOWNGRADE=1 CNIRUN_VERSION=1.1.0
check "STATUS: ready" cni STATUS "$CONF"
jq '.plugins[1].stateDir = "/proc/version/np"' "$CONF" >"$STATE/conf/bad-state.conflist"
out=$(cni STATUS "$STATE/conf/bad-state.conflist" 2>/dev/null)
check "STATUS: code 50 when the state directory is unusable" code_is 50 "$out"
jq '.plugins[1].requirePolicyd = true' "$CONF" >"$STATE/conf/need-policyd.conflist"
out=$(cni STATUS "$STATE/conf/need-policyd.conflist" 2>/dev/null)
check "STATUS: code 50 when policyd is required and not answering" code_is 50 "$out"
for p in g1 g2; do cni_pod "$T$p"; done
r1=$(cni_add "$CONF" g1 "$T"g1 default/db)
r2=$(cni_add "$CONF" g2 "$T"g2 default/db2 '{"app":"db"}')
ip2=$(cni_addr "$r2" 4)
check "GC: both pods dispatched before" sh -c "ip netns exec $NODE nft list map inet netpol ing4 | grep -q '$ip2'"
CNIRUN_VALID='[{"containerID":"g1","ifname":"eth0"}]' cni GC "$CONF"
check "GC: g2's record (not valid) removed" [ ! -e "$NPS/endpoints/cnitest/g2-eth0.json" ]
check "GC: g1's record (valid) kept" [ -e "$NPS/endpoints/cnitest/g1-eth0.json" ]
check "GC: g2's dispatch entry removed" sh -c "! ip netns exec $NODE nft list map inet netpol ing4 | grep -q '$ip2'"
out=$(direct '{"cniVersion":"1.1.0"}' CNI_COMMAND=VERSION)
check "VERSION lists 0.3.1 0.4.0 1.0.0 1.1.0" [ "$(printf '%s' "$out" | jq -c '[.supportedVersions[] | select(. == "0.3.1" or . == "0.4.0" or . == "1.0.0" or . == "1.1.0")] | length')" = 4 ]
unset CNIRUN_VERSION CNIRUN_DOWNGRADE

echo "== node"
jq '.plugins[1].node = "node-1" | .cniVersion = "1.0.0"' "$STATE/conf/chain-1.0.0.conflist" >"$STATE/conf/node.conflist"
cni_pod "$T"nd
rn=$(cni_add "$STATE/conf/node.conflist" nd "$T"nd default/nd '{"app":"db"}')
check "node: the record names the node" [ "$(jq -r .node "$NPS/endpoints/cnitest/nd-eth0.json")" = node-1 ]
check "node: an endpoint-only pod recorded on this node is dispatched here" \
	sh -c "ip netns exec $NODE nft list map inet netpol ing4 | grep -q '$(cni_addr "$rn" 4)'"
check "node: netpol status --node agrees with the kernel" ip netns exec "$NODE" "$NETPOL" status "$POL" --node node-1 --state-dir "$NPS"
cni_del "$STATE/conf/node.conflist" nd "$T"nd default/nd

echo "== errors"
good='{"cniVersion":"1.0.0","name":"cnitest","type":"netpol-cni","policyDir":"'"$POL"'","stateDir":"'"$NPS"'"}'
env_add="CNI_COMMAND=ADD CNI_CONTAINERID=e1 CNI_NETNS=/run/netns/${T}g1 CNI_IFNAME=eth0"
check "bad JSON: code 6" code_is 6 "$(direct '{"cniVersion":' $env_add)"
check "unsupported cniVersion: code 1" code_is 1 "$(direct '{"cniVersion":"9.9.9","name":"n"}' $env_add)"
check "no policyDir: code 7" code_is 7 "$(direct '{"cniVersion":"1.0.0","name":"cnitest"}' $env_add)"
check "bad name: code 7" code_is 7 "$(direct '{"cniVersion":"1.0.0","name":"-bad","policyDir":"/x"}' $env_add)"
check "bad timeout: code 7" code_is 7 "$(direct "$(printf '%s' "$good" | jq -c '.timeout = "soon"')" $env_add)"
check "no prevResult and no network: code 7" code_is 7 "$(direct "$good" $env_add)"
check "missing CNI_CONTAINERID: code 4" code_is 4 "$(direct "$good" CNI_COMMAND=ADD CNI_NETNS=/x CNI_IFNAME=eth0)"
check "bad CNI_COMMAND: code 4" code_is 4 "$(direct "$good" CNI_COMMAND=FROB)"
check "bad CNI_IFNAME: code 4" code_is 4 "$(direct "$good" CNI_COMMAND=ADD CNI_CONTAINERID=e1 CNI_NETNS=/x CNI_IFNAME=eth0/x)"
check "CHECK at 0.3.1: code 1" code_is 1 "$(direct "$(printf '%s' "$good" | jq -c '.cniVersion = "0.3.1"')" CNI_COMMAND=CHECK CNI_CONTAINERID=e1 CNI_NETNS=/x CNI_IFNAME=eth0)"
check "GC at 1.0.0: code 1" code_is 1 "$(direct "$good" CNI_COMMAND=GC)"
check "error objects carry cniVersion and msg" [ "$(direct "$good" $env_add | jq -r '.cniVersion + " " + (.msg | length > 0 | tostring)')" = "1.0.0 true" ]
# a policy directory with errors: ADD fails (code 100) and the runtime's DEL leaves nothing
echo 'kind: NetworkPolicy
apiVersion: networking.k8s.io/v1
metadata: {name: Bad_Name, namespace: default}
spec: {podSelector: {}}' >"$POL/zz-broken.yaml"
cni_pod "$T"bad
CONF="$STATE/conf/chain-1.0.0.conflist"
out=$(cni_add "$CONF" bad "$T"bad default/bad 2>/dev/null)
check "broken policy directory: ADD fails with code 100" code_is 100 "$out"
check "...no record left" [ ! -e "$NPS/endpoints/cnitest/bad-eth0.json" ]
check "...no interface left in the pod" [ -z "$(ip -n "$T"bad -o link show eth0 2>/dev/null)" ]
check "...no lease left" [ -z "$(grep -l '^bad' "$STATE"/ipam/cnitest/* 2>/dev/null)" ]
rm -f "$POL/zz-broken.yaml"
finish
