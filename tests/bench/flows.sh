#!/bin/sh
# Flow collection benchmark (issue 16), on the 9-pod topology of tests/lib/topo.sh, x/a -> x/b
# allowed by x/b's ingress and x/a's egress policies:
#   conn/s           np_agent connrate x/a -> x/b:80 (connect, read a byte, close), SECS s,
#                    RUNS interleaved rounds, median: policyd --flows none (conntrack accounting
#                    and timestamps off) vs policyd collecting (the default)
#   policyd CPU      at 10,000 new connections a second (UDP x/a -> x/b, a new port each: one
#                    conntrack entry, one NEW event, one record), collecting vs not: its utime +
#                    stime over 5 s
#   drops/s          the NFLOG reader's capacity: a bench table (ours, in the node's netns) logs
#                    every UDP packet to x/b's ports 30000-39999 with x/b's drop point prefix, no
#                    rate limit, and drops it; rates stepped up, 2 s each, until the first loss
#   attribution      what the alternatives would cost the datapath, without policyd: conn/s with
#                    netpol's rendered ruleset, the same with every allow rule writing its id
#                    into a masked ct mark, and with every allow rule logging the new connection
#                    to NFLOG (read by netpol flows --collect), and the CPU each connection cost
#                    the client (its packets cross the node's forward hook in its own context,
#                    softirq included) and, for NFLOG, the reader. Per packet: the allow rules
#                    are reached only by a connection's first packet (`ct state
#                    established,related accept` comes first), so no mechanism costs an
#                    established packet anything; the chosen evaluator changes no rule at all,
#                    its per-connection cost is policyd's CPU above (on minus off)
# Figures are printed, not asserted. Env: NETPOL_BUILD, SECS (3), RUNS (3).
[ -n "$BASH_VERSION" ] || exec bash "$0" "$@"
set -u
. "$(dirname "$0")/../lib/topo.sh"
SECS=${SECS:-3}
RUNS=${RUNS:-3}
POLICYD=${POLICYD:-$NP_BUILD/policyd}
FLOWGEN="/usr/bin/python3 $NP_SRC/tests/tools/flowgen.py"
np_require_root
np_require_netpol apply
PD=""
COLLECT=""
stop_pd() { [ -n "$PD" ] && { kill -TERM "$PD" 2>/dev/null; wait "$PD" 2>/dev/null; }; PD=""; }
bench_down() {
	stop_pd
	[ -n "$COLLECT" ] && { kill "$COLLECT" 2>/dev/null; wait "$COLLECT" 2>/dev/null; }
	np_topo_down
}
trap bench_down EXIT
trap "exit 2" INT TERM HUP
np_topo_up || exit 1
np_servers_start || exit 1
np_node sh -c 'f=/proc/sys/net/netfilter/nf_conntrack_tcp_timeout_time_wait; [ -w $f ] && echo 1 >$f; true'
DIR=$NP_TMP/policies STATE=$NP_TMP/state
np_base_inventory "$DIR"
cat >"$DIR/bench.yaml" <<'YAML'
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: b-from-a, namespace: x}
spec:
  podSelector: {matchLabels: {pod: b}}
  ingress:
  - from: [{podSelector: {matchLabels: {pod: a}}}]
    ports: [{port: 80}, {port: 20000, endPort: 40000, protocol: UDP}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: a-to-b, namespace: x}
spec:
  podSelector: {matchLabels: {pod: a}}
  policyTypes: [Egress]
  egress:
  - to: [{podSelector: {matchLabels: {pod: b}}}]
YAML
XB=$(np_pod_addr x/b 4)
CLIENT=$(np_pod_ns x/a)

# start_pd on|off
start_pd() {
	stop_pd
	local args=()
	if [ "$1" = off ]; then
		args=(--flows none)
		# what collection turned on costs every new connection: off again (per netns)
		np_node sh -c 'echo 0 >/proc/sys/net/netfilter/nf_conntrack_acct;
			echo 0 >/proc/sys/net/netfilter/nf_conntrack_timestamp'
	fi
	ip netns exec "$NP_NODE" "$POLICYD" --policy-dir "$DIR" --state-dir "$STATE" "${args[@]}" \
		>>"$NP_TMP/policyd.log" 2>&1 &
	PD=$!
	local i
	for i in $(seq 100); do
		[ -S "$STATE/policyd.sock" ] &&
			np_node "$NETPOL" status "$DIR" --state-dir "$STATE" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	echo "policyd did not start"; tail "$NP_TMP/policyd.log"; exit 1
}
connrate() { ip netns exec "$CLIENT" "$NP_AGENT" connrate --seconds "$SECS" "$XB" 80 | awk '{print $NF}' | sed 's,/s,,'; }
# connrate_cpu: "RATE US" (conn/s, and the client's CPU in microseconds a connection)
connrate_cpu() {
	/usr/bin/time -f '%U %S' -o "$NP_TMP/time" ip netns exec "$CLIENT" "$NP_AGENT" connrate \
		--seconds "$SECS" "$XB" 80 >"$NP_TMP/rate"
	awk 'NR == FNR { cpu = $1 + $2; next } { n = $2; r = $NF; sub("/s", "", r) }
	     END { printf "%s %.1f\n", r, n ? 1e6 * cpu / n : 0 }' "$NP_TMP/time" "$NP_TMP/rate"
}
median() { tr ' ' '\n' | grep . | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$PD/stat"; }
status_of() { np_node "$NETPOL" status "$DIR" --state-dir "$STATE" 2>/dev/null | grep "^policyd: flows"; }
ctl() { /usr/bin/python3 "$NP_SRC/tests/tools/pdtool.py" ctl "$STATE/policyd.sock" "$1"; }

echo "-- new connections/s x/a -> x/b:80 (median of $RUNS rounds of ${SECS} s, interleaved)"
off="" on=""
for r in $(seq "$RUNS"); do
	start_pd off; off="$off $(connrate)"
	start_pd on; on="$on $(connrate)"
done
m_off=$(echo "$off" | median) m_on=$(echo "$on" | median)
echo "   collection off: $m_off conn/s   (runs:$off)"
echo "   collection on:  $m_on conn/s   (runs:$on)"
awk -v a="$m_on" -v b="$m_off" 'BEGIN { printf "   on / off: %.2fx (target >= 0.9x)\n", a / b }'
echo "   $(status_of)"

echo "-- policyd CPU at 10,000 new connections/s (UDP, a new port each, 5 s)"
for mode in off on; do
	start_pd $mode
	t0=$(cpu_ticks)
	sent=$(ip netns exec "$CLIENT" $FLOWGEN udp-rate "$XB" 20000 10000 5 20000)
	t1=$(cpu_ticks)
	tck=$(getconf CLK_TCK)
	awk -v m=$mode -v d=$((t1 - t0)) -v h="$tck" -v s="$sent" 'BEGIN {
		split(s, f, " "); n = f[2]; secs = f[4]
		printf "   collection %-3s: %.1f %% of one core (%s datagrams in %s s: %.0f/s), %.1f us of CPU a connection\n",
			m, 100 * d / h / secs, n, secs, n / secs, 1e6 * d / h / n }'
	[ $mode = on ] && echo "   $(status_of)"
done

echo "-- drops/s recorded before the first loss (the NFLOG reader; rates stepped up, 2 s each)"
XB_ID=$(np_node nft list chain inet netpol ing-x/b | sed -n 's/.*log prefix "\(np:D:I:[0-9a-f]*\)".*/\1/p')
np_node nft -f - <<NFT
table inet flowbench {
	chain bench {
		type filter hook forward priority -20; policy accept;
		ip daddr $XB udp dport 30000-39999 log prefix "$XB_ID" group 100 drop
	}
}
NFT
for rate in 2000 5000 10000 20000 40000 80000; do
	l0=$(ctl '{"cmd":"status"}' | jq '.flows.lost.nflog')
	n0=$(ctl '{"cmd":"status"}' | jq '.flows.next_seq')
	sent=$(ip netns exec "$(np_pod_ns y/a)" $FLOWGEN udp-rate "$XB" 30000 $rate 2 10000)
	sleep 0.3
	l1=$(ctl '{"cmd":"status"}' | jq '.flows.lost.nflog')
	n1=$(ctl '{"cmd":"status"}' | jq '.flows.next_seq')
	echo "$sent" | awk -v r=$rate -v rec=$((n1 - n0)) -v lost=$((l1 - l0)) '{
		printf "   asked %6d/s: sent %.0f/s, %d records (%.0f/s), %d lost\n", r, $2 / $4, rec, rec / $4, lost }'
	[ $((l1 - l0)) -gt 0 ] && break
done
np_node nft delete table inet flowbench

echo "-- attribution: conn/s with the ruleset alone (no policyd), and with each alternative"
stop_pd
np_node "$NETPOL" flush >/dev/null
"$NETPOL" render "$DIR" >"$NP_TMP/plain.nft"
sed 's/\(counter name "cnt-[^"]*"\) accept/\1 ct mark set ct mark and 0xffff0000 or 0x00001234 accept/' \
	"$NP_TMP/plain.nft" >"$NP_TMP/mark.nft"
sed 's/\(counter name "cnt-[^"]*"\) accept/\1 log prefix "np:A:bench" group 101 accept/' \
	"$NP_TMP/plain.nft" >"$NP_TMP/nflog.nft"
echo "   allow rules changed: mark $(grep -c 'ct mark set' "$NP_TMP/mark.nft"), nflog $(grep -c 'group 101' "$NP_TMP/nflog.nft")"
# (ip netns exec execs netpol: $! is its pid)
ip netns exec "$NP_NODE" "$NETPOL" flows --collect --nflog-group 101 -o json >/dev/null 2>&1 &
COLLECT=$!
declare -A rates cpus
reader_us=""
for r in $(seq "$RUNS"); do
	for v in plain mark nflog; do
		np_node nft -f "$NP_TMP/$v.nft" || exit 1
		t0=$(awk '{ print $14 + $15 }' "/proc/$COLLECT/stat")
		set -- $(connrate_cpu)
		t1=$(awk '{ print $14 + $15 }' "/proc/$COLLECT/stat")
		rates[$v]="${rates[$v]:-} $1"
		cpus[$v]="${cpus[$v]:-} $2"
		[ $v = nflog ] && reader_us="$reader_us $(awk -v d=$((t1 - t0)) -v h="$(getconf CLK_TCK)" \
			-v r="$1" -v s="$SECS" 'BEGIN { printf "%.1f", r ? 1e6 * d / h / (r * s) : 0 }')"
	done
done
base=$(echo "${rates[plain]}" | median) base_us=$(echo "${cpus[plain]}" | median)
for v in plain mark nflog; do
	m=$(echo "${rates[$v]}" | median) us=$(echo "${cpus[$v]}" | median)
	awk -v v=$v -v m="$m" -v b="$base" -v us="$us" -v bu="$base_us" -v runs="${rates[$v]}" \
		-v cpus="${cpus[$v]}" 'BEGIN {
		printf "   %-6s %6d conn/s %.2fx, client CPU %5.1f us a connection (%+.1f)   (runs:%s; us:%s)\n",
			v, m, m / b, us, us - bu, runs, cpus }'
done
echo "   nflog: the reader (netpol flows --collect) spent $(echo "$reader_us" | median) us a connection (runs:$reader_us)"
