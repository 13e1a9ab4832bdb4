# tests/lib/netns.sh — shared by the netsetup and CNI tests (sourced, never run on its own).
# Every test gets its own netns names (with $$) and state dir, and removes both on exit.
NETPOL=${NETPOL:-$(cd "$(dirname "$0")/../.." && pwd)/build/netpol}
[ "$(id -u)" = 0 ] || { echo "needs root"; exit 77; }
# tests/install-deps.sh installs these: missing, they are a broken setup, not a reason to skip
command -v socat >/dev/null || { echo "needs socat (tests/install-deps.sh)"; exit 2; }
command -v jq >/dev/null || { echo "needs jq (tests/install-deps.sh)"; exit 2; }
[ -x "$NETPOL" ] || { echo "no netpol binary at $NETPOL"; exit 2; }

T=np$$                      # prefix of every netns this test creates
STATE=$(mktemp -d /tmp/netpol-test.XXXXXX)
NSES=""
FAILS=0

cleanup() {
	for n in $NSES; do ip netns del "$n" 2>/dev/null; done
	rm -rf "$STATE"
	jobs -p | xargs -r kill 2>/dev/null
}
trap cleanup EXIT
trap 'exit 2' INT TERM HUP # dash runs the EXIT trap on a signal only through exit

mkns() { # name...
	for n in "$@"; do
		ip netns add "$n" || exit 1
		NSES="$NSES $n"
		ip -n "$n" link set lo up
	done
}

# np NODE SUBCOMMAND ARGS...: netpol net in the node's netns with this test's state dir.
np() {
	_node=$1 _sub=$2; shift 2
	ip netns exec "$_node" "$NETPOL" net "$_sub" --state-dir "$STATE" "$@"
}

pass() { echo "PASS: $*"; }
fail() { echo "FAIL: $*"; FAILS=$((FAILS + 1)); }
check() { # description, command...
	_d=$1; shift
	if "$@"; then pass "$_d"; else fail "$_d"; fi
}
fails() { ! "$@"; }
# denied FROM_NS TO_NS ADDR PORT: the connection must fail, and is given 1 s instead of 3. Only
# right after a `tcp` to the same address and family has connected: that shows the path works.
denied() { ! tcp "$1" "$2" "$3" "$4" 1; }
finish() { [ "$FAILS" -eq 0 ] && { echo "all passed"; exit 0; }; echo "$FAILS failed"; exit 1; }

# tcp FROM_NS TO_NS ADDR PORT [WAIT]: a server in TO_NS answers a token, FROM_NS must read it
# (connecting for WAIT seconds at most, 3 unless given).
tcp() {
	_tok="pong-$4-$$"
	case "$3" in *:*) _l=TCP6-LISTEN ;; *) _l=TCP-LISTEN ;; esac
	ip netns exec "$2" socat -T5 "$_l:$4,reuseaddr" SYSTEM:"echo $_tok" 2>/dev/null &
	_pid=$!
	_up=0
	for _i in $(seq 50); do
		ip netns exec "$2" ss -Hltn "sport = :$4" | grep -q . && { _up=1; break; }
		sleep 0.05
	done
	if [ $_up = 0 ]; then # no listener: neither a pass nor a denial, so the test fails
		kill "$_pid" 2>/dev/null; wait "$_pid" 2>/dev/null
		echo "FAIL: tcp: no server listening on $4 in $2, so this probe proves nothing"
		FAILS=$((FAILS + 1))
		return 2
	fi
	case "$3" in *:*) _a="[$3]" ;; *) _a=$3 ;; esac
	_out=$(ip netns exec "$1" timeout 5 socat -T3 - "TCP:$_a:$4,connect-timeout=${5:-3}" </dev/null 2>/dev/null)
	kill "$_pid" 2>/dev/null; wait "$_pid" 2>/dev/null
	[ "$_out" = "$_tok" ]
}

# The address of endpoint ID in network NET, by family (4|6), without the prefix length.
ep_addr() { # node net id family
	np "$1" inspect "$2" | jq -r --arg id "$3" --arg f "$4" \
		'.[0].Containers[$id] | if $f == "4" then .IPv4Address else .IPv6Address end | sub("/.*"; "")'
}
