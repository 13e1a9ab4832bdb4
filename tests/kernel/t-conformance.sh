#!/bin/sh
# Conformance by real packets: every case under tests/data/cases/ (the upstream Kubernetes e2e
# NetworkPolicy cases plus our own) is applied with `netpol apply` in a throwaway node netns
# whose bridge holds 9 dual-stack pod netns, and every `probe PROTO PORT` block of its `expect`
# is checked over all 81 pod pairs with real connections (TCP connect, UDP echo, SCTP INIT seen
# by a raw socket at the destination), once per family of its `families:` line. `netpol reach`
# must agree with what the packets did, and `netpol status` must find the kernel in sync with the
# directory after every apply. Steps of one case are applied in order onto the running
# ruleset (incremental changes); the case then applies a directory without policies, which must
# open everything again, and `netpol flush` starts the next case from nothing. The harness is
# tests/lib/conformance.sh.
#
# `make check` runs every other case in name order (the 1st, 3rd, 5th, ...: 29 of the 58) and
# the two whose kind that stride leaves out, egress named ports (extra-named-port-egress) and
# the admin tiers (extra-admin-tiers-demo): 31 cases, among them TCP, UDP and SCTP, IPv4 and
# IPv6, ingress named ports, endPort, except, IPv6 ipBlocks and multi-step cases. Every case is
# still checked against the evaluator in tests/eval/t-cases.sh. NETPOL_FULL=1 (`make
# check-full`) or NP_ALL_CASES=1 runs every case.
# Usage: t-conformance.sh [CASE...]   (default: as above)
[ -n "$BASH_VERSION" ] || exec bash "$0" "$@"
set -u
. "$(dirname "$0")/../lib/topo.sh"
. "$NP_SRC/tests/lib/conformance.sh"
conf_main "$@"
