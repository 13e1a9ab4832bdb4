# tests/lib/crash.sh — shared by the crash-consistency tests (tests/netsetup/t-crash.sh,
# tests/cni/t-crash.sh; sourced after tests/lib/netns.sh). A round starts operations in the
# background (crash_start), a random half of them SIGKILLed at a random instant, waits for them
# (crash_wait), and then judges the network the way a user sees it (crash_consistent): netpol net
# inspect, each container's eth0, the node's veths, the lease file, the intents.
#
# Set by the test: NODE (the node netns), CS (every container netns the test made), STATE.

# crash_start KIND ID MARKER COMMAND...: runs COMMAND in the background (its stderr kept for
# crash_said). A random half is SIGKILLed: half of those at a random instant of their life (0-2 s
# after the start, within the 1-3 s that 50 operations at once take here; the timer starts with
# the process), the other half at a random instant of their work, 0-150 ms after the file
# MARKER appears (started processes spend a varying part of their life, most under the
# sanitizers, before they change anything): an attach's record (its reservation, made early
# in its work by netpol with or without intents), a detach's intent
CRASH_PIDS="" CRASH_TIMERS=""
crash_start() {
	_kind=$1 _id=$2 _marker=$3
	shift 3
	"$@" >/dev/null 2>"$STATE/op-$_id.err" &
	_pid=$!
	CRASH_PIDS="$CRASH_PIDS $_pid:$_kind:$_id"
	case $((RANDOM % 4)) in
	0) (sleep "$((RANDOM % 2)).$(printf "%03d" $((RANDOM % 1000)))"; kill -9 $_pid 2>/dev/null) &
	   CRASH_TIMERS="$CRASH_TIMERS $!" ;;
	1) (crash_tick 500 "$_marker" && sleep "0.$(printf "%03d" $((RANDOM % 150)))"
	    kill -9 $_pid 2>/dev/null) &
	   CRASH_TIMERS="$CRASH_TIMERS $!" ;;
	esac
}

# crash_tick N FILE: true once FILE exists, looking every 10 ms, N times at most (read -t on a
# FIFO nobody writes: a sleep without a process per look)
[ -p "$STATE/.tick" ] || mkfifo "$STATE/.tick"
crash_tick() {
	exec 9<>"$STATE/.tick"
	for _t in $(seq "$1"); do
		[ -e "$2" ] && return 0
		read -r -t 0.01 -u 9
	done
	return 1
}

# crash_wait: waits for them; CRASH_KILLED is how many died of the SIGKILL while running (their
# pids in $STATE/killed)
crash_wait() {
	CRASH_KILLED=0
	: >"$STATE/killed"
	for _p in $CRASH_PIDS; do
		wait ${_p%%:*}
		[ $? = 137 ] && { CRASH_KILLED=$((CRASH_KILLED + 1)); echo ${_p%%:*} >>"$STATE/killed"; }
	done 2>/dev/null
	# only those: the test may run a daemon in the background
	[ -z "$CRASH_TIMERS" ] || wait $CRASH_TIMERS
	CRASH_PIDS="" CRASH_TIMERS=""
}

# crash_intents NET: intents on disk (after crash_wait, each a dead process's)
crash_intents() {
	ls "$1/intents/$2/" 2>/dev/null | grep -c '^[^.].*\.json$'
}

# crash_said ROUND NEXT_ERR: the operations that ran beside the killed ones, and the next one
# (its stderr in NEXT_ERR), settled what the killed ones left: every intent they say they settled
# is a killed process's
crash_said() {
	cat "$STATE"/op-*.err "$2" | grep -o 'pid [0-9]*) was killed' | awk '{ print $2 }' |
		tr -d ')' | sort >"$STATE/said"
	check "$1: $(wc -l <"$STATE/said") settled intents said, each a killed process's" \
		sh -c "sort '$STATE/killed' | comm -23 '$STATE/said' - | grep -q . && exit 1 || exit 0"
	rm -f "$STATE"/op-*.err
}

# crash_consistent ROUND NET STATE_DIR: the invariants of a network no operation is at work on,
# from one inspect, one listing of each container's eth0 and of the node's veths, and the lease
# file. Containers are named by their netns (the records' "Netns").
crash_consistent() {
	_sd=$3
	ip netns exec $NODE "$NETPOL" net inspect "$2" --state-dir "$_sd" >"$STATE/insp.json" ||
		{ fail "$1: inspect"; return; }
	for _c in $CS; do
		printf '{"c":"%s","ip":%s}\n' $_c "$(ip -n $_c -j addr show dev eth0 2>/dev/null || echo '[]')"
	done >"$STATE/kernel.json"
	ip -n $NODE -j link show type veth >"$STATE/veth.json"
	jq -n --slurpfile i "$STATE/insp.json" --slurpfile k "$STATE/kernel.json" \
		--slurpfile v "$STATE/veth.json" --slurpfile l "$_sd/ipam/$2.json" '
		($i[0][0].Containers | map_values(. + {ns: (.Netns | sub(".*/"; ""))})) as $eps
		| ([$eps[] | {key: .ns, value: .}] | from_entries) as $byns
		| ($k | map({key: .c, value: (.ip[0] // null)}) | from_entries) as $ifs
		| {
		  listed: ($eps | length),
		  broken: [$eps | to_entries[] | .key as $id | .value as $e | $ifs[$e.ns] as $x
			| select($e.MacAddress == null or ($e.IPv4Address | length) == 0 or $x == null
				or $x.address != $e.MacAddress
				or ([$x.addr_info[] | select(.family == "inet") | "\(.local)/\(.prefixlen)"]
				    | index($e.IPv4Address)) == null
				or ([$v[0][].ifname] | index($e.HostInterface)) == null) | $id],
		  dups: ([$eps[].IPv4Address | select(length > 0)] | group_by(.)
			 | map(select(length > 1) | .[0])),
		  orphans: [$ifs | to_entries[] | select(.value != null and $byns[.key] == null) | .key],
		  veths: (([$v[0][].ifname] | sort) == ([$eps[].HostInterface] | sort)),
		  leases: (($l[0].leases | keys | sort) ==
			   ([$eps[].IPv4Address | select(length > 0) | sub("/.*"; "")] | sort))
		}' >"$STATE/verdict.json"
	_v() { jq -r "$1" "$STATE/verdict.json"; }
	check "$1: each of the $(_v .listed) listed endpoints has its record, interface, address and node end$(_v '.broken | if length > 0 then " (not: \(join(" ")))" else "" end')" \
		[ "$(_v '.broken | length')" = 0 ]
	check "$1: no address on two endpoints$(_v '.dups | if length > 0 then " (\(join(" ")))" else "" end')" \
		[ "$(_v '.dups | length')" = 0 ]
	check "$1: every eth0 in the containers belongs to a listed endpoint$(_v '.orphans | if length > 0 then " (not: \(join(" ")))" else "" end')" \
		[ "$(_v '.orphans | length')" = 0 ]
	check "$1: every veth on the node is a listed endpoint's, and each has one" [ "$(_v .veths)" = true ]
	check "$1: the leases are exactly the listed addresses" [ "$(_v .leases)" = true ]
	check "$1: no intent left" [ "$(crash_intents "$_sd" "$2")" = 0 ]
}
