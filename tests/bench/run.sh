#!/bin/sh
# make bench: every benchmark, figures printed against the targets the issues name. Nothing
# here is asserted; see RESULTS.md beside it for what each measures.
cd "$(dirname "$0")/../.." || exit 2
export NETPOL_BUILD=${NETPOL_BUILD:-build} NETPOL_SRC="$PWD"
export NETPOL="$PWD/$NETPOL_BUILD/netpol"
rc=0
for b in compile apply path attach admin policyd cni store flows; do
	f=tests/bench/$b.sh
	[ -f "$f" ] || continue
	echo "== $b ($f)"
	sh "$f" || { echo "bench $b failed (exit $?)"; rc=1; }
	echo
done
exit $rc
