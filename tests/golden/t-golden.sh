#!/bin/sh
# Golden tests for `netpol render`: every tests/data/golden/<case>/in/ rendered (with the extra
# arguments in <case>/args, if any) must equal <case>/expected.nft byte for byte, and a second
# render must be byte-identical to the first (determinism). Then, in a network namespace this
# script creates and deletes, every expected.nft must pass `nft -c -f` (the kernel's own
# checks) and load with `nft -f`; the cases are loaded one after the other, so each load also
# proves the script replaces an existing netpol table. Regenerate with tests/golden/update.sh.
# Usage: t-golden.sh [CASE...]
SRC=${NETPOL_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
NETPOL=${NETPOL:-$SRC/build/netpol}
dir="$SRC/tests/data/golden"
tmp=$(mktemp -d "/tmp/np-$$-golden.XXXXXX") || exit 2
ns="np-$$-golden"
cleanup() {
	ip netns del "$ns" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 2' INT TERM HUP

if [ $# -gt 0 ]; then cases="$*"; else
	cases=$(cd "$dir" && for c in */; do [ -d "$c/in" ] && echo "${c%/}"; done)
fi
[ -n "$cases" ] || { echo "no golden cases"; exit 2; }

fail=0 n=0
for c in $cases; do
	n=$((n + 1))
	args=$(cat "$dir/$c/args" 2>/dev/null)
	# args holds plain words (no quoting needed), so word splitting is what we want
	# shellcheck disable=SC2086
	if ! "$NETPOL" render "$dir/$c/in" $args >"$tmp/$c.1" 2>"$tmp/$c.err"; then
		echo "FAIL $c: netpol render exited non-zero:"; cat "$tmp/$c.err"
		fail=$((fail + 1)); continue
	fi
	if [ ! -f "$dir/$c/expected.nft" ]; then
		echo "FAIL $c: no expected.nft (tests/golden/update.sh $c writes it; review it first)"
		fail=$((fail + 1)); continue
	fi
	if ! diff -u "$dir/$c/expected.nft" "$tmp/$c.1"; then
		echo "FAIL $c: render differs from expected.nft (diff above: - expected, + actual)"
		fail=$((fail + 1)); continue
	fi
	# shellcheck disable=SC2086
	"$NETPOL" render "$dir/$c/in" $args >"$tmp/$c.2" 2>/dev/null
	if ! cmp -s "$tmp/$c.1" "$tmp/$c.2"; then
		echo "FAIL $c: two renders of the same input differ"
		diff -u "$tmp/$c.1" "$tmp/$c.2" | head -40
		fail=$((fail + 1)); continue
	fi
	echo "ok   $c: render matches expected.nft, deterministic"
done

if [ "$(id -u)" != 0 ] || ! command -v nft >/dev/null || ! ip netns add "$ns" 2>/dev/null; then
	echo "$fail of $n cases failed the text checks"
	[ $fail -eq 0 ] || exit 1
	echo "kernel checks not run: needs root, nft and network namespaces"
	exit 77
fi
for c in $cases; do
	f="$dir/$c/expected.nft"
	[ -f "$f" ] || continue
	if ! out=$(ip netns exec "$ns" nft -c -f "$f" 2>&1); then
		echo "FAIL $c: nft -c -f rejects expected.nft:"; echo "$out" | head -20
		fail=$((fail + 1)); continue
	fi
	if ! out=$(ip netns exec "$ns" nft -f "$f" 2>&1); then
		echo "FAIL $c: nft -f cannot load expected.nft:"; echo "$out" | head -20
		fail=$((fail + 1)); continue
	fi
	if ! ip netns exec "$ns" nft list table inet netpol >"$tmp/$c.list" 2>&1; then
		echo "FAIL $c: table inet netpol not listed after loading:"; head -20 "$tmp/$c.list"
		fail=$((fail + 1)); continue
	fi
	# the loaded table holds every chain the script declares (a cheap sanity check that
	# nothing was silently dropped)
	want=$(grep -c '^	chain ' "$f")
	got=$(ip netns exec "$ns" nft list ruleset | grep -c '^	chain ')
	if [ "$want" != "$got" ]; then
		echo "FAIL $c: the script declares $want chains, the kernel lists $got"
		fail=$((fail + 1)); continue
	fi
	echo "ok   $c: nft -c -f and nft -f accept it in netns $ns ($got chains)"
done
echo "$fail of $n cases failed"
[ $fail -eq 0 ]
