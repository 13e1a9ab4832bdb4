#!/bin/sh
# The conformance harness (tests/kernel/t-conformance.sh) with its 9 dual-stack pods built
# through the CNI chain bridge + host-local + netpol-cni (tests/cni/topo.sh): 10 upstream e2e
# cases, every probe block over IPv4 and IPv6 by real packets, `netpol reach` agreeing, and
# `netpol status` in sync after every step (the steps apply with --state-dir, so the CNI
# records' veths carry the anti-spoofing). Blocked probes wait 400 ms, as in the kernel harness.
cd "$(dirname "$0")/../.." || exit 2
NP_LIB_EXTRA="$PWD/tests/cni/topo.sh" exec bash tests/kernel/t-conformance.sh \
	default-deny-ingress default-deny-all ingress-for-target podselector-and-nsselector \
	podselector-or-nsselector deny-egress-by-podselector ingress-named-port ports updated-policy \
	egress-cidr-except
