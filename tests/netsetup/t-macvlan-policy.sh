#!/bin/sh
# NetworkPolicy for macvlan endpoints, enforced inside each pod's own netns: macvlan siblings
# talk through the parent device and never cross the node's netfilter hooks, so `netpol apply
# --state-dir` programs a one-pod table (ingress on input, egress on output) in every macvlan
# pod's netns. Three pods a, b, c on one macvlan network (dual-stack), pods known only from
# their endpoint records (--pod, --labels). A policy isolating a for ingress, allowing only
# role=client: b reaches a, c does not (IPv4 and IPv6), a still reaches c (egress not
# isolated); the table is listed inside a's netns; status reports each pod; render shows the
# per-pod tables; a widened policy lets c in; an egress policy on b is enforced on b's
# output hook; removing the policies empties the isolation;
# flush --state-dir removes the per-pod tables. The body is tests/lib/macvlan-policy.sh.
. "$(dirname "$0")/../lib/netns.sh"
. "$(dirname "$0")/../lib/macvlan-policy.sh"
macvlan_policy_main
