#!/bin/sh
# Every tests/data/bad/CASE directory holds one bad input and an `expect` file: `netpol check CASE`
# must exit 2 and print every line of `expect` (as a substring of its output). Then the fuzz
# driver runs the whole corpus, mutated, through the loader (under ASan in `make check`).
cd "${NETPOL_SRC:-.}/tests/data/bad" || exit 2
: "${NETPOL:?}"
fail=0 n=0
for dir in */; do
	case=${dir%/}
	[ -f "$case/expect" ] || continue
	n=$((n + 1))
	out=$("$NETPOL" check "$case" 2>&1)
	rc=$?
	if [ $rc -ne 2 ]; then
		echo "FAIL $case: exit $rc, want 2"; echo "$out" | sed 's/^/    /'; fail=1; continue
	fi
	while IFS= read -r want; do
		[ -n "$want" ] || continue
		if ! printf '%s\n' "$out" | grep -qF -- "$want"; then
			echo "FAIL $case: missing: $want"; echo "$out" | sed 's/^/    /'; fail=1
		fi
	done <"$case/expect"
	# --json carries the same records, with positions as numbers
	if ! "$NETPOL" check "$case" --json 2>/dev/null | grep -q '"severity": "error"'; then
		echo "FAIL $case: --json has no error record"; fail=1
	fi
done
echo "$n bad cases checked"

# more errors than the record cap: every one is counted, 1000 are shown
tmp=$(mktemp -d) || exit 2
trap 'rm -rf "$tmp"' EXIT
trap 'exit 2' INT TERM HUP # so the EXIT trap runs on a signal too (dash)
{
	printf 'apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: many}\n'
	printf 'spec:\n  podSelector: {}\n  ingress:\n  - ports:\n'
	i=0; while [ $i -lt 1500 ]; do echo "    - port: 0"; i=$((i + 1)); done
} >"$tmp/many.yaml"
out=$("$NETPOL" check "$tmp" 2>&1); rc=$?
[ $rc -eq 2 ] || { echo "FAIL: cap: exit $rc"; fail=1; }
shown=$(printf '%s\n' "$out" | grep -c ': error: port 0 out of range')
[ "$shown" -eq 1000 ] || { echo "FAIL: cap: $shown records shown, want 1000"; fail=1; }
printf '%s\n' "$out" | grep -qF "netpol: 500 more records not shown" || { echo "FAIL: cap message"; fail=1; }
printf '%s\n' "$out" | grep -qF "1500 errors, 0 warnings" || { echo "FAIL: cap count"; fail=1; }
# the first 1000 found are kept (ports 0..999 on lines 8..1007), located and sorted
printf '%s\n' "$out" | grep -qF "many.yaml:8:13: error: port 0 out of range" &&
	printf '%s\n' "$out" | grep -qF "many.yaml:1007:13: error: port 0 out of range" &&
	! printf '%s\n' "$out" | grep -qF "many.yaml:1008:" || { echo "FAIL: cap positions"; fail=1; }
[ $n -ge 20 ] || { echo "FAIL: corpus too small ($n)"; fail=1; }
case ${NETPOL_BUILD:-build} in
/*) fuzz=$NETPOL_BUILD/tests/fuzz_parse ;;
*) fuzz=${NETPOL_SRC:-$PWD/../../..}/${NETPOL_BUILD:-build}/tests/fuzz_parse ;;
esac
if [ -x "$fuzz" ]; then
	"$fuzz" -n 300 . ../good || { echo "FAIL: fuzz_parse"; fail=1; }
else
	echo "FAIL: fuzz driver $fuzz not built"; fail=1
fi
exit $fail
