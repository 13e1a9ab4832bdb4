#!/bin/sh
# t-cut.sh with the deny coming from the admin tiers: an Admin-tier Deny on x/a's ingress whose
# peer set x/b joins by a label change (so the narrowing is a set gaining an address, not a
# new isolation). Live TCP and UDP connections x/b -> x/a must be cut, allowed ones untouched.
# The body is tests/lib/cut.sh.
[ -n "$BASH_VERSION" ] || exec bash "$0" "$@"
. "$(dirname "$0")/../lib/topo.sh"
NP_CUT_VIA=apply NP_CUT_ADMIN=1 NP_CUT_TRIALS=${NP_CUT_TRIALS:-1}
. "$NP_SRC/tests/lib/cut.sh"
cut_main
