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
. "$SRC/tests/cases/lib.sh"
