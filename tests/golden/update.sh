#!/bin/sh
# Rewrites tests/data/golden/<case>/expected.nft from the current `netpol render` (all cases, or the
# ones named). For humans: review `git diff tests/data/golden` line by line against the
# NetworkPolicy semantics before committing — a golden file that enshrines a bug is a defect.
# Usage: tests/golden/update.sh [CASE...]   (NETPOL=path/to/netpol to pick a binary)
SRC=$(cd "$(dirname "$0")/../.." && pwd)
NETPOL=${NETPOL:-$SRC/build/netpol}
dir="$SRC/tests/data/golden"
if [ $# -gt 0 ]; then cases="$*"; else
	cases=$(cd "$dir" && for c in */; do [ -d "$c/in" ] && echo "${c%/}"; done)
fi
rc=0
for c in $cases; do
	args=$(cat "$dir/$c/args" 2>/dev/null)
	# shellcheck disable=SC2086
	if "$NETPOL" render "$dir/$c/in" $args >"$dir/$c/expected.nft.new"; then
		mv "$dir/$c/expected.nft.new" "$dir/$c/expected.nft"
		echo "wrote $c/expected.nft"
	else
		rm -f "$dir/$c/expected.nft.new"
		echo "render failed for $c; expected.nft left as it was" >&2
		rc=1
	fi
done
exit $rc
