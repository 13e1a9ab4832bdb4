# tests/lib/etcd.sh — three simulated hosts on a real etcd cluster, for tests/store/ and
# tests/bench/store.sh (sourced after tests/lib/netns.sh, which gives $T, $STATE, mkns, check,
# tcp and the cleanup trap; this wraps the trap so members and daemons stop first).
#
# Hosts h1..h3 are network namespaces on one underlay bridge (namespace $UL), 10.99.250.N on
# their ul0. Each runs one etcd member (--pre-vote: without it the cluster took 7 s instead of
# 0.7 s to recover from a lost quorum) listening on its own underlay address, and one policyd
# (--store, --node hN). Nothing runs in the root namespace; every process is stopped by the PID
# it was started with, and members, daemons, namespaces and $STATE go on exit, even on failure.
command -v etcd >/dev/null && command -v etcdctl >/dev/null ||
	{ echo "needs etcd-server and etcd-client (tests/install-deps.sh)"; exit 2; }
ETCD_BUILD=${NETPOL_BUILD:-build}
case "$ETCD_BUILD" in /*) ;; *) ETCD_BUILD="$(cd "$(dirname "$0")/../.." && pwd)/$ETCD_BUILD" ;; esac
POLICYD=${POLICYD:-$ETCD_BUILD/policyd}
[ -x "$POLICYD" ] || { echo "no policyd at $POLICYD"; exit 2; }

UL=${T}ul H1=${T}h1 H2=${T}h2 H3=${T}h3
STORE=etcd://10.99.250.1:2379,10.99.250.2:2379,10.99.250.3:2379
ETCD_EPS=http://10.99.250.1:2379,http://10.99.250.2:2379,http://10.99.250.3:2379
ETCD_CLUSTER=m1=http://10.99.250.1:2380,m2=http://10.99.250.2:2380,m3=http://10.99.250.3:2380

host() { # N: the namespace of host N
	eval echo "\$H$1"
}

# gone PID: the process has exited (a zombie of ours counts: it is reaped by wait)
gone() {
	! [ -e /proc/$1 ] || grep -q '^State:.*Z' /proc/$1/status 2>/dev/null
}

# stop PIDFILE...: SIGTERM, then SIGKILL what is still there after 3 s
stop() {
	for f in "$@"; do
		[ -e "$f" ] && p=$(cat "$f") && kill "$p" 2>/dev/null
	done
	for f in "$@"; do
		[ -e "$f" ] && p=$(cat "$f") || continue
		for _i in $(seq 30); do gone "$p" && break; sleep 0.1; done
		gone "$p" || kill -9 "$p" 2>/dev/null
		wait "$p" 2>/dev/null
		rm -f "$f"
	done
}

etcd_cleanup() {
	stop "$STATE"/run/srv-*.pid
	stop "$STATE"/run/pd*.pid
	stop "$STATE"/run/m*.pid
	cleanup
}
trap etcd_cleanup EXIT

# etcd_topo: the underlay and the three hosts
etcd_topo() {
	mkns "$UL" "$H1" "$H2" "$H3"
	mkdir -p "$STATE/run"
	ip -n "$UL" link add ul type bridge && ip -n "$UL" link set ul up
	for i in 1 2 3; do
		h=$(host $i)
		ip -n "$UL" link add p$i type veth peer name ul0 netns "$h"
		ip -n "$UL" link set p$i master ul up
		ip -n "$h" addr add 10.99.250.$i/24 dev ul0
		ip -n "$h" link set ul0 up
		ip netns exec "$h" sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0
	done
}

# etcd_start N...: member N in host N (same data directory on a restart)
etcd_start() {
	for i in "$@"; do
		ip netns exec "$(host $i)" etcd --name m$i --data-dir "$STATE/etcd/m$i" \
			--listen-client-urls http://10.99.250.$i:2379 \
			--advertise-client-urls http://10.99.250.$i:2379 \
			--listen-peer-urls http://10.99.250.$i:2380 \
			--initial-advertise-peer-urls http://10.99.250.$i:2380 \
			--initial-cluster "$ETCD_CLUSTER" --initial-cluster-token t$$ \
			--initial-cluster-state new --pre-vote \
			--heartbeat-interval 50 --election-timeout 500 \
			>>"$STATE/run/m$i.log" 2>&1 &
		echo $! >"$STATE/run/m$i.pid"
	done
}

# etcd_kill N...: SIGKILL member N
etcd_kill() {
	for i in "$@"; do
		p=$(cat "$STATE/run/m$i.pid") && kill -9 "$p" 2>/dev/null
		wait "$p" 2>/dev/null
		rm -f "$STATE/run/m$i.pid"
	done
}

etcdctl_() { # etcdctl from host 1 against every member
	ip netns exec "$H1" etcdctl --endpoints=$ETCD_EPS --dial-timeout=1s --command-timeout=2s "$@"
}

# etcd_healthy [SECONDS]: waits until every member says it is healthy
etcd_healthy() {
	_n=$(( ${1:-20} * 10 ))
	for _i in $(seq $_n); do
		etcdctl_ endpoint health --cluster >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	echo "etcd cluster not healthy; logs:"; tail -n 5 "$STATE"/run/m*.log
	return 1
}

# etcd_up: topology, three members, healthy
etcd_up() {
	etcd_topo
	etcd_start 1 2 3
	etcd_healthy 30 || exit 1
}

# pd_start N [ARGS...]: policyd as host N's agent (state $STATE/hN, policies $STATE/polN)
pd_start() {
	_i=$1; shift
	mkdir -p "$STATE/h$_i" "$STATE/pol$_i"
	ip netns exec "$(host $_i)" "$POLICYD" --store "$STORE" --node h$_i \
		--policy-dir "$STATE/pol$_i" --state-dir "$STATE/h$_i" --metrics none \
		--resync 0 "$@" >>"$STATE/run/pd$_i.log" 2>&1 &
	echo $! >"$STATE/run/pd$_i.pid"
}

# pd_ready N: waits until host N's agent is registered (its registration file names a lease)
pd_ready() {
	for _i in $(seq 100); do
		grep -q '"lease": "[1-9]' "$STATE/h$1/agent.json" 2>/dev/null && return 0
		sleep 0.1
	done
	echo "policyd h$1 not registered; log:"; tail -n 20 "$STATE/run/pd$1.log"
	return 1
}

pd_kill() { # N: SIGKILL host N's policyd (pd_stop N: SIGTERM)
	p=$(cat "$STATE/run/pd$1.pid") && kill -9 "$p" 2>/dev/null
	wait "$p" 2>/dev/null
	rm -f "$STATE/run/pd$1.pid"
}
pd_stop() {
	stop "$STATE/run/pd$1.pid"
}

# nn N SUBCOMMAND ARGS...: netpol net on host N with its agent's state directory and the store
nn() {
	_i=$1 _sub=$2; shift 2
	ip netns exec "$(host $_i)" "$NETPOL" net "$_sub" --store "$STORE" --state-dir "$STATE/h$_i" "$@"
}

# addr_of N NET ID FAMILY: the address of endpoint ID, without its length, as host N sees it
addr_of() {
	nn "$1" inspect "$2" | jq -r --arg id "$3" --arg f "$4" \
		'.[0].Containers[$id] | if $f == "4" then .IPv4Address else .IPv6Address end | sub("/.*"; "")'
}

# pd_exit_ok N: SIGTERM host N's policyd; it must exit 0 with no sanitizer report in its log
# (a leak or a UBSan error under the sanitizer build fails the test here)
pd_exit_ok() {
	p=$(cat "$STATE/run/pd$1.pid") || return 1
	kill "$p" 2>/dev/null
	wait "$p"
	_rc=$?
	rm -f "$STATE/run/pd$1.pid"
	if [ $_rc != 0 ] || grep -qE "Sanitizer|runtime error" "$STATE/run/pd$1.log"; then
		echo "policyd h$1 exited $_rc; log:"; tail -n 30 "$STATE/run/pd$1.log"
		return 1
	fi
}

# poll SECONDS CMD...: retries CMD every 50 ms until it succeeds (0) or SECONDS pass (1);
# POLL_MS then holds how long it took
poll() {
	_end=$(( $(date +%s%N) / 1000000 + $1 * 1000 )) _t0=$(( $(date +%s%N) / 1000000 ))
	shift
	while :; do
		if "$@"; then POLL_MS=$(( $(date +%s%N) / 1000000 - _t0 )); return 0; fi
		[ $(( $(date +%s%N) / 1000000 )) -ge $_end ] && { POLL_MS=-1; return 1; }
		sleep 0.05
	done
}

mac_of() { # NETNS: the MAC of its eth0
	ip -n "$1" -j link show eth0 | jq -r '.[0].address'
}
# fdb_has N MAC [DST]: host N's vxlan device (VNI 42) forwards MAC (to DST)
fdb_has() {
	ip netns exec "$(host $1)" bridge fdb show dev npvx42 | grep -q "^$2 dst ${3:-}"
}
# neigh_has N ADDR MAC: host N answers ADDR with MAC (the proxy entry)
neigh_has() {
	ip -n "$(host $1)" neigh show dev npvx42 | grep -q "^$2 lladdr $3 PERMANENT"
}
fdb_gone() { ! fdb_has "$@"; }
neigh_gone() { ! ip -n "$(host $1)" neigh show dev npvx42 | grep -q "^$2 "; }

NP_AGENT=$ETCD_BUILD/tests/np_agent
[ -x "$NP_AGENT" ] || { echo "no np_agent at $NP_AGENT (make tests-built)"; exit 2; }

# pods_table NET: "NETNS IPV4 IPV6 HOSTADDR" per endpoint of NET, as host 1 sees them
pods_table() {
	nn 1 inspect "$1" | jq -r '.[0].Containers | to_entries[] |
		"\(.key) \(.value.IPv4Address|sub("/.*";"")) \(.value.IPv6Address|sub("/.*";"")) \(.value.Host)"'
}

# servers_start NETNS...: np_agent serve (TCP+UDP, v4+v6, port 80) in each; waits for all
servers_start() {
	for ns in "$@"; do
		ip netns exec "$ns" "$NP_AGENT" serve --ports 80 >"$STATE/run/srv-$ns.log" 2>&1 &
		echo $! >"$STATE/run/srv-$ns.pid"
	done
	for ns in "$@"; do
		poll 30 grep -q ready "$STATE/run/srv-$ns.log" || { echo "no server in $ns"; return 1; }
	done
}

# probe_all TABLE OUT: TCP between every two endpoints of TABLE (pods_table's lines), from the
# one listed first to the other (a connection carries packets both ways), over IPv4 and IPv6;
# OUT gets "FROM ADDR tcp 80 1|0" per pair and family. The kernel's neighbour tables are one
# per family for the whole machine (gc_thresh3: 1,024 entries, every namespace together) and a
# pair costs an entry at each end: the 1,770 pairs of 60 endpoints at once overflow it (the
# kernel then drops resolutions). So the pairs go in batches of at most 200 (400 entries per
# family), all of a batch at once, and the entries are flushed before the next.
probe_all() {
	: >"$2"
	awk '{ ns[NR] = $1; a4[NR] = $2; a6[NR] = $3; m = NR }
		END { b = 0; k = 0
			for (i = 1; i <= m; i++) for (j = i + 1; j <= m; j++) {
				if (k++ == 200) { b++; k = 1 }
				print b, ns[i], a4[j], "tcp", 80; print b, ns[i], a6[j], "tcp", 80 } }' \
		"$1" >"$STATE/probe.all"
	for b in $(awk '{print $1}' "$STATE/probe.all" | uniq); do
		awk -v b=$b '$1 == b { $1 = ""; sub(/^ /, ""); print }' "$STATE/probe.all" >"$STATE/probe.in"
		"$NP_AGENT" probe --timeout-ms 2000 "$STATE/probe.in" >>"$2" || return 1
		for ns in $(awk '{print $1}' "$1"); do ip -n "$ns" neigh flush all 2>/dev/null; done
	done
}

q() { "$@" >/dev/null; } # CMD... with its output dropped (attach prints the record)
