#!/bin/sh
# Render/apply equivalence: for several policy directories, `netpol render DIR | nft -f -` in one
# throwaway netns and `netpol apply DIR` (libnftnl) in another must list identically
# (`nft -j list table ...`, normalized by tests/tools/nftnorm.py: handles, counter values, table
# flags and element order dropped, each rule's position in its chain kept). Apply
# runs with --table-flags 0: nft 1.0.6 reads past its flag names when it prints the PERSIST flag
# in JSON and emits garbage.
# `make check` loads the first step of every other case (the 2nd, 4th, ... in name order: the
# half that tests/kernel/t-conformance.sh's stride leaves out in `make check`) and every other
# directory; NETPOL_FULL=1 (`make check-full`) the first step of every case.
. "$(dirname "$0")/nsenv.sh"
A=np-$$-eqa B=np-$$-eqb
NSES="$A $B"

# the directories: our own small one (a permissive admin-tier policy alone), every case's first
# step, the example policies
n=1; cp -r "$SRC/tests/data/permissive-admin" "$TMP/dir$n" || exit 1
i=0
for c in $(ls -d "$SRC"/tests/data/cases/*/1 | LC_ALL=C sort); do
	i=$((i + 1))
	[ -n "${NETPOL_FULL:-}" ] || [ $((i % 2)) = 0 ] || continue
	n=$((n + 1)); case_assemble "$c" "$TMP/dir$n" >/dev/null 2>&1 || exit 1
done
# the admin tiers: a few steps of the conformance port (every peer, port and action kind) and
# the admin golden inputs
for c in "$SRC"/tests/data/admin-cases/CNPAdminTierGress/1 "$SRC"/tests/data/admin-cases/CNPAdminTierEgressNodePeers/1 \
	"$SRC"/tests/data/admin-cases/CNPAdminTierIngressNamedPort/1 \
	"$SRC"/tests/data/admin-cases/CNPBaselineTierEgressInlineCIDRPeers/4 "$SRC"/tests/data/golden/admin-*/in; do
	[ -d "$c" ] || continue
	n=$((n + 1))
	case $c in
	*/in) cp -r "$c" "$TMP/dir$n" ;;
	*) case_assemble "$c" "$TMP/dir$n" >/dev/null 2>&1 || exit 1 ;;
	esac
done
for d in "$SRC/policies" "$SRC"/policies/*/; do
	ls "$d"/*.yaml >/dev/null 2>&1 || ls "$d"/*.json >/dev/null 2>&1 || continue
	n=$((n + 1)); mkdir -p "$TMP/dir$n"
	cp "$d"/*.yaml "$TMP/dir$n"/ 2>/dev/null; cp "$d"/*.json "$TMP/dir$n"/ 2>/dev/null
done

# a small generated cluster: every policy shape the generator knows (gen_cluster.c)
GEN=${NETPOL_BUILD:-build}/tests/gen_cluster
case "$GEN" in /*) ;; *) GEN="$SRC/$GEN" ;; esac
if [ -x "$GEN" ]; then
	n=$((n + 1)); "$GEN" "$TMP/dir$n" --pods 300 --namespaces 10 --policies 40 --nodes 3 >/dev/null || exit 1
	GENDIR=$TMP/dir$n
fi

fail=0
# compare DIR [OPTIONS]: render+nft -f in A, apply in B, same listings, status in sync
compare() {
	dir=$1; shift
	ip netns del $A 2>/dev/null; ip netns del $B 2>/dev/null
	ip netns add $A && ip netns add $B || exit 1
	if ! "$NETPOL" render "$@" "$dir" >"$TMP/r.nft"; then
		echo "render failed for $dir $*"; fail=1; return
	fi
	ip netns exec $A nft -f "$TMP/r.nft" || { echo "nft -f failed for $dir $*"; fail=1; return; }
	ip netns exec $B "$NETPOL" apply --table-flags 0 "$@" "$dir" >"$TMP/apply.out" 2>&1 || {
		echo "apply failed for $dir $*:"; cat "$TMP/apply.out"; fail=1; return; }
	norm_tables $A $B
	for t in inet bridge; do
		case "$t $*" in
		bridge*--no-spoof*) [ -s "$TMP/b.$t.norm" ] && { echo "$dir $*: bridge table applied"; fail=1; } ;;
		*) [ -s "$TMP/a.$t.norm" ] || { echo "$dir $*: table $t empty after nft -f"; fail=1; } ;;
		esac
		if ! cmp -s "$TMP/a.$t.norm" "$TMP/b.$t.norm"; then
			echo "MISMATCH $dir $* table $t (< nft -f, > apply):"
			diff "$TMP/a.$t.norm" "$TMP/b.$t.norm" | head -20
			fail=1
		fi
	done
	# the applied table must also read back as in sync
	ip netns exec $B "$NETPOL" status --table-flags 0 "$@" "$dir" >"$TMP/status.out" 2>&1 || {
		echo "status not in sync after apply for $dir $*:"; cat "$TMP/status.out"; fail=1; }
}
for dir in "$TMP"/dir*; do
	compare "$dir"
done
# the options that change the rules: reject instead of drop, one node's pods, no bridge table
compare "$TMP/dir$n" --reject
compare "$TMP/dir$n" --node node-1 --no-spoof
[ -n "$GENDIR" ] && compare "$GENDIR" --node node-01
echo "$n directories compared"
[ $n -ge 3 ] || { echo "too few directories"; exit 1; }
exit $fail
