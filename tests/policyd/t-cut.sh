#!/bin/sh
# A deny cuts live connections when policyd applies it too: the trials of tests/kernel/t-cut.sh
# (tests/lib/cut.sh) with each change written into policyd's directory (files renamed into
# place, then a `sync` request that returns once the kernel has the commit) instead of `netpol
# apply` (5 trials per protocol and family; the kernel test runs 10 through apply), on a node
# whose conntrack table also holds 100,000 unrelated entries, which must all survive.
[ -n "$BASH_VERSION" ] || exec bash "$0" "$@"
. "$(dirname "$0")/../lib/topo.sh"
NP_CUT_VIA=policyd NP_CUT_TRIALS=${NP_CUT_TRIALS:-5} NP_CUT_NOISE=${NP_CUT_NOISE:-100000}
. "$NP_SRC/tests/lib/cut.sh"
cut_main
