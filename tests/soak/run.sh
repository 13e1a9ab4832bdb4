#!/bin/sh
# make soak: chaos under traffic, figures printed (tests/soak/README.md). Runs against
# NETPOL_BUILD (make soak: the optimized build, so resident memory is policyd's and not the
# sanitizers'). Each part is a script that also runs alone:
#   kill.sh                        policyd SIGKILLed at random instants, 200 times, under traffic
#   churn.sh                       10,000 flips and 1,000 reloads under traffic; RSS, descriptors
#   ../policyd/t-statedir-full.sh  the state directory full, then read-only (also in make check)
[ -n "$BASH_VERSION" ] || exec bash "$0" "$@"
cd "$(dirname "$0")/../.."
export NETPOL_BUILD=${NETPOL_BUILD:-build} NETPOL_SRC=$PWD
fails=""
for t in tests/soak/kill.sh tests/soak/churn.sh tests/policyd/t-statedir-full.sh; do
	echo "== $t"
	start=$(date +%s)
	bash "$t" 2>&1 | grep -v '^policyd [0-9]' | grep -Ev '^(ok  |---- policyd log)'
	rc=${PIPESTATUS[0]}
	echo "   $t: exit $rc, $(( $(date +%s) - start )) s"
	[ "$rc" = 0 ] || fails="$fails $t"
done
[ -z "$fails" ] || { echo "soak failed:$fails"; exit 1; }
echo "soak passed"
