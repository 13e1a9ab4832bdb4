# tests/lib/topo.sh — the throwaway 9-pod topology the kernel tests, the demo and the packet
# benchmark run on. Sourced by bash scripts (they re-exec themselves under bash).
#
#   node netns  np-$$-node: bridge br0 10.200.0.1/24 fd00:200::1/64; the host ends of the pods'
#               veths (veth-xa ... veth-zc) are its ports. netpol runs here.
#   pod netns   np-$$-xa ... np-$$-zc: eth0, 10.200.0.N/24 and fd00:200::N/64,
#               N = 11,12,13 (x/a,x/b,x/c), 21,22,23 (y/*), 31,32,33 (z/*) — the addresses
#               tests/data/cases/_base gives the Pod objects.
# Everything is created inside namespaces named after this shell's pid and removed on exit
# (np_topo_down from the caller's EXIT trap). Nothing touches the machine's own netns.

NP_PFX="np-$$"
NP_NODE="$NP_PFX-node"
NP_PODS="x/a x/b x/c y/a y/b y/c z/a z/b z/c"
NP_SRC=${NETPOL_SRC:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
NP_BUILD=${NETPOL_BUILD:-build}
case "$NP_BUILD" in /*) ;; *) NP_BUILD="$NP_SRC/$NP_BUILD" ;; esac
NETPOL=${NETPOL:-$NP_BUILD/netpol}
NP_AGENT=${NP_AGENT:-$NP_BUILD/tests/np_agent}
NP_TMP=""
NP_SERVER_PIDS=""

np_log() { printf '%s\n' "$*" >&2; }

# Another set of pods (call before np_start_node): FILE lines "NS/POD SHORT IPV4 IPV6" (SHORT
# names the pod's netns and veth: at most 10 characters). The addresses must lie in the
# bridge's 10.200.0.0/24 and fd00:200::/64; .1 and ::1 are the node.
declare -A NP_TOPO_SHORT NP_TOPO_A4 NP_TOPO_A6
np_topo_load() {
	local name short a4 a6
	NP_PODS=""
	while read -r name short a4 a6; do
		case "$name" in '#'* | '') continue ;; esac
		NP_PODS="$NP_PODS${NP_PODS:+ }$name"
		NP_TOPO_SHORT[$name]=$short NP_TOPO_A4[$name]=$a4 NP_TOPO_A6[$name]=$a6
	done <"$1"
}

# np_pod_short x/a -> xa ; np_pod_ns x/a -> np-PID-xa
np_pod_short() {
	if [ -n "${NP_TOPO_SHORT[$1]:-}" ]; then printf '%s' "${NP_TOPO_SHORT[$1]}"; return; fi
	printf '%s' "${1%%/*}${1##*/}"
}
np_pod_ns() { printf '%s-%s' "$NP_PFX" "$(np_pod_short "$1")"; }

# np_pod_addr POD FAMILY -> the pod's address
np_pod_addr() {
	local n
	if [ -n "${NP_TOPO_A4[$1]:-}" ]; then
		if [ "$2" = 6 ]; then printf '%s' "${NP_TOPO_A6[$1]}"; else printf '%s' "${NP_TOPO_A4[$1]}"; fi
		return
	fi
	case "${1%%/*}" in x) n=1 ;; y) n=2 ;; z) n=3 ;; *) return 1 ;; esac
	case "${1##*/}" in a) n=${n}1 ;; b) n=${n}2 ;; c) n=${n}3 ;; *) return 1 ;; esac
	if [ "$2" = 6 ]; then printf 'fd00:200::%s' "$n"; else printf '10.200.0.%s' "$n"; fi
}

np_node() { ip netns exec "$NP_NODE" "$@"; }

# Skip (exit 77) unless we can do kernel work here.
np_require_root() {
	if [ "$(id -u)" != 0 ]; then echo "needs root (network namespaces)"; exit 77; fi
	if ! ip netns add "$NP_PFX-probe" 2>/dev/null; then echo "cannot create network namespaces"; exit 77; fi
	ip netns del "$NP_PFX-probe"
	[ -x "$NP_AGENT" ] || { echo "missing $NP_AGENT (make tests-built)"; exit 2; }
}

# The netpol binary must exist (make tests-built); arguments name the subcommands the test uses.
np_require_netpol() {
	[ -x "$NETPOL" ] || { echo "missing $NETPOL"; exit 2; }
}

# np_start_node NETPOL_SUBCOMMAND... : the usual test start: skip unless root and those netpol
# subcommands exist, remove everything on exit, build the topology, start the servers.
np_start_node() {
	np_require_root
	np_require_netpol "$@"
	trap np_topo_down EXIT
	trap "exit 2" INT TERM HUP # so the EXIT trap cleans up on signals too
	np_topo_up || { echo "topology setup failed"; exit 1; }
	np_servers_start || { echo "servers did not start"; exit 1; }
}

np_topo_up() {
	local p ns short v4 v6
	NP_TMP=$(mktemp -d "/tmp/np-$$.XXXXXX")
	ip netns add "$NP_NODE" || return 1
	np_node ip link set lo up
	np_node sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0
	# mcast snooping off: without a querier it can hold back IPv6 neighbour discovery
	np_node ip link add br0 type bridge stp_state 0 forward_delay 0 mcast_snooping 0
	np_node ip addr add 10.200.0.1/24 dev br0
	np_node ip addr add fd00:200::1/64 dev br0 nodad
	np_node ip link set br0 up
	# br_netfilter: bridged pod traffic must pass the inet hooks (per netns; default 1 here)
	np_node sh -c 'for f in iptables ip6tables; do
		p=/proc/sys/net/bridge/bridge-nf-call-$f; [ -w $p ] && echo 1 > $p; done; true'
	for p in $NP_PODS; do
		ns=$(np_pod_ns "$p"); short=$(np_pod_short "$p")
		v4=$(np_pod_addr "$p" 4); v6=$(np_pod_addr "$p" 6)
		ip netns add "$ns" || return 1
		ip -n "$ns" link set lo up
		ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0
		np_node ip link add "veth-$short" type veth peer name eth0 netns "$ns" || return 1
		np_node ip link set "veth-$short" master br0 up
		ip -n "$ns" addr add "$v4/24" dev eth0
		ip -n "$ns" addr add "$v6/64" dev eth0 nodad
		ip -n "$ns" link set eth0 up
		ip -n "$ns" route add default via 10.200.0.1
		ip -n "$ns" -6 route add default via fd00:200::1
	done
}

# Start np_agent serve (TCP+UDP, v4+v6, ports 80 and 81) in every pod; wait until all listen.
np_servers_start() {
	local p ns i
	for p in $NP_PODS; do
		ns=$(np_pod_ns "$p")
		ip netns exec "$ns" "$NP_AGENT" serve --ports "${NP_SERVE_PORTS:-80,81}" \
			>"$NP_TMP/serve-$(np_pod_short "$p").log" 2>&1 &
		NP_SERVER_PIDS="$NP_SERVER_PIDS $!"
	done
	for p in $NP_PODS; do
		for i in $(seq 100); do
			grep -q ready "$NP_TMP/serve-$(np_pod_short "$p").log" 2>/dev/null && break
			sleep 0.05
		done
		grep -q ready "$NP_TMP/serve-$(np_pod_short "$p").log" ||
			{ np_log "server in $p did not start"; return 1; }
	done
}

np_topo_down() {
	local p pid
	for pid in $NP_SERVER_PIDS; do kill "$pid" 2>/dev/null; done
	for pid in $NP_SERVER_PIDS; do wait "$pid" 2>/dev/null; done
	NP_SERVER_PIDS=""
	for p in $NP_PODS; do ip netns del "$(np_pod_ns "$p")" 2>/dev/null; done
	ip netns del "$NP_NODE" 2>/dev/null
	[ -n "$NP_TMP" ] && rm -rf "$NP_TMP"
	return 0
}

# np_pod_table: "POD NETNS IPV4 IPV6" per pod of NP_PODS, in order (computed once per pod set:
# the probe lists below are built by awk from it, without a subshell per pair).
NP_POD_TABLE="" NP_POD_TABLE_FOR=""
np_pod_table() {
	local p
	if [ "$NP_POD_TABLE_FOR" != "$NP_PODS" ]; then
		NP_POD_TABLE=""
		for p in $NP_PODS; do
			NP_POD_TABLE="$NP_POD_TABLE$p $(np_pod_ns "$p") $(np_pod_addr "$p" 4) $(np_pod_addr "$p" 6)
"
		done
		NP_POD_TABLE_FOR=$NP_PODS
	fi
	printf '%s' "$NP_POD_TABLE"
}

# np_probe_pairs IN OUT: IN lines "FROM TO PROTO PORT FAMILY [ANYTHING...]" (FROM/TO as x/a,
# PROTO tcp|udp|sctp in any case); all are probed at once in one concurrent np_agent run and OUT
# gets each IN line with " 1" (connected) or " 0" appended.
np_probe_pairs() {
	np_pod_table >"$NP_TMP/pods.tab"
	# SCTP probes name the receiving netns (raw-socket receiver there)
	awk 'NR == FNR { ns[$1] = $2; a[$1 " 4"] = $3; a[$1 " 6"] = $4; next }
		!(($1) in ns) || !(($2 " " $5) in a) { print "unknown pod or family: " $0 > "/dev/stderr"; exit 1 }
		{ print ns[$1], a[$2 " " $5], tolower($3), $4, ns[$2] }' \
		"$NP_TMP/pods.tab" "$1" >"$NP_TMP/probe.in" || return 1
	"$NP_AGENT" probe --timeout-ms "${NP_TIMEOUT_MS:-1000}" "$NP_TMP/probe.in" >"$NP_TMP/probe.out" ||
		return 1
	[ "$(wc -l <"$NP_TMP/probe.out")" = "$(wc -l <"$1")" ] || return 1
	awk '{print $NF}' "$NP_TMP/probe.out" | paste -d' ' "$1" - >"$2"
}

# np_probe_blocks OUT  SPEC...   SPEC = PROTO:PORT:FAMILY (e.g. tcp:80:4; PROTO tcp|udp|sctp)
# Probes all pairs of NP_PODS for every SPEC in one concurrent np_agent run; writes OUT with
# lines "PROTO PORT FAMILY FROM TO 1|0" (FROM/TO as x/a).
np_probe_blocks() {
	local out=$1
	shift
	awk -v specs="$*" -v pods="$NP_PODS" 'BEGIN {
		ns = split(specs, S, " "); np = split(pods, P, " ")
		for (s = 1; s <= ns; s++) {
			split(S[s], f, ":")
			for (i = 1; i <= np; i++)
				for (j = 1; j <= np; j++) print P[i], P[j], f[1], f[2], f[3]
		}
	}' >"$NP_TMP/probe.pairs"
	np_probe_pairs "$NP_TMP/probe.pairs" "$NP_TMP/probe.res" || return 1
	awk '{ print $3, $4, $5, $1, $2, $6 }' "$NP_TMP/probe.res" >"$out"
}

# np_matrix RESULTS PROTO PORT FAMILY -> a 9x9 matrix in the tests/data/cases expect layout
np_matrix() {
	awk -v proto="$2" -v port="$3" -v fam="$4" -v pods="$NP_PODS" '
	BEGIN { n = split(pods, P, " ") }
	tolower($1) == tolower(proto) && $2 == port && $3 == fam { r[$4 " " $5] = $6 }
	END {
		line = sprintf("%-5s", "")
		for (j = 1; j <= n; j++) line = line sprintf(" %-3s", P[j])
		print line
		for (i = 1; i <= n; i++) {
			line = sprintf("%-5s", P[i])
			for (j = 1; j <= n; j++) line = line sprintf(" %-3s", (P[i] " " P[j]) in r ? r[P[i] " " P[j]] : "?")
			sub(/ +$/, "", line)
			print line
		}
	}' "$1"
}

# np_base_inventory DIR: the 9 pods and 3 namespaces of tests/data/cases/_base, no policies.
np_base_inventory() {
	rm -rf "$1"; mkdir -p "$1"
	cp "$NP_SRC/tests/data/cases/_base/"* "$1/"
}

# np_policy_deny_ingress NS POD: a NetworkPolicy "deny-POD" isolating NS/POD for ingress with no
# rule (nothing may reach it).
np_policy_deny_ingress() {
	printf 'apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: deny-%s, namespace: %s}\nspec:\n  podSelector: {matchLabels: {pod: %s}}\n  policyTypes: [Ingress]\n' "$2" "$1" "$2"
}

# np_apply_in_sync DIR LABEL: netpol apply DIR in the node netns, then `netpol status DIR` must
# find the kernel in sync (an incremental apply must leave exactly what DIR compiles to). Prints
# what failed under LABEL; returns 0, 1 (apply failed) or 2 (not in sync).
np_apply_in_sync() {
	if ! np_node "$NETPOL" apply "$1" >"$NP_TMP/apply.log" 2>&1; then
		echo "  $2: netpol apply FAILED:"; sed 's/^/      /' "$NP_TMP/apply.log" | head -20
		return 1
	fi
	if ! np_node "$NETPOL" status "$1" >"$NP_TMP/status.log" 2>&1; then
		echo "  $2: netpol status does not report 'in sync' after apply:"
		sed 's/^/      /' "$NP_TMP/status.log" | head -20
		return 2
	fi
}

# np_apply DIR: netpol apply in the node netns; prints its output on failure.
np_apply() {
	np_node "$NETPOL" apply "$1" >"$NP_TMP/apply.log" 2>&1 && return 0
	np_log "netpol apply $1 failed:"; sed 's/^/    /' "$NP_TMP/apply.log" >&2
	return 1
}

# np_check RESULTS PROTO PORT FAMILY 'AWK CONDITION' : the condition (over the strings `from`
# and `to`, e.g. 'to != "x/b" || from == "x/a"') says which pairs must connect; every other pair
# must be blocked. Prints the mismatching pairs and both matrices; returns 1 on any mismatch.
np_check() {
	local bad
	awk -v proto="$2" -v port="$3" -v fam="$4" "
		tolower(\$1) == tolower(proto) && \$2 == port && \$3 == fam {
			from = \$4; to = \$5; want = ($5) ? 1 : 0
			print \$1, \$2, \$3, from, to, want
		}" "$1" >"$NP_TMP/want.lst"
	bad=$(paste -d' ' "$NP_TMP/want.lst" <(awk -v proto="$2" -v port="$3" -v fam="$4" \
		'tolower($1) == tolower(proto) && $2 == port && $3 == fam { print $6 }' "$1") |
		awk '$6 != $7' | wc -l)
	if [ "$(wc -l <"$NP_TMP/want.lst")" != 81 ] || [ "$bad" != 0 ]; then
		np_log "MISMATCH $2 $3 IPv$4: $bad pairs; expected, then measured:"
		np_matrix "$NP_TMP/want.lst" "$2" "$3" "$4" >&2
		np_matrix "$1" "$2" "$3" "$4" >&2
		return 1
	fi
	echo "ok   $2 $3 IPv$4: 81 pairs as expected"
}

# np_reach DIR PROTO PORT FAMILY -> "FROM TO 0|1" lines from `netpol reach`'s table.
# Reads the header row of ns/pod names for the column order; accepts 1/0, ./X, Y/N, ✓/✗.
np_reach() {
	"$NETPOL" reach "$1" --protocol "$2" --port "$3" --family "$4" 2>"$NP_TMP/reach.err" |
	awk '
	function val(t) {
		if (t ~ /^(1|\.|Y|y|yes|allow|allowed|✓|✔)$/) return 1
		if (t ~ /^(0|X|x|N|n|no|deny|denied|drop|✗|✘|-)$/) return 0
		return "?"
	}
	{ n = 0; for (i = 1; i <= NF; i++) if ($i ~ /^[a-z0-9-]+\/[a-z0-9-]+$/) n++ }
	n >= 2 && n == NF - (NF > 1 && $1 !~ /\//) { for (i = 1; i <= NF; i++) if ($i ~ /\//) col[++ncol] = $i; next }
	ncol > 0 && $1 ~ /\// && NF == ncol + 1 { for (i = 2; i <= NF; i++) print $1, col[i - 1], val($i) }
	'
}

# A harness variant may redefine the functions above (tests/cni/topo.sh builds the pods through
# the CNI chain): NP_LIB_EXTRA names the file.
if [ -n "${NP_LIB_EXTRA:-}" ]; then . "$NP_LIB_EXTRA"; fi
