# tests/cni/lib.sh — shared by the CNI tests (sourced after tests/lib/netns.sh, which gives
# the temp dir $STATE, mkns, tcp, check, finish and the cleanup trap).
#
# Every test runs its CNI runtime (cnirun.py) inside its own node netns ($NODE), so the bridge,
# the veth host ends and netpol's tables land there; pods are netns of their own. Plugins come
# from build/ (netpol-cni) and /usr/lib/cni (Debian's reference plugins), through CNI_PATH;
# confs, caches, leases and netpol's state live under $STATE. /etc/cni is never read.
CNI_SRC=$(cd "$(dirname "$0")/../.." && pwd)
CNI_BUILD=${NETPOL_BUILD:-build}
case "$CNI_BUILD" in /*) ;; *) CNI_BUILD="$CNI_SRC/$CNI_BUILD" ;; esac
CNI_PLUGIN="$CNI_BUILD/netpol-cni"
CNIRUN="$CNI_SRC/tests/tools/cnirun.py"
[ -x "$CNI_PLUGIN" ] || { echo "no netpol-cni at $CNI_PLUGIN (make)"; exit 2; }
[ -x /usr/lib/cni/bridge ] || { echo "needs containernetworking-plugins (tests/install-deps.sh)"; exit 2; }
command -v python3 >/dev/null || { echo "needs python3"; exit 2; }

# a directory holding only netpol-cni, first in CNI_PATH (the build dir holds other programs)
mkdir -p "$STATE/bin" "$STATE/conf" "$STATE/cache" "$STATE/policies" "$STATE/np"
ln -sf "$CNI_PLUGIN" "$STATE/bin/netpol-cni"
export CNI_PATH="$STATE/bin:/usr/lib/cni"
export CNIRUN_CACHE="$STATE/cache"
POL="$STATE/policies"   # policyDir
NPS="$STATE/np"         # stateDir
NODE=${T}node

# cni_node_up: the node netns ($NODE)
cni_node_up() {
	mkns "$NODE"
	ip netns exec "$NODE" sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0
}

# cni_pod NAME: a pod netns (DAD off so IPv6 addresses are usable at once)
cni_pod() {
	mkns "$1"
	ip netns exec "$1" sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0
}

# cni_conflist FILE VERSION [EXTRA_NETPOL_KEYS]: bridge + host-local (dual stack) + netpol-cni
cni_conflist() {
	cat >"$1" <<EOF
{ "cniVersion": "$2", "name": "cnitest",
  "plugins": [
    { "type": "bridge", "bridge": "cnibr0", "isGateway": true, "ipMasq": false,
      "ipam": { "type": "host-local", "dataDir": "$STATE/ipam",
        "ranges": [[{"subnet": "10.99.0.0/24", "gateway": "10.99.0.1"}],
                   [{"subnet": "fd99::/64", "gateway": "fd99::1"}]] } },
    { "type": "netpol-cni", "policyDir": "$POL", "stateDir": "$NPS",
      "capabilities": {"labels": true}${3:+, $3} } ] }
EOF
}

# cni CMD CONFLIST [CID NETNS IFNAME]: the runtime in the node netns; env CNIRUN_* as set
cni() {
	ip netns exec "$NODE" python3 "$CNIRUN" "$@"
}

# cni_add CONFLIST CID POD NS/NAME [LABELS_JSON]: ADD; prints the result
cni_add() {
	CNIRUN_ARGS="IgnoreUnknown=1;K8S_POD_NAMESPACE=${4%%/*};K8S_POD_NAME=${4##*/}" \
	CNIRUN_CAPS="{\"labels\": ${5:-{\}}}" cni ADD "$1" "$2" "/run/netns/$3" eth0
}
cni_del() { # CONFLIST CID POD NS/NAME
	CNIRUN_ARGS="IgnoreUnknown=1;K8S_POD_NAMESPACE=${4%%/*};K8S_POD_NAME=${4##*/}" \
	cni DEL "$1" "$2" "/run/netns/$3" eth0
}

# cni_addr RESULT FAMILY: the first address of that family (no prefix length)
cni_addr() {
	printf '%s' "$1" | jq -r --arg f "$2" '[.ips[].address | select(if $f == "6" then test(":") else (test(":") | not) end)][0] | sub("/.*"; "")'
}

# the node's nft dispatch maps, as text
cni_maps() {
	ip netns exec "$NODE" nft list map inet netpol "$1" 2>/dev/null
}

# write a policy file
cni_policy() { # NAME <<YAML
	cat >"$POL/$1.yaml"
}

# plugin CMD CONF_JSON_FILE CID POD NS/NAME: netpol-cni alone (main mode), run directly the way
# a runtime runs a one-plugin network; prints its stdout
plugin() {
	ip netns exec "$NODE" env -i PATH="$PATH" CNI_COMMAND="$1" CNI_CONTAINERID="$3" \
		CNI_NETNS="/run/netns/$4" CNI_IFNAME=eth0 CNI_PATH="$CNI_PATH" \
		CNI_ARGS="IgnoreUnknown=1;K8S_POD_NAMESPACE=${5%%/*};K8S_POD_NAME=${5##*/}" \
		ASAN_OPTIONS="${ASAN_OPTIONS:-}" UBSAN_OPTIONS="${UBSAN_OPTIONS:-}" \
		"$CNI_PLUGIN" <"$2"
}
