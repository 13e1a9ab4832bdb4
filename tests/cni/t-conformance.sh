#!/bin/sh
# The conformance harness (tests/lib/conformance.sh, as tests/kernel/t-conformance.sh runs it)
# with its 9 dual-stack pods built through the CNI chain bridge + host-local + netpol-cni
# (tests/cni/topo.sh): 10 upstream e2e cases, every probe block over IPv4 and IPv6 by real
# packets, `netpol reach` agreeing, and `netpol status` in sync after every step (the steps
# apply with --state-dir, so the CNI records' veths carry the anti-spoofing). Blocked probes
# wait 400 ms, as in the kernel harness.
[ -n "$BASH_VERSION" ] || exec bash "$0" "$@"
set -u
NP_LIB_EXTRA="$(cd "$(dirname "$0")" && pwd)/topo.sh"
. "$(dirname "$0")/../lib/topo.sh"
. "$NP_SRC/tests/lib/conformance.sh"
conf_main default-deny-ingress default-deny-all ingress-for-target podselector-and-nsselector \
	podselector-or-nsselector deny-egress-by-podselector ingress-named-port ports updated-policy \
	egress-cidr-except
