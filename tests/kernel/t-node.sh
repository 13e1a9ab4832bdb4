#!/bin/sh
# Traffic between a pod and its own node is never filtered ("traffic to and from the node where
# a Pod is running is always allowed", NetworkPolicy concepts), while pod-to-pod traffic of the
# same isolated pod is. By real connections, IPv4 and IPv6:
#   x/a isolated both ways (no rule): x/a -> node and node -> x/a connect; x/a -> x/b and
#   x/b -> x/a do not; netpol explain agrees (the node is a Node object with the bridge address).
[ -n "$BASH_VERSION" ] || exec bash "$0" "$@"
set -u
. "$(dirname "$0")/../lib/topo.sh"
np_start_node apply
fail=0
inv="$NP_TMP/inv"

# a server on the node itself (its bridge addresses), killed with the pods' servers
# (ip netns exec directly: & on the np_node function would give the pid of a subshell)
ip netns exec "$NP_NODE" "$NP_AGENT" serve --ports 9080 >"$NP_TMP/serve-node.log" 2>&1 &
NP_SERVER_PIDS="$NP_SERVER_PIDS $!"
for i in $(seq 100); do grep -q ready "$NP_TMP/serve-node.log" && break; sleep 0.05; done
grep -q ready "$NP_TMP/serve-node.log" || { echo "node server did not start"; exit 1; }

np_base_inventory "$inv"
cat >"$inv/node.yaml" <<'YAML'
apiVersion: v1
kind: Node
metadata: {name: node-1}
status:
  addresses:
  - {type: InternalIP, address: 10.200.0.1}
  - {type: InternalIP, address: "fd00:200::1"}
YAML
cat >"$inv/np-isolate-a.yaml" <<'YAML'
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: isolate-a, namespace: x}
spec:
  podSelector: {matchLabels: {pod: a}}
  policyTypes: [Ingress, Egress]
YAML
np_apply "$inv" || exit 1

xa=$(np_pod_ns x/a); xb=$(np_pod_ns x/b)
cat >"$NP_TMP/probes" <<EOF2
$xa 10.200.0.1 tcp 9080
$xa fd00:200::1 tcp 9080
$NP_NODE 10.200.0.11 tcp 80
$NP_NODE fd00:200::11 tcp 80
$xa 10.200.0.12 tcp 80
$xa fd00:200::12 tcp 80
$xb 10.200.0.11 tcp 80
$xb fd00:200::11 tcp 80
EOF2
"$NP_AGENT" probe --timeout-ms 1000 "$NP_TMP/probes" >"$NP_TMP/out" || { echo "probe failed"; exit 1; }
expect() { # LINE-PREFIX RESULT WHAT
	if grep -q "^$1 $2\$" "$NP_TMP/out"; then echo "ok   $3"
	else echo "FAIL $3: $(grep "^$1 " "$NP_TMP/out")"; fail=1; fi
}
expect "$xa 10.200.0.1 tcp 9080" 1 "x/a -> its node (IPv4) connects although x/a is egress-isolated"
expect "$xa fd00:200::1 tcp 9080" 1 "x/a -> its node (IPv6) connects"
expect "$NP_NODE 10.200.0.11 tcp 80" 1 "node -> x/a (IPv4) connects although x/a is ingress-isolated"
expect "$NP_NODE fd00:200::11 tcp 80" 1 "node -> x/a (IPv6) connects"
expect "$xa 10.200.0.12 tcp 80" 0 "x/a -> x/b (IPv4) is dropped"
expect "$xa fd00:200::12 tcp 80" 0 "x/a -> x/b (IPv6) is dropped"
expect "$xb 10.200.0.11 tcp 80" 0 "x/b -> x/a (IPv4) is dropped"
expect "$xb fd00:200::11 tcp 80" 0 "x/b -> x/a (IPv6) is dropped"

# the evaluator says the same
for args in "--from x/a --to 10.200.0.1 --port 9080/TCP:0" "--from 10.200.0.1 --to x/a --port 80/TCP:0" \
	    "--from x/a --to x/b --port 80/TCP:1"; do
	want=${args##*:}; a=${args%:*}
	"$NETPOL" explain "$inv" $a >"$NP_TMP/explain" 2>&1; rc=$?
	if [ "$rc" = "$want" ]; then echo "ok   explain $a: exit $rc"
	else echo "FAIL explain $a: exit $rc, expected $want"; cat "$NP_TMP/explain"; fail=1; fi
done
grep -q "own node" "$NP_TMP/explain" && { echo "FAIL explain x/a -> x/b mentions the node"; fail=1; }
"$NETPOL" explain "$inv" --from x/a --to 10.200.0.1 --port 9080/TCP | grep -q "own node" ||
	{ echo "FAIL explain does not say why x/a may reach its node"; fail=1; }
exit $fail
