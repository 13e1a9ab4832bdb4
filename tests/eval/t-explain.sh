#!/bin/sh
# `netpol explain` names the policy, rule, peer and port behind a verdict, and its exit status is
# the verdict; `netpol reach` --json agrees with the table, and the table leaves out the pods
# that cannot be probed (host-network, no address of the family). Inventories come from
# tests/data/cases (upstream e2e cases).
SRC=${NETPOL_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
NETPOL=${NETPOL:-$SRC/build/netpol}
CASES=$SRC/tests/data/cases

# a missing binary is a broken build, never a skip
[ -x "$NETPOL" ] || { echo "no netpol binary at $NETPOL"; exit 2; }
. "$SRC/tests/lib/cases.sh"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/netpol-explain.XXXXXX") || exit 2
trap 'rm -rf "$tmp"' EXIT
trap 'exit 2' INT TERM HUP # so the EXIT trap runs on a signal too (dash)
fails=0 checks=0

# inventory CASE STEP: assembles the step's inventory, prints its directory.
inventory() {
	case_assemble "$CASES/$1/$2" "$tmp/$1.$2" && echo "$tmp/$1.$2"
}

# expect_explain WANT_EXIT "LINE SUBSTRING"... -- ARGS: runs netpol explain ARGS, checks the
# exit status and that each substring appears in the output.
expect_explain() {
	want=$1; shift
	subs=""
	while [ "$1" != -- ]; do subs="$subs
$1"; shift; done
	shift
	checks=$((checks + 1))
	out=$("$NETPOL" explain "$@" 2>&1)
	rc=$?
	ok=1
	[ $rc -eq "$want" ] || ok=0
	echo "$subs" | while IFS= read -r s; do
		[ -z "$s" ] && continue
		printf '%s\n' "$out" | grep -qF -- "$s" || { echo "  missing: $s"; exit 1; }
	done || ok=0
	if [ $ok -eq 1 ]; then
		echo "ok   explain $*"
	else
		fails=$((fails + 1))
		echo "FAIL explain $* (exit $rc, want $want); output:"
		printf '%s\n' "$out" | sed 's/^/    /'
	fi
}

d=$(inventory deny-egress-client-side 1)
expect_explain 1 "DROPPED x/a -> y/b TCP/80" \
	"egress  at x/a: isolated by x/allow-to-ns-y-pod-a; no rule of x/allow-to-ns-y-pod-a allows it" \
	"ingress at y/b: isolated by y/allow-from-xa-on-yb-match-selector; allowed by y/allow-from-xa-on-yb-match-selector ingress[0] from[0]" \
	-- "$d" --from x/a --to y/b --port 80
expect_explain 0 "ALLOWED x/a -> y/a TCP/80 (IPv6 fd00:200::11 -> fd00:200::21)" \
	"allowed by x/allow-to-ns-y-pod-a egress[0] to[0]" \
	"allowed by y/allow-from-xa-on-ya-match-selector ingress[0] from[0]" \
	-- "$d" --from x/a --to y/a --port 80/TCP --family 6
# Addresses name their pods; an outside address enforces nothing.
expect_explain 1 "DROPPED z/b -> y/a TCP/80 (IPv4 10.200.0.32 -> 10.200.0.21)" \
	"egress  at z/b: not isolated" \
	"no rule of y/allow-from-xa-on-ya-match-selector allows it" \
	-- "$d" --from 10.200.0.32 --to 10.200.0.21 --port 80
expect_explain 0 "ALLOWED 203.0.113.1 -> y/c UDP/80" "egress  at 203.0.113.1: outside the cluster" \
	-- "$d" --from 203.0.113.1 --to y/c --port 80/udp
expect_explain 0 "ALLOWED x/a -> x/a" "a pod reaching itself is always allowed" \
	-- "$d" --from x/a --to x/a --port 80

d=$(inventory ingress-from-ns-named-port 1)
expect_explain 0 "ALLOWED y/b -> x/a TCP/80" \
	"allowed by x/allow-client-a-via-ns-selector-80 ingress[0] from[0] ports[0]" \
	-- "$d" --from y/b --to x/a --port 80
expect_explain 1 "DROPPED y/b -> x/a TCP/81" \
	"no rule of x/allow-client-a-via-ns-selector-80 allows it" -- "$d" --from y/b --to x/a --port 81

d=$(inventory stacked-policies 2)
expect_explain 1 "DROPPED z/a -> x/a" \
	"isolated by x/allow-client-a-via-ns-selector, x/allow-client-a-via-ns-selector-80; no rule of x/allow-client-a-via-ns-selector, x/allow-client-a-via-ns-selector-80 allows it" \
	-- "$d" --from z/a --to x/a --port 80
expect_explain 0 "allowed by x/allow-client-a-via-ns-selector-80 ingress[0] from[0] ports[0]" \
	-- "$d" --from y/c --to x/a --port 80
expect_explain 1 '"verdict":"DROPPED"' \
	'"isolating":["x/allow-client-a-via-ns-selector","x/allow-client-a-via-ns-selector-80"]}}' \
	-- "$d" --from z/a --to x/a --port 80 --json
expect_explain 0 '"ingress":{"at":"x/a","allowed":true,"why":"allowed by a rule","isolated":true' \
	'"policy":"x/allow-client-a-via-ns-selector-80","rule":0,"peer":0,"port":0}' \
	-- "$d" --json --from y/c --to x/a --port 80

# Bad arguments: exit 2.
expect_explain 2 -- "$d" --from x/a --to y/a
expect_explain 2 "neither an address nor a pod" -- "$d" --from x/q --to y/a --port 80
expect_explain 2 -- "$d" --from x/a --to y/a --port 80/ICMP
expect_explain 2 -- "$d" --from x/a --to y/a --port 80 --family 5
expect_explain 2 "not an IPv6 address" -- "$d" --from 10.200.0.1 --to y/a --port 80 --family 6
expect_explain 2 -- "$tmp/does-not-exist" --from x/a --to y/a --port 80

# reach --json carries the same matrix as the expect table (converted here from the file).
checks=$((checks + 1))
d=$(inventory default-deny-ingress 1)
want=$(awk '/^probe/ { on = 1; next } on && /^ / { next }
	on { row = "["; for (i = 2; i <= NF; i++) row = row (i > 2 ? "," : "") $i; rows = rows (rows ? "," : "") row "]" }
	END { print "\"matrix\":[" rows "]" }' "$CASES/default-deny-ingress/1/expect")
got=$("$NETPOL" reach "$d" --json)
if printf '%s' "$got" | grep -qF "$want" &&
	printf '%s' "$got" | grep -qF '"probe":{"protocol":"TCP","port":80,"family":4}' &&
	printf '%s' "$got" | grep -qF '"pods":["x/a","x/b","x/c","y/a","y/b","y/c","z/a","z/b","z/c"]'; then
	echo "ok   reach --json"
else
	fails=$((fails + 1))
	echo "FAIL reach --json: $got (want $want)"
fi

# The table leaves out a host-network pod and, for IPv6, a pod without an IPv6 address.
checks=$((checks + 1))
cat >"$d/extra-pods.yaml" <<'EOF'
apiVersion: v1
kind: Pod
metadata: {name: host, namespace: z, labels: {pod: host}}
spec: {hostNetwork: true, nodeName: node-1, containers: [{name: c}]}
status: {podIPs: [{ip: 192.0.2.1}]}
---
apiVersion: v1
kind: Pod
metadata: {name: v4only, namespace: z, labels: {pod: v4only}}
spec: {nodeName: node-1, containers: [{name: c}]}
status: {podIPs: [{ip: 10.200.0.99}]}
EOF
h4=$("$NETPOL" reach "$d" --family 4 | head -n 1)
h6=$("$NETPOL" reach "$d" --family 6 | head -n 1)
n4=$("$NETPOL" reach "$d" --family 4 | wc -l)
if [ "$h4" = "         x/a      x/b      x/c      y/a      y/b      y/c      z/a      z/b      z/c      z/v4only" ] &&
	[ "$h6" = "    x/a x/b x/c y/a y/b y/c z/a z/b z/c" ] && [ "$n4" -eq 11 ]; then
	echo "ok   reach pod selection"
else
	fails=$((fails + 1))
	echo "FAIL reach pod selection: IPv4 header '$h4' ($n4 lines), IPv6 header '$h6'"
fi

# the admin tiers (policies/admin-demo): the deciding tier, policy and rule, and any Pass taken
A=$SRC/policies/admin-demo
expect_explain 0 "ALLOWED y/a -> z/b TCP/80" \
	"ingress at z/b: Admin tier passes (CNP/protect-data ingress[1] \"backend-is-the-data-team-call\" Pass); isolated by z/from-backend; allowed by z/from-backend ingress[0]" \
	-- "$A" --from y/a --to z/b --port 80/TCP
expect_explain 1 "DROPPED x/a -> z/b TCP/80" \
	"ingress at z/b: Admin tier: dropped by CNP/protect-data ingress[0] \"no-frontend-to-data\" Deny" \
	-- "$A" --from x/a --to z/b --port 80/TCP --family 6
expect_explain 1 "DROPPED z/a -> x/c TCP/80" \
	"ingress at x/c: not isolated by NetworkPolicy; Baseline tier: dropped by CNP/default ingress[1] \"otherwise-deny\" Deny" \
	-- "$A" --from z/a --to x/c --port 80/TCP
expect_explain 1 '"decided_by":{"tier":"Admin","kind":"ClusterNetworkPolicy","policy":"protect-data","rule":0,"action":"Deny","name":"no-frontend-to-data"}' \
	-- "$A" --from x/b --to z/c --port 81/UDP --json
expect_explain 0 '"passes":[{"tier":"Admin","kind":"ClusterNetworkPolicy","policy":"protect-data","rule":1,"action":"Pass"' \
	-- "$A" --from y/c --to z/a --port 80 --json

echo "$checks checks, $fails failed"
[ $fails -eq 0 ]
