# tests/cni/topo.sh — the 9-pod topology of tests/lib/topo.sh, built through the CNI chain
# bridge + host-local + netpol-cni (Debian's reference plugins, our plugin last) instead of by
# hand. Sourced by tests/lib/topo.sh when NP_LIB_EXTRA names it; it redefines np_topo_up and
# np_node:
#   - each pod netns gets eth0 from the bridge plugin (bridge br0 in the node netns, random veth
#     names), its fixed tests/data/cases addresses through host-local's "ips" capability, and its
#     identity from CNI_ARGS (K8S_POD_NAMESPACE/K8S_POD_NAME); netpol-cni records it and applies;
#   - `netpol apply|status DIR` in the node merge those records (--state-dir), so anti-spoofing
#     uses the veths the bridge plugin made; the Pod objects' netpol.io/host-interface
#     annotation (the hand-built topology's veth names) is dropped from DIR first.
NP_CNI_RUN="$NP_SRC/tests/tools/cnirun.py"
NP_CNI_PLUGIN="$NP_BUILD/netpol-cni"

np_node() {
	if [ "$1" = "$NETPOL" ] && { [ "$2" = apply ] || [ "$2" = status ]; } && [ -d "${3:-}" ]; then
		sed -i '/netpol.io\/host-interface/d' "$3"/*.yaml 2>/dev/null
		local cmd=$2 dir=$3
		shift 3
		ip netns exec "$NP_NODE" "$NETPOL" "$cmd" "$dir" --state-dir "$NP_TMP/np" "$@"
		return
	fi
	ip netns exec "$NP_NODE" "$@"
}

# np_cni_add POD: ADD through the chain (the runtime runs in the node netns)
np_cni_add() {
	local p=$1 ns v4 v6
	ns=$(np_pod_ns "$p"); v4=$(np_pod_addr "$p" 4); v6=$(np_pod_addr "$p" 6)
	CNIRUN_ARGS="IgnoreUnknown=1;K8S_POD_NAME=${p##*/};K8S_POD_NAMESPACE=${p%%/*}" \
	CNIRUN_CAPS="{\"ips\": [\"$v4/24\", \"$v6/64\"]}" \
		ip netns exec "$NP_NODE" python3 "$NP_CNI_RUN" ADD "$NP_TMP/cni.conflist" \
		"ctr-$(np_pod_short "$p")" "/run/netns/$ns" eth0 >"$NP_TMP/add-$(np_pod_short "$p").out"
}

np_topo_up() {
	local p ns
	[ -x "$NP_CNI_PLUGIN" ] || { np_log "missing $NP_CNI_PLUGIN"; return 1; }
	NP_TMP=$(mktemp -d "/tmp/np-$$.XXXXXX")
	mkdir -p "$NP_TMP/bin" "$NP_TMP/pol" "$NP_TMP/np" "$NP_TMP/cache"
	ln -s "$NP_CNI_PLUGIN" "$NP_TMP/bin/netpol-cni"
	export CNI_PATH="$NP_TMP/bin:/usr/lib/cni" CNIRUN_CACHE="$NP_TMP/cache" CNIRUN_VERSION=1.0.0
	cp "$NP_SRC/tests/data/cases/_base/"* "$NP_TMP/pol/"
	sed -i '/netpol.io\/host-interface/d' "$NP_TMP/pol/"*.yaml
	ip netns add "$NP_NODE" || return 1
	np_node ip link set lo up
	np_node sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0
	# the bridge plugin adopts an existing bridge: mcast snooping off, as the hand-built one
	np_node ip link add br0 type bridge stp_state 0 forward_delay 0 mcast_snooping 0
	np_node ip link set br0 up
	cat >"$NP_TMP/cni.conflist" <<EOF
{ "cniVersion": "1.0.0", "name": "conformance",
  "plugins": [
    { "type": "bridge", "bridge": "br0", "isGateway": true, "ipMasq": false,
      "capabilities": {"ips": true},
      "ipam": { "type": "host-local", "dataDir": "$NP_TMP/ipam",
        "ranges": [[{"subnet": "10.200.0.0/24", "gateway": "10.200.0.1"}],
                   [{"subnet": "fd00:200::/64", "gateway": "fd00:200::1"}]] } },
    { "type": "netpol-cni", "policyDir": "$NP_TMP/pol", "stateDir": "$NP_TMP/np",
      "timeout": 60 } ] }
EOF
	for p in $NP_PODS; do
		ns=$(np_pod_ns "$p")
		ip netns add "$ns" || return 1
		ip -n "$ns" link set lo up
		ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0
	done
	for p in $NP_PODS; do np_cni_add "$p" & done
	wait
	for p in $NP_PODS; do
		[ -s "$NP_TMP/add-$(np_pod_short "$p").out" ] || { np_log "CNI ADD of $p failed"; return 1; }
	done
	np_log "9 pods attached through bridge + host-local + netpol-cni"
}
