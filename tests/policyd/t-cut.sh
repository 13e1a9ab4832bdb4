#!/bin/sh
# A deny cuts live connections when policyd applies it too: tests/kernel/t-cut.sh with its
# changes written into policyd's directory instead of `netpol apply` (5 trials per protocol and
# family; the kernel test runs 10 through apply).
exec env NP_CUT_VIA=policyd NP_CUT_TRIALS=${NP_CUT_TRIALS:-5} bash "$(dirname "$0")/../kernel/t-cut.sh"
