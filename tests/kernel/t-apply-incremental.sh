#!/bin/sh
# Incremental apply: after `apply A`, `apply B` must leave the kernel listing exactly what B
# renders (same comparison as t-equiv.sh), send only the difference (a pod added: a handful of
# messages, no set or table re-created), and keep the objects of unchanged policies (their named
# counters and chains keep their kernel handles, so counter values survive); a directory
# without policies empties the dispatch maps.
. "$(dirname "$0")/nsenv.sh"
A=np-$$-inca B=np-$$-incb
NSES="$A $B"
fail=0

# equal NAME DIR: the kernel in netns B lists what DIR renders (loaded with nft -f in netns A)
equal() {
	ip netns del $A 2>/dev/null; ip netns add $A || exit 1
	"$NETPOL" render "$2" | ip netns exec $A nft -f - || { echo "$1: nft -f failed"; fail=1; return; }
	norm_tables $A $B
	for t in inet bridge; do
		# both listings failing would compare equal: the render always holds both tables
		[ -s "$TMP/a.$t.norm" ] || { echo "$1: table $t empty after nft -f of the render"; fail=1; }
		if ! cmp -s "$TMP/a.$t.norm" "$TMP/b.$t.norm"; then
			echo "$1: table $t differs from the render (< render, > incremental apply):"
			diff "$TMP/a.$t.norm" "$TMP/b.$t.norm" | head -20
			fail=1
		fi
	done
}

apply() { # DIR -> stats in $TMP/stats
	ip netns exec $B "$NETPOL" apply --table-flags 0 --stats "$1" >"$TMP/stats" 2>&1 || {
		echo "apply $1 failed:"; cat "$TMP/stats"; fail=1; }
}

# 1. every multi-step case: apply each step on top of the previous one
for c in "$SRC"/tests/data/cases/*/2; do
	[ -d "$c" ] || continue
	case=$(basename "$(dirname "$c")")
	ip netns del $B 2>/dev/null; ip netns add $B || exit 1
	for step in "$(dirname "$c")"/*/; do
		step=${step%/}
		rm -rf "$TMP/step"; case_assemble "$step" "$TMP/step" >/dev/null || exit 1
		apply "$TMP/step"
		equal "$case step $(basename "$step")" "$TMP/step"
	done
	grep -q "incremental\|in sync" "$TMP/stats" || { echo "$case: last step was not incremental:"; cat "$TMP/stats"; fail=1; }
done

# 2. one pod added to a namespace whose pods a policy selects (and lists as peers)
rm -rf "$TMP/a" "$TMP/b"
case_assemble "$SRC/tests/data/cases/deny-ingress-from-other-namespaces/1" "$TMP/a" >/dev/null || exit 1
cp -r "$TMP/a" "$TMP/b"
sed -e 's/name: b$/name: d/' -e 's/pod: b$/pod: d/' -e 's/veth-xb/veth-xd/' \
	-e 's/10\.200\.0\.12/10.200.0.14/' -e 's/fd00:200::12/fd00:200::14/' \
	"$TMP/a/pod-x-b.yaml" >"$TMP/b/pod-x-d.yaml"
grep -q 10.200.0.14 "$TMP/b/pod-x-d.yaml" || { echo "test setup: pod x/d not generated"; exit 1; }
ip netns del $B 2>/dev/null; ip netns add $B || exit 1
apply "$TMP/a"
full_msgs=$(sed -n 's/.*messages \([0-9]*\),.*/\1/p' "$TMP/stats")
ip netns exec $B nft -a list table inet netpol >"$TMP/before.txt"
apply "$TMP/b"
cat "$TMP/stats"
equal "pod added" "$TMP/b"
msgs=$(sed -n 's/.*messages \([0-9]*\),.*/\1/p' "$TMP/stats")
grep -q "applied (incremental" "$TMP/stats" || { echo "pod added: not incremental"; fail=1; }
grep -q "sets 0, chains 1," "$TMP/stats" || { echo "pod added: expected no new set and one new chain"; fail=1; }
# the new pod: 2 dispatch elements, 3 anti-spoofing elements, its chain with ~6 rules, the
# begin/end and two table re-claims: well under 25 messages, versus $full_msgs for the full load
[ -n "$msgs" ] && [ "$msgs" -lt 25 ] && [ "$msgs" -lt "$full_msgs" ] || {
	echo "pod added: $msgs messages sent (full apply: $full_msgs)"; fail=1; }
# unchanged objects kept their handles: the named counter and the policy chain
ip netns exec $B nft -a list table inet netpol >"$TMP/after.txt"
for obj in 'counter cnt-x/deny' 'chain pol-x/' 'chain ing-x/a'; do
	h1=$(grep "$obj" "$TMP/before.txt" | grep -o '# handle [0-9]*')
	h2=$(grep "$obj" "$TMP/after.txt" | grep -o '# handle [0-9]*')
	if [ -z "$h1" ] || [ "$h1" != "$h2" ]; then
		echo "'$obj' was re-created (handle '$h1' -> '$h2')"; fail=1
	fi
done

# 3. back to A: the pod's objects are removed again, in one incremental transaction
apply "$TMP/a"
equal "pod removed" "$TMP/a"
grep -q "applied (incremental" "$TMP/stats" || { echo "pod removed: not incremental"; cat "$TMP/stats"; fail=1; }

# 4. generated clusters: fewer policies (removals), then another seed (almost everything
# changes), then back; each step incremental and equal to the render
GEN=${NETPOL_BUILD:-build}/tests/gen_cluster
case "$GEN" in /*) ;; *) GEN="$SRC/$GEN" ;; esac
if [ -x "$GEN" ]; then
	ip netns del $B 2>/dev/null; ip netns add $B || exit 1
	for spec in "1 40" "1 25" "2 40" "1 40"; do
		set -- $spec
		rm -rf "$TMP/gen"
		"$GEN" "$TMP/gen" --pods 300 --namespaces 10 --policies "$2" --nodes 3 --seed "$1" >/dev/null || exit 1
		apply "$TMP/gen"; head -1 "$TMP/stats"
		equal "generated seed $1, $2 policies" "$TMP/gen"
	done
	grep -q "applied (incremental" "$TMP/stats" || { echo "generated: not incremental"; cat "$TMP/stats"; fail=1; }
fi

# 5. no policies at all: every isolation goes (empty dispatch maps, no pod or policy chains)
rm -rf "$TMP/none"; mkdir -p "$TMP/none"; cp "$SRC"/tests/data/cases/_base/* "$TMP/none"/
apply "$TMP/none"
equal "no policies" "$TMP/none"
for m in ing4 ing6 egr4 egr6; do
	ip netns exec $B nft list map inet netpol $m | grep -q elements && {
		echo "map $m still has elements without policies"; fail=1; }
done
ip netns exec $B nft list table inet netpol | grep -q "chain \(ing\|egr\|pol\)-" && {
	echo "pod or policy chains left without policies"; fail=1; }
exit $fail
