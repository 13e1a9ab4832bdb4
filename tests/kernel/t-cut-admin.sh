#!/bin/sh
# t-cut.sh with the deny coming from the admin tiers: an Admin-tier Deny on x/a's ingress whose
# peer set x/b joins by a label change (so the narrowing is a set gaining an address, not a
# new isolation). Live TCP and UDP connections x/b -> x/a must be cut, allowed ones untouched.
[ -n "$BASH_VERSION" ] || exec bash "$0" "$@"
export NP_CUT_ADMIN=1 NP_CUT_TRIALS=${NP_CUT_TRIALS:-1}
exec bash "$(dirname "$0")/t-cut.sh" "$@"
