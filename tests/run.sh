#!/bin/sh
# Runs the test suite: every unit test program, then every scripted test (tests/*/t-*.sh).
# Usage: tests/run.sh [unit|scripts|PATTERN]
# Scripted tests get NETPOL_BUILD (the build directory, sanitizer build under make check) and
# NETPOL (the netpol binary). A script exits 0 to pass, 77 to be skipped, anything else fails.
# NETPOL_JOBS (default 2) scripted tests run at once: each builds its own uniquely named
# namespaces and temp directories, so they are independent; most of a kernel test's time is
# spent waiting on packets and processes, not on a core. NETPOL_JOBS=1 runs them one by one.
# Each result is printed as its test ends. The run's timing table (every test's name, result
# and seconds, the slowest first) is written to BUILD/test-logs/timing.txt, and its path
# printed before the closing line, which stays last: "N passed, N failed, N skipped".
[ -n "$BASH_VERSION" ] || exec bash "$0" "$@"
cd "$(dirname "$0")/.." || exit 2
BUILD=${NETPOL_BUILD:-build}
export NETPOL_BUILD="$BUILD" NETPOL="$PWD/$BUILD/netpol" NETPOL_SRC="$PWD"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
what=${1:-all}
logs="$BUILD/test-logs"
mkdir -p "$logs"
# `python3` in the tests is Debian's, the one tests/install-deps.sh installs with
# python3-prometheus-client beside it. A python3 found earlier on PATH is not used: a pyenv
# shim there costs about a second a start (bash + pyenv exec), and the suite starts python for
# every CNI runtime call, echo peer and listing normalization.
if [ -x /usr/bin/python3 ]; then
	bin=$(cd "$BUILD" && pwd)/tests/bin
	mkdir -p "$bin" && ln -sf /usr/bin/python3 "$bin/python3" && export PATH="$bin:$PATH"
fi
pass=0 fail=0 skip=0 failed=""
run_start=$(date +%s)
: >"$logs/timing.lst"

jobs=${NETPOL_JOBS:-2}
case "$jobs" in '' | *[!0-9]* | 0) echo "run.sh: NETPOL_JOBS must be a positive number"; exit 2 ;; esac

logname() { echo "$logs/$(echo "$1" | tr '/' '_')"; }

# run_test NAME COMMAND...: runs it (15 minutes at most), leaving "RC SECS" in its .res file
run_test() {
	local name=$1 log start rc
	shift
	log=$(logname "$name")
	rm -f "$log.res"
	start=$(date +%s)
	timeout 900 "$@" >"$log.log" 2>&1
	rc=$?
	echo "$rc $(( $(date +%s) - start ))" >"$log.res.tmp" && mv "$log.res.tmp" "$log.res"
}

# report NAME: prints and counts the result run_test left
report() {
	local name=$1 log rc secs
	log=$(logname "$name")
	read -r rc secs <"$log.res" || { rc=2 secs=0; }
	if [ "$rc" -eq 0 ]; then
		pass=$((pass + 1)); echo "PASS $name (${secs}s)"; echo "$name PASS $secs" >>"$logs/timing.lst"
	elif [ "$rc" -eq 77 ]; then
		skip=$((skip + 1)); echo "SKIP $name: $(tail -n 1 "$log.log")"; echo "$name SKIP $secs" >>"$logs/timing.lst"
	else
		fail=$((fail + 1)); failed="$failed $name"; echo "$name FAIL $secs" >>"$logs/timing.lst"
		echo "FAIL $name (exit $rc, ${secs}s); last lines of $log.log:"
		tail -n 30 "$log.log" | sed 's/^/    /'
	fi
}

# timing_table: timing.lst (one "NAME RESULT SECS" per test, in the order they ended) as a
# table, the slowest first, under a line saying what ran and how long it took
timing_table() {
	printf '# tests/run.sh %s: %d tests, %d at a time, %ds wall clock, %s\n' "$what" \
		"$(wc -l <"$logs/timing.lst")" "$jobs" "$(( $(date +%s) - run_start ))" "$(date '+%Y-%m-%d %H:%M')"
	printf '%-36s %-6s %7s\n' test result seconds
	sort -k3,3nr -k1,1 "$logs/timing.lst" | awk '{ printf "%-36s %-6s %7d\n", $1, $2, $3 }'
}

if [ "$what" = all ] || [ "$what" = unit ]; then
	for t in "$BUILD"/tests/unit/*; do
		[ -x "$t" ] || continue
		run_test "unit/$(basename "$t")" "$t"
		report "unit/$(basename "$t")"
	done
fi
if [ "$what" != unit ]; then
	scripts=""
	for t in $(ls tests/*/t-*.sh 2>/dev/null | sort); do
		case "$what" in all|scripts) ;; *) case "$t" in *$what*) ;; *) continue ;; esac ;; esac
		scripts="$scripts ${t#tests/}"
	done
	declare -A running=()
	# reap: waits for a test to end and reports every one that has
	reap() {
		local r
		wait -n
		for r in "${!running[@]}"; do
			[ -e "$(logname "$r").res" ] || ! kill -0 "${running[$r]}" 2>/dev/null || continue
			wait "${running[$r]}"; unset "running[$r]"; report "$r"
		done
	}
	for t in $scripts; do
		while [ ${#running[@]} -ge "$jobs" ]; do reap; done
		run_test "$t" sh "tests/$t" &
		running[$t]=$!
	done
	while [ ${#running[@]} -gt 0 ]; do reap; done
fi
[ -n "$failed" ] && echo "failed:$failed"
# make check sets NETPOL_REQUIRE_ALL: there every test must run (CI is root with namespaces), so
# a skip is a failure rather than a quietly green run that tested nothing of the kernel.
required=0
if [ -n "${NETPOL_REQUIRE_ALL:-}" ] && [ $skip -gt 0 ]; then
	echo "run.sh: $skip test(s) skipped, and NETPOL_REQUIRE_ALL is set"
	required=1
fi
timing_table >"$logs/timing.txt"
echo "timing table: $logs/timing.txt"
echo "$pass passed, $fail failed, $skip skipped"
[ $required -eq 0 ] && [ $fail -eq 0 ] && [ $pass -gt 0 ]
