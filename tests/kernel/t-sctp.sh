#!/bin/sh
# SCTP rules, observed by delivery. This kernel has no SCTP sockets, so np_agent crafts SCTP
# INIT packets (valid CRC32c) with a raw socket in the client pod and a raw SCTP socket in the
# server pod sees them arrive, or not, across the bridge where netpol filters.
#   1. ingress to x/b allowed only from x/a on SCTP 80: x/a's INIT arrives, x/c's does not,
#      SCTP 81 and TCP 80 from x/a do not, other pods are untouched; both families.
#   2. the same peer allowed only TCP 80: TCP connects, SCTP 80 is dropped.
#   3. the policy removed: SCTP flows everywhere again.
[ -n "$BASH_VERSION" ] || exec bash "$0" "$@"
set -u
. "$(dirname "$0")/../lib/topo.sh"
np_start_node apply
fail=0
inv="$NP_TMP/inv"

policy() { # PROTOCOL PORT
	cat <<YAML
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: b-from-a, namespace: x}
spec:
  podSelector: {matchLabels: {pod: b}}
  policyTypes: [Ingress]
  ingress:
  - from:
    - podSelector: {matchLabels: {pod: a}}
    ports:
    - {protocol: $1, port: $2}
YAML
}

echo "== before any policy: SCTP INITs reach every pod (the probe sees delivery)"
np_probe_blocks "$NP_TMP/r" SCTP:80:4 SCTP:80:6 || exit 1
np_check "$NP_TMP/r" SCTP 80 4 '1' || fail=1
np_check "$NP_TMP/r" SCTP 80 6 '1' || fail=1

echo "== x/b accepts SCTP 80 from x/a only"
np_base_inventory "$inv"; policy SCTP 80 >"$inv/np-x-b-from-a.yaml"
np_apply "$inv" || exit 1
np_probe_blocks "$NP_TMP/r" SCTP:80:4 SCTP:80:6 SCTP:81:4 SCTP:81:6 TCP:80:4 TCP:80:6 || exit 1
for f in 4 6; do
	np_check "$NP_TMP/r" SCTP 80 $f 'to != "x/b" || from == "x/a" || from == "x/b"' || fail=1
	np_check "$NP_TMP/r" SCTP 81 $f 'to != "x/b" || from == "x/b"' || fail=1
	np_check "$NP_TMP/r" TCP 80 $f 'to != "x/b" || from == "x/b"' || fail=1
done

echo "== x/b accepts only TCP 80 from x/a: SCTP is not allowed by a TCP rule"
np_base_inventory "$inv"; policy TCP 80 >"$inv/np-x-b-from-a.yaml"
np_apply "$inv" || exit 1
np_probe_blocks "$NP_TMP/r" SCTP:80:4 SCTP:80:6 TCP:80:4 TCP:80:6 || exit 1
for f in 4 6; do
	np_check "$NP_TMP/r" TCP 80 $f 'to != "x/b" || from == "x/a" || from == "x/b"' || fail=1
	np_check "$NP_TMP/r" SCTP 80 $f 'to != "x/b" || from == "x/b"' || fail=1
done

echo "== policy removed: SCTP flows again"
np_base_inventory "$inv"
np_apply "$inv" || exit 1
np_probe_blocks "$NP_TMP/r" SCTP:80:4 SCTP:80:6 || exit 1
np_check "$NP_TMP/r" SCTP 80 4 '1' || fail=1
np_check "$NP_TMP/r" SCTP 80 6 '1' || fail=1
np_node "$NETPOL" flush >/dev/null 2>&1
[ $fail = 0 ] && echo "t-sctp: all SCTP checks passed"
exit $fail
