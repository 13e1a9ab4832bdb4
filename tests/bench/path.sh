#!/bin/sh
# Packet-path benchmark (issue 3): what enforcement costs between two pods on the bridge.
# On the 9-pod topology of tests/lib/topo.sh, client x/a -> server x/b:
#   TCP throughput   iperf3 -t $SECS (IPv4), Mbit/s at the receiver
#   connection rate  np_agent connrate: connect + read one byte + close, in a loop, $SECS s
# measured with
#   none         no table in the node netns (no conntrack either: nothing asks for it)
#   nft-10       netpol apply: 10 policies select x/b (9 bystanders + one allowing x/a)
#   nft-1000     the same 10 + 990 generated policies, 9,909 pod addresses in the sets
#   ipt-10/1000  the same policies as classic linear iptables rules (no ipset): one rule per
#                peer address and port, dispatch by one rule per isolated local pod, loaded
#                with iptables-restore (iptables-nft) in the node netns only
# The generated cluster: 99 namespaces g00..g98 x 100 pods (10.201.N.M, labels app=appK,
# every tenth pod also pod=a), g00 local to this node; in each namespace policy gp-K selects
# app=appK and admits app=app(K+1) on TCP 8080. In namespace x, policy xb-K (K < 9) admits
# app=appK pods of every namespace to x/b on TCP 9000+K, and xb-9 admits every pod=a pod (x/a
# among them) on TCP 80 and 5201. Figures are printed, not asserted.
# Env: NETPOL_BUILD, NETPOL, SECS (3), RUNS (3; the median of RUNS is shown)
[ -n "$BASH_VERSION" ] || exec bash "$0" "$@"
set -u
. "$(dirname "$0")/../lib/topo.sh"
SECS=${SECS:-3}
RUNS=${RUNS:-3}
np_require_root
np_require_netpol apply
command -v iperf3 >/dev/null || { echo "path.sh: iperf3 missing (tests/install-deps.sh)"; exit 2; }
IPT_RESTORE=$(command -v iptables-nft-restore || command -v iptables-restore)
trap np_topo_down EXIT
trap "exit 2" INT TERM HUP # so the EXIT trap cleans up on signals too
np_topo_up || exit 1
np_servers_start || exit 1
ip netns exec "$(np_pod_ns x/b)" iperf3 -s >/dev/null 2>&1 &
NP_SERVER_PIDS="$NP_SERVER_PIDS $!"
# thousands of short connections per run: let closed ones leave the node's conntrack table
# quickly (this netns only) so the table never fills between runs
np_node sh -c 'f=/proc/sys/net/netfilter/nf_conntrack_tcp_timeout_time_wait; [ -w $f ] && echo 1 >$f; true'

CLIENT=$(np_pod_ns x/a)
SERVER=$(np_pod_addr x/b 4)

# ---- generators ----

# xb_policies DIR: the 10 policies selecting x/b
xb_policies() {
	local k
	for k in 0 1 2 3 4 5 6 7 8; do
		cat >"$1/np-x-xb-$k.yaml" <<YAML
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: xb-$k, namespace: x}
spec:
  podSelector: {matchLabels: {pod: b}}
  ingress:
  - from:
    - namespaceSelector: {}
      podSelector: {matchLabels: {app: app$k}}
    ports:
    - {protocol: TCP, port: $((9000 + k))}
YAML
	done
	cat >"$1/np-x-xb-9.yaml" <<'YAML'
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: xb-9, namespace: x}
spec:
  podSelector: {matchLabels: {pod: b}}
  ingress:
  - from:
    - namespaceSelector: {}
      podSelector: {matchLabels: {pod: a}}
    ports:
    - {protocol: TCP, port: 80}
    - {protocol: TCP, port: 5201}
YAML
}

# gen_cluster DIR NAMESPACES: namespaces, pods and policies as kubectl-style JSON lists
gen_cluster() {
	awk -v dir="$1" -v nns="$2" 'BEGIN {
		for (i = 0; i < nns; i++) {
			ns = sprintf("g%02d", i)
			f = dir "/gen-" ns ".json"
			printf "{\"apiVersion\":\"v1\",\"kind\":\"List\",\"items\":[\n" > f
			printf "{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"name\":\"%s\",\"labels\":{\"ns\":\"%s\"}}}", ns, ns > f
			for (j = 0; j < 100; j++) {
				lab = sprintf("\"app\":\"app%d\",\"pod\":\"%s\"", j % 10, j % 10 == 0 ? "a" : "g")
				printf ",\n{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"p%02d\",\"namespace\":\"%s\",\"labels\":{%s}},\"spec\":{\"nodeName\":\"%s\",\"containers\":[{\"name\":\"c\"}]},\"status\":{\"podIP\":\"10.201.%d.%d\",\"podIPs\":[{\"ip\":\"10.201.%d.%d\"}]}}", j, ns, lab, i == 0 ? "node-1" : "node-2", i, j + 1, i, j + 1 > f
			}
			for (k = 0; k < 10; k++)
				printf ",\n{\"apiVersion\":\"networking.k8s.io/v1\",\"kind\":\"NetworkPolicy\",\"metadata\":{\"name\":\"gp-%d\",\"namespace\":\"%s\"},\"spec\":{\"podSelector\":{\"matchLabels\":{\"app\":\"app%d\"}},\"ingress\":[{\"from\":[{\"podSelector\":{\"matchLabels\":{\"app\":\"app%d\"}}}],\"ports\":[{\"protocol\":\"TCP\",\"port\":8080}]}]}}", k, ns, k, (k + 1) % 10 > f
			printf "\n]}\n" > f
			close(f)
		}
	}'
}

# iptables_rules NAMESPACES: the same policies as linear iptables rules, iptables-restore input.
# Peers are listed generated pods first, base pods last, dispatch the same: the order a
# generator walking namespaces alphabetically (g.. before x) would produce.
iptables_rules() {
	awk -v nns="$1" '
	function rule(s) { print s; nrules++ }
	BEGIN {
		print "*filter"
		print ":NP-FWD - [0:0]"
		# policies: name, peers (list of addresses), ports
		np = 0
		for (i = 0; i < nns; i++)
			for (k = 0; k < 10; k++) {
				np++; pname[np] = sprintf("NP-POL-g%02d-%d", i, k); plist = ""
				for (j = 0; j < 100; j++) if (j % 10 == (k + 1) % 10) plist = plist " 10.201." i "." (j + 1)
				peers[np] = plist; ports[np] = "8080"
				# targets: app=appK pods of namespace i; local only for g00
				if (i == 0) for (j = 0; j < 100; j++) if (j % 10 == k) sel["10.201.0." (j + 1)] = sel["10.201.0." (j + 1)] " " np
			}
		for (k = 0; k <= 9; k++) {
			np++; pname[np] = "NP-POL-x-xb-" k; plist = ""
			for (i = 0; i < nns; i++) for (j = 0; j < 100; j++)
				if ((k < 9 && j % 10 == k) || (k == 9 && j % 10 == 0)) plist = plist " 10.201." i "." (j + 1)
			if (k == 9) plist = plist " 10.200.0.31 10.200.0.21 10.200.0.11"
			peers[np] = plist; ports[np] = k < 9 ? 9000 + k : "80 5201"
			sel["10.200.0.12"] = sel["10.200.0.12"] " " np
		}
		for (p = 1; p <= np; p++) print ":" pname[p] " - [0:0]"
		nloc = 0
		for (i = 0; i < nns && i < 1; i++) for (j = 0; j < 100; j++) loc[++nloc] = "10.201.0." (j + 1)
		loc[++nloc] = "10.200.0.12"
		for (l = 1; l <= nloc; l++) print ":NP-ING-" l " - [0:0]"
		rule("-A FORWARD -j NP-FWD")
		rule("-A NP-FWD -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT")
		for (l = 1; l <= nloc; l++) {
			if (!(loc[l] in sel)) continue
			rule("-A NP-FWD -d " loc[l] "/32 -j NP-ING-" l)
			rule("-A NP-ING-" l " -m conntrack --ctstate INVALID -j DROP")
			rule("-A NP-ING-" l " -s " loc[l] "/32 -j ACCEPT")
			n = split(sel[loc[l]], S, " ")
			for (s = 1; s <= n; s++) rule("-A NP-ING-" l " -j " pname[S[s]])
			rule("-A NP-ING-" l " -j DROP")
		}
		for (p = 1; p <= np; p++) {
			n = split(peers[p], A, " "); m = split(ports[p], P, " ")
			for (a = 1; a <= n; a++) for (q = 1; q <= m; q++)
				rule("-A " pname[p] " -s " A[a] "/32 -p tcp -m tcp --dport " P[q] " -j ACCEPT")
		}
		print "COMMIT"
		print nrules > "/dev/stderr"
	}'
}

# ---- measurements ----

now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

median() { sort -n | awk '{ v[NR] = $1 } END { print NR ? v[int((NR + 1) / 2)] : 0 }'; }
range() { sort -n | awk 'NR == 1 { lo = $1 } { hi = $1 } END { printf "%.0f-%.0f", lo, hi }'; }

measure_once() { # SETUP: one iperf3 run and one connrate run, appended to TS/CS
	TS[$1]="${TS[$1]:-} $(ip netns exec "$CLIENT" iperf3 -c "$SERVER" -t "$SECS" -f m 2>&1 |
		awk '/receiver/ { for (i = 1; i <= NF; i++) if ($i == "Mbits/sec") print $(i - 1) }')"
	CS[$1]="${CS[$1]:-} $(ip netns exec "$CLIENT" "$NP_AGENT" connrate --seconds "$SECS" "$SERVER" 80 |
		awk '{ for (i = 1; i <= NF; i++) if ($i == "rate") { sub("/s", "", $(i + 1)); print $(i + 1) } }')"
}

clear_tables() {
	np_node "$NETPOL" flush >/dev/null 2>&1
	np_node nft delete table ip filter 2>/dev/null
	np_node nft list tables | grep -q . && { np_log "tables left in the node netns:"; np_node nft list tables >&2; }
	return 0
}

# load SETUP: make the node netns hold exactly that setup's rules, and check they are in force
# (x/a reaches x/b, y/b does not)
load() {
	local t0 t1 ok blocked n=${1#*-}
	clear_tables
	t0=$(now_ms)
	case $1 in
	none) ;;
	nft-*)
		np_node "$NETPOL" apply "$NP_TMP/inv$n" --node node-1 >"$NP_TMP/apply.log" 2>&1 ||
			{ echo "netpol apply failed:"; cat "$NP_TMP/apply.log"; exit 1; } ;;
	ipt-*)
		np_node "$IPT_RESTORE" <"$NP_TMP/ipt-$n.rules" || { echo "iptables-restore failed"; exit 1; } ;;
	esac
	t1=$(now_ms)
	LOADMS[$1]="${LOADMS[$1]:-} $((t1 - t0))"
	[ "$1" = none ] && return 0
	np_probe_blocks "$NP_TMP/chk" TCP:80:4 || exit 1
	ok=$(awk '$4 == "x/a" && $5 == "x/b" { print $6 }' "$NP_TMP/chk")
	blocked=$(awk '$4 == "y/b" && $5 == "x/b" { print $6 }' "$NP_TMP/chk")
	[ "$ok" = 1 ] && [ "$blocked" = 0 ] ||
		{ echo "$1: rules not in force (x/a->x/b $ok, y/b->x/b $blocked)"; exit 1; }
}

declare -A TS CS LOADMS TPUT CONN INFO TR CR
SETUPS="none nft-10 nft-1000 ipt-10 ipt-1000"
np_base_inventory "$NP_TMP/inv10"; xb_policies "$NP_TMP/inv10"
np_base_inventory "$NP_TMP/inv1000"; xb_policies "$NP_TMP/inv1000"; gen_cluster "$NP_TMP/inv1000" 99
iptables_rules 0 >"$NP_TMP/ipt-10.rules" 2>"$NP_TMP/ipt-10.count"
iptables_rules 99 >"$NP_TMP/ipt-1000.rules" 2>"$NP_TMP/ipt-1000.count"

echo "packet path: x/a -> x/b over the bridge, IPv4; iperf3 -t $SECS, connrate $SECS s;" \
	"$RUNS rounds, setups interleaved, median (min-max)"
# rounds interleave the setups so drift in the machine's load spreads over all of them
for r in $(seq "$RUNS"); do
	for s in $SETUPS; do load "$s"; measure_once "$s"; done
done
clear_tables
for s in $SETUPS; do
	TPUT[$s]=$(printf '%s\n' ${TS[$s]} | median) CONN[$s]=$(printf '%s\n' ${CS[$s]} | median)
	TR[$s]=$(printf '%s\n' ${TS[$s]} | range) CR[$s]=$(printf '%s\n' ${CS[$s]} | range)
done
INFO[none]="no table (no conntrack either)"
INFO[nft-10]="incl. anti-spoof table; apply $(printf '%s\n' ${LOADMS[nft-10]} | median) ms"
INFO[nft-1000]="incl. anti-spoof table; apply $(printf '%s\n' ${LOADMS[nft-1000]} | median) ms, 9,909 pods"
INFO[ipt-10]="$(cat "$NP_TMP/ipt-10.count") rules, restore $(printf '%s\n' ${LOADMS[ipt-10]} | median) ms"
INFO[ipt-1000]="$(cat "$NP_TMP/ipt-1000.count") rules, restore $(printf '%s\n' ${LOADMS[ipt-1000]} | median) ms"

echo
printf '%-9s %8s %13s %7s %8s %13s %7s   %s\n' setup "Mbit/s" "(min-max)" "vs none" "conn/s" "(min-max)" "vs none" notes
for s in $SETUPS; do
	awk -v s="$s" -v t="${TPUT[$s]}" -v c="${CONN[$s]}" -v t0="${TPUT[none]}" -v c0="${CONN[none]}" \
	    -v tr="${TR[$s]}" -v cr="${CR[$s]}" -v i="${INFO[$s]}" \
		'BEGIN { printf "%-9s %8.0f %13s %6.0f%% %8.0f %13s %6.0f%%   %s\n", s, t, tr, t0 ? 100 * t / t0 : 0, c, cr, c0 ? 100 * c / c0 : 0, i }'
done
echo
awk -v a="${TPUT[nft-1000]}" -v b="${TPUT[none]}" -v c="${CONN[nft-10]}" -v d="${CONN[nft-1000]}" \
    -v e="${CONN[ipt-1000]}" 'BEGIN {
	printf "targets: throughput with 1,000 policies within 10%% of no table: %.1f%% (%s)\n", 100 * a / b, (a >= 0.9 * b) ? "met" : "NOT met"
	printf "         connection rate flat from 10 to 1,000 policies (within 10%%): %.1f%% (%s)\n", 100 * d / c, (d >= 0.9 * c) ? "met" : "NOT met"
	if (e > 0) printf "         nft / linear iptables connection rate at 1,000 policies: %.2fx\n", d / e
}'
