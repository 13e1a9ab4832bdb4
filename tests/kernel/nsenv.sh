# tests/kernel/nsenv.sh — the start every single-netns apply test shares (sourced): paths, root,
# tools, a temp dir $TMP, and on any exit (signals too) the removal of the namespaces the test
# lists in $NSES and of $HOLDER, a background process some tests keep as the table's owner.
SRC=${NETPOL_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
NETPOL=${NETPOL:-$SRC/build/netpol}
[ "$(id -u)" = 0 ] || { echo "needs root"; exit 77; }
for tool in nft python3; do # tests/install-deps.sh installs both: missing is a broken setup
	command -v $tool >/dev/null || { echo "needs $tool (tests/install-deps.sh)"; exit 2; }
done
TMP=$(mktemp -d)
NSES="" HOLDER=""
cleanup() {
	[ -n "$HOLDER" ] && { kill "$HOLDER" 2>/dev/null; wait "$HOLDER" 2>/dev/null; }
	for n in $NSES; do ip netns del "$n" 2>/dev/null; done
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 2' INT TERM HUP # dash runs the EXIT trap on a signal only through exit
. "$SRC/tests/lib/cases.sh"

# norm_tables NS_A NS_B: `nft -j list table` of netpol's two tables (inet netpol, bridge
# netpol-spoof) in both namespaces, normalized by tests/tools/nftnorm.py (one python start for all
# four) into $TMP/a.inet.norm, $TMP/a.bridge.norm, $TMP/b.inet.norm, $TMP/b.bridge.norm. A
# table that cannot be listed normalizes to an empty file.
norm_tables() {
	local side ns ft args=""
	for side in a b; do
		if [ $side = a ]; then ns=$1; else ns=$2; fi
		for ft in inet:netpol bridge:netpol-spoof; do
			ip netns exec "$ns" nft -j list table "${ft%:*}" "${ft#*:}" >"$TMP/$side.${ft%:*}.json" \
				2>/dev/null || echo '{}' >"$TMP/$side.${ft%:*}.json"
			args="$args $TMP/$side.${ft%:*}.json $TMP/$side.${ft%:*}.norm"
		done
	done
	python3 "$SRC/tests/tools/nftnorm.py" $args
}
