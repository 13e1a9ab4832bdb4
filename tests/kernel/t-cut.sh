#!/bin/sh
# A deny cuts live connections, every time, and nothing else: on the 9-pod topology, a two-way
# echo connection x/b -> x/a (one TCP connection, or one UDP request/response flow, sending
# every 10 ms) is running when a policy isolating x/a for ingress is applied; from the moment
# `netpol apply` returns, not one more echo may come back on it (10 trials per protocol and
# family; the four connections of a trial, TCP and UDP over IPv4 and IPv6, run at once and one
# apply cuts them all). The race this guards against: with the entry merely deleted, x/a's retransmission
# (or a UDP response in flight) was picked up as a new flow x/a -> x/b, which policy allows, and
# the connection went on for ever in reverse. A genuinely new connection x/a -> x/b (allowed)
# must still work after each cut, and long-lived connections y/b -> y/a (TCP over IPv4, UDP over
# IPv6; y/a is isolated too, but allows y/b) must never miss an echo during all those applies.
# The body is tests/lib/cut.sh, which tests/policyd/t-cut.sh runs through policyd and
# t-cut-admin.sh with an admin-tier deny.
[ -n "$BASH_VERSION" ] || exec bash "$0" "$@"
. "$(dirname "$0")/../lib/topo.sh"
NP_CUT_VIA=apply
. "$NP_SRC/tests/lib/cut.sh"
cut_main
