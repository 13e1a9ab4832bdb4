#!/bin/sh
# The NetworkPolicy cases by real packets with a permissive admin-tier policy present
# (tests/data/permissive-admin: Admin passes everything, Baseline accepts everything):
# the tiers' chains are crossed by every packet and must change no verdict. The harness of
# t-conformance.sh (tests/lib/conformance.sh) with that policy added to every step. A sample of
# the cases in `make check` (one: each costs seconds of real probes); NP_ALL_CASES=1 or
# NETPOL_FULL=1 (`make check-full`) runs every one.
[ -n "$BASH_VERSION" ] || exec bash "$0" "$@"
set -u
. "$(dirname "$0")/../lib/topo.sh"
. "$NP_SRC/tests/lib/conformance.sh"
export NP_EXTRA_INV="$NP_SRC/tests/data/permissive-admin"
if [ $# -eq 0 ] && [ -z "${NP_ALL_CASES:-}${NETPOL_FULL:-}" ]; then
	set -- stacked-policies
fi
conf_main "$@"
