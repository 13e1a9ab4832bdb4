#!/bin/sh
# The fuzz regression: every fuzz target (tests/fuzz/fuzz_*.c, built by clang with libFuzzer,
# ASan and UBSan: make BUILD=build/fuzz FUZZ=1 fuzz-built, which this runs first) runs each
# file of its corpus (tests/fuzz/corpus/TARGET/: the seeds and every input a campaign kept,
# crashes found included, crash-* named after what they caught) once, with the properties each
# target checks; any crash, sanitizer report, leak or failed property fails the test. The ctl
# and http targets run a policyd in a network namespace of their own (root).
[ -n "$BASH_VERSION" ] || exec bash "$0" "$@"
set -u
cd "$(dirname "$0")/../.."
[ "$(id -u)" = 0 ] || { echo "needs root (the ctl and http targets run policyd in a netns)"; exit 77; }
command -v clang >/dev/null || { echo "needs clang (tests/install-deps.sh)"; exit 2; }
BUILD=${NETPOL_FUZZ_BUILD:-build/fuzz}
make -s BUILD="$BUILD" FUZZ=1 fuzz-built >"$BUILD.make.log" 2>&1 ||
	{ tail -n 20 "$BUILD.make.log"; echo "the fuzz build failed"; exit 1; }
fails=0
for src in tests/fuzz/fuzz_*.c; do
	t=$(basename "$src" .c)
	t=${t#fuzz_}
	files=$(ls tests/fuzz/corpus/$t/* 2>/dev/null | wc -l)
	if [ "$files" = 0 ]; then
		echo "FAIL fuzz_$t: no corpus in tests/fuzz/corpus/$t"; fails=$((fails + 1)); continue
	fi
	start=$(date +%s%N)
	if "$BUILD/tests/fuzz/fuzz_$t" -rss_limit_mb=4096 -timeout=60 tests/fuzz/corpus/$t/* \
		>"$BUILD/regress-$t.log" 2>&1; then
		ran=$(grep -c '^Executed ' "$BUILD/regress-$t.log")
		printf 'ok   fuzz_%s: %d of %d corpus inputs in %s s\n' "$t" "$ran" "$files" \
			"$(awk -v a="$start" -v b="$(date +%s%N)" 'BEGIN { printf "%.1f", (b - a) / 1e9 }')"
		[ "$ran" = "$files" ] || { echo "FAIL fuzz_$t ran $ran of $files"; fails=$((fails + 1)); }
	else
		echo "FAIL fuzz_$t:"
		grep -E 'Running:|ERROR|property failed|SUMMARY|#[0-9]+ 0x' "$BUILD/regress-$t.log" |
			head -n 20 | sed 's/^/    /'
		fails=$((fails + 1))
	fi
done
[ "$fails" = 0 ] || { echo "$fails target(s) failed"; exit 1; }
echo "all fuzz targets passed their corpus"
