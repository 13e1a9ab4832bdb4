#!/bin/sh
# Runs the test suite: every unit test program, then every scripted test (tests/*/t-*.sh).
# Usage: tests/run.sh [unit|scripts|PATTERN]
# Scripted tests get NETPOL_BUILD (the build directory, sanitizer build under make check) and
# NETPOL (the netpol binary). A script exits 0 to pass, 77 to be skipped, anything else fails.
# Closing line: "N passed, N failed, N skipped".
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
# shim there costs about a second a start (bash + pyenv exec), and the suite starts python
# thousands of times (CNI runtime, echo peers, nft listing normalizers).
if [ -x /usr/bin/python3 ]; then
	bin=$(cd "$BUILD" && pwd)/tests/bin
	mkdir -p "$bin" && ln -sf /usr/bin/python3 "$bin/python3" && export PATH="$bin:$PATH"
fi
pass=0 fail=0 skip=0 failed=""

run_one() { # name, command...
	name=$1; shift
	log="$logs/$(echo "$name" | tr '/' '_').log"
	start=$(date +%s)
	timeout 900 "$@" >"$log" 2>&1
	rc=$?
	secs=$(( $(date +%s) - start ))
	if [ $rc -eq 0 ]; then
		pass=$((pass + 1)); echo "PASS $name (${secs}s)"
	elif [ $rc -eq 77 ]; then
		skip=$((skip + 1)); echo "SKIP $name: $(tail -n 1 "$log")"
	else
		fail=$((fail + 1)); failed="$failed $name"
		echo "FAIL $name (exit $rc, ${secs}s); last lines of $log:"
		tail -n 30 "$log" | sed 's/^/    /'
	fi
}

if [ "$what" = all ] || [ "$what" = unit ]; then
	for t in "$BUILD"/tests/unit/*; do
		[ -x "$t" ] || continue
		run_one "unit/$(basename "$t")" "$t"
	done
fi
if [ "$what" != unit ]; then
	for t in $(ls tests/*/t-*.sh 2>/dev/null | sort); do
		case "$what" in all|scripts) ;; *) case "$t" in *$what*) ;; *) continue ;; esac ;; esac
		run_one "${t#tests/}" sh "$t"
	done
fi
[ -n "$failed" ] && echo "failed:$failed"
echo "$pass passed, $fail failed, $skip skipped"
# make check sets NETPOL_REQUIRE_ALL: there every test must run (CI is root with namespaces), so
# a skip is a failure rather than a quietly green run that tested nothing of the kernel.
if [ -n "${NETPOL_REQUIRE_ALL:-}" ] && [ $skip -gt 0 ]; then
	echo "run.sh: $skip test(s) skipped, and NETPOL_REQUIRE_ALL is set"
	exit 1
fi
[ $fail -eq 0 ] && [ $pass -gt 0 ]
