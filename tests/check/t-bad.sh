#!/bin/sh
# Every tests/bad/CASE directory holds one bad input and an `expect` file: `netpol check CASE`
# must exit 2 and print every line of `expect` (as a substring of its output). Then the fuzz
# driver runs the whole corpus, mutated, through the loader (under ASan in `make check`).
cd "${NETPOL_SRC:-.}/tests/bad" || exit 2
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
[ $n -ge 20 ] || { echo "FAIL: corpus too small ($n)"; fail=1; }
case ${NETPOL_BUILD:-build} in
/*) fuzz=$NETPOL_BUILD/tests/fuzz_parse ;;
*) fuzz=${NETPOL_SRC:-$PWD/../..}/${NETPOL_BUILD:-build}/tests/fuzz_parse ;;
esac
if [ -x "$fuzz" ]; then
	"$fuzz" -n 300 . ../check/good || { echo "FAIL: fuzz_parse"; fail=1; }
else
	echo "FAIL: fuzz driver $fuzz not built"; fail=1
fi
exit $fail
