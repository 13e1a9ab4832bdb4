# tests/policyd/lib.sh — what the policyd tests share (sourced by bash scripts): the 9-pod
# topology of tests/lib/topo.sh (namespaces named after this shell's pid), a policyd in its
# node netns pointed at a temporary policy directory and state directory, real-connection
# probes that poll until a generous deadline, and check/finish bookkeeping. On exit (signals
# too) every process started here is stopped by its pid and the namespaces are deleted.
. "$(dirname "${BASH_SOURCE[0]}")/../lib/topo.sh"
POLICYD=${POLICYD:-$NP_BUILD/policyd}
PDTOOL="/usr/bin/python3 $NP_SRC/tests/tools/pdtool.py"
PD_PID="" PD_PIDS="" PD_NSES="" PD_FAILS=0 PD_DIR="" PD_STATE="" PD_LOG=""
PD_DEADLINE=${PD_DEADLINE:-20} # seconds a probe may take to show the expected verdict

pd_down() {
	local p
	[ -n "$PD_PID" ] && { kill -TERM "$PD_PID" 2>/dev/null; wait "$PD_PID" 2>/dev/null; }
	for p in $PD_PIDS; do kill "$p" 2>/dev/null; done
	for p in $PD_PIDS; do wait "$p" 2>/dev/null; done
	for p in $PD_NSES; do ip netns del "$p" 2>/dev/null; done
	if [ "$PD_FAILS" != 0 ] && [ -n "$PD_LOG" ] && [ -f "$PD_LOG" ]; then
		echo "---- policyd log (last 40 lines) ----"; tail -n 40 "$PD_LOG"
	fi
	np_topo_down
}

# pd_setup: skip unless root, build the topology, start the servers, fill the policy
# directory with the base inventory (9 pods, 3 namespaces, no policy).
pd_setup() {
	np_require_root
	[ -x "$POLICYD" ] || { echo "missing $POLICYD"; exit 2; }
	[ -x /usr/bin/python3 ] || { echo "needs /usr/bin/python3 (tests/install-deps.sh)"; exit 2; }
	trap pd_down EXIT
	trap "exit 2" INT TERM HUP
	np_topo_up || { echo "topology setup failed"; exit 1; }
	np_servers_start || { echo "servers did not start"; exit 1; }
	PD_DIR=$NP_TMP/policies PD_STATE=$NP_TMP/state PD_LOG=$NP_TMP/policyd.log
	np_base_inventory "$PD_DIR"
}

pd_ctl() { $PDTOOL ctl "$PD_STATE/policyd.sock" "$1"; }

# pd_start [ARGS...]: policyd in the node netns; waits until its control socket says the first
# sync is done.
pd_start() {
	local i
	# ip netns exec execs policyd: $! is policyd's own pid (signals reach it)
	ip netns exec "$NP_NODE" "$POLICYD" --policy-dir "$PD_DIR" --state-dir "$PD_STATE" \
		--metrics 127.0.0.1:9753 "$@" >>"$PD_LOG" 2>&1 &
	PD_PID=$!
	for i in $(seq 200); do
		pd_ctl '{"cmd":"status"}' 2>/dev/null | grep -q '"synced":true' && return 0
		kill -0 "$PD_PID" 2>/dev/null || break
		sleep 0.1
	done
	np_log "policyd did not become ready:"; tail -n 20 "$PD_LOG" >&2
	return 1
}

# pd_stop [SIGNAL]: signals policyd (TERM by default) and waits for it.
pd_stop() {
	kill -"${1:-TERM}" "$PD_PID" 2>/dev/null
	wait "$PD_PID" 2>/dev/null
	local rc=$?
	PD_PID=""
	return $rc
}

# pd_bg CMD...: runs CMD in the background; its pid is stopped on exit.
pd_bg() { "$@" & PD_PIDS="$PD_PIDS $!"; }

# probe FROM TO [PORT] [FAMILY] -> prints 1 (TCP connect succeeded) or 0
probe() {
	echo "$(np_pod_ns "$1") $(np_pod_addr "$2" "${4:-4}") tcp ${3:-80}" >"$NP_TMP/p1.in"
	"$NP_AGENT" probe --timeout-ms 400 "$NP_TMP/p1.in" | awk '{print $NF}'
}

# expect_conn FROM TO WANT [PORT]: polls until the probe gives WANT (1 connects, 0 blocked)
# or PD_DEADLINE passes. A blocked verdict is confirmed by a second probe.
expect_conn() {
	local end=$(( $(date +%s) + PD_DEADLINE )) got
	while :; do
		got=$(probe "$1" "$2" "${4:-80}")
		[ "$got" = "$3" ] && { [ "$3" = 1 ] || [ "$(probe "$1" "$2" "${4:-80}")" = 0 ]; } &&
			return 0
		[ "$(date +%s)" -ge "$end" ] && break
		sleep 0.1
	done
	np_log "  $1 -> $2:${4:-80}: got $got, wanted $3 after ${PD_DEADLINE}s"
	return 1
}

# check DESCRIPTION CMD...: runs CMD; counts a failure.
check() {
	local d=$1; shift
	if "$@"; then echo "ok   $d"; else echo "FAIL $d"; PD_FAILS=$((PD_FAILS + 1)); fi
}

pd_finish() {
	if [ "$PD_FAILS" != 0 ]; then echo "$PD_FAILS check(s) failed"; exit 1; fi
	echo "all checks passed"
}

# pd_metrics OUT: scrapes /metrics inside the node netns and parses it with
# prometheus_client (fails when it does not parse); OUT gets "name{labels} value" lines.
pd_metrics() {
	np_node curl -sf --max-time 10 http://127.0.0.1:9753/metrics >"$1.raw" || return 1
	$PDTOOL metrics-parse "$1.raw" >"$1"
}

# metric FILE 'name{labels}' -> its value (integer part), or nothing
metric() { awk -v k="$2" '$1 == k { v = $2; sub(/\.0$/, "", v); print v }' "$1"; }

# policy NAME NS [INGRESS_FROM_YAML]: a NetworkPolicy selecting every pod of NS for ingress;
# without a third argument it allows nothing (default deny), else the from: list given.
policy() {
	printf 'apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: %s\n  namespace: %s\nspec:\n  podSelector: {}\n  policyTypes: [Ingress]\n' "$1" "$2"
	if [ -n "${3:-}" ]; then printf '  ingress:\n  - from: %s\n' "$3"; fi
}

# put FILE < content: writes by rename into place (a temporary name in the same directory)
put() { cat >"$(dirname "$1")/.tmp.$$" && mv -f "$(dirname "$1")/.tmp.$$" "$1"; }

# pd_traffic_start: an echo server on x/a:90, a client on x/b keeping one connection to it busy
# (tests/tools/pdtool.py busy) and a client on y/a trying x/a:80 over and over (deny-probe),
# until pd_traffic_stop; their verdicts land in $NP_TMP/busy.out and $NP_TMP/deny.out. CLIENTS
# holds the clients' pids (more may be added); STOP is the file that stops them.
pd_traffic_start() {
	local xa i
	xa=$(np_pod_addr x/a 4)
	pd_bg ip netns exec "$(np_pod_ns x/a)" $PDTOOL echo-server 90 >"$NP_TMP/echo.log" 2>&1
	for i in $(seq 50); do grep -q ready "$NP_TMP/echo.log" && break; sleep 0.1; done
	STOP=$NP_TMP/stop
	pd_bg ip netns exec "$(np_pod_ns x/b)" $PDTOOL busy "$xa" 90 "$STOP" "$NP_TMP/busy.out"
	CLIENTS=$!
	pd_bg ip netns exec "$(np_pod_ns y/a)" $PDTOOL deny-probe "$xa" 80 "$STOP" "$NP_TMP/deny.out"
	CLIENTS="$CLIENTS $!"
}

pd_traffic_stop() {
	local p
	touch "$STOP"
	for p in $CLIENTS; do wait "$p" 2>/dev/null; done
}

# pd_wait_for CMD...: polls CMD until it succeeds or PD_DEADLINE passes.
pd_wait_for() {
	local end=$(( $(date +%s) + PD_DEADLINE ))
	until "$@"; do
		[ "$(date +%s)" -ge "$end" ] && return 1
		sleep 0.1
	done
}

# pd_flipper_start: after pd_traffic_start, a policy of namespace z (no pod of the traffic's)
# flips between deny-all and allow-from-z every 20 ms until STOP, so syncs keep coming.
pd_flipper_start() {
	(
		i=0
		while [ ! -e "$STOP" ]; do
			if [ $((i % 2)) = 0 ]; then policy flip z; else policy flip z '[{podSelector: {}}]'; fi |
				put "$PD_DIR/flip.yaml"
			i=$((i + 1)); sleep 0.02
		done
	) &
	PD_PIDS="$PD_PIDS $!" CLIENTS="$CLIENTS $!"
}

# pd_flip_pair: two versions of x's ingress policy, $NP_TMP/a.yaml (from x/b only) and
# $NP_TMP/b.yaml (from x/b and namespace z): both allow x/b -> x/a and deny y/a -> x/a, so any
# state between them must too. The policy directory starts with A (np-x.yaml).
pd_flip_pair() {
	policy np x '[{podSelector: {matchLabels: {pod: b}}}]' >"$NP_TMP/a.yaml"
	policy np x '[{podSelector: {matchLabels: {pod: b}}}, {namespaceSelector: {matchLabels: {ns: z}}}]' \
		>"$NP_TMP/b.yaml"
	cp "$NP_TMP/a.yaml" "$PD_DIR/np-x.yaml"
}

# pd_crash_restart [ARGS...]: fail-static across SIGKILL, on a running policyd (started with
# ARGS) whose x/a takes ingress from x/b only. Traffic runs (pd_traffic_start) while another
# namespace's policy flips every 20 ms; policyd is killed with SIGKILL. While it is dead the
# ruleset must keep enforcing (the table is there, y/a -> x/a stays denied, a new x/b -> x/a
# connection connects), and a restart with ARGS must adopt the tables without a flush: the
# long-lived allowed connection saw no error across the kill and the restart, the denied flow
# never connected, and the restart's first sync was no full replace.
pd_crash_restart() {
	local old=$PD_PID
	pd_traffic_start
	pd_flipper_start
	sleep 1
	pd_stop KILL
	echo "    policyd ($old) killed with SIGKILL"
	check "while dead: our table is still there" \
		sh -c "ip netns exec $NP_NODE nft list tables | grep -q 'table inet netpol'"
	sleep 1
	check "while dead: y/a -> x/a still denied" expect_conn y/a x/a 0
	check "while dead: a new x/b -> x/a connection still connects" expect_conn x/b x/a 1
	check "restart adopts the tables" pd_start "$@"
	sleep 1
	pd_traffic_stop
	sed 's/^/    /' "$NP_TMP/busy.out" "$NP_TMP/deny.out"
	check "the long-lived allowed connection survived the kill and the restart (0 errors)" \
		grep -q "roundtrips [1-9][0-9]* errors 0" "$NP_TMP/busy.out"
	check "the denied flow never connected across both" \
		grep -q "attempts [1-9][0-9]* connected 0$" "$NP_TMP/deny.out"
	check "the restart sent no flush (no table delete in its first sync)" \
		sh -c "grep 'sync 1 (start)' '$PD_LOG' | tail -1 | grep -vq 'full replace'"
}
