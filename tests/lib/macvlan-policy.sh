# tests/lib/macvlan-policy.sh — NetworkPolicy for macvlan endpoints, enforced inside each
# pod's own netns (sourced after tests/lib/netns.sh, never run on its own; macvlan_policy_main
# runs it and exits through finish). Macvlan siblings talk through the parent device and never
# cross the node's netfilter hooks, so `netpol apply --state-dir` programs a one-pod table
# (ingress on input, egress on output) in every macvlan pod's netns. Three pods a, b, c on one
# macvlan network (dual-stack), pods known only from their endpoint records (--pod, --labels).
# A policy isolating a for ingress, allowing only role=client: b reaches a, c does not (IPv4
# and IPv6), a still reaches c (egress not isolated); the table is listed inside a's netns;
# status reports each pod; render shows the per-pod tables; a widened policy lets c in; an
# egress policy on b is enforced on b's output hook; removing the policies empties the
# isolation; flush --state-dir removes the per-pod tables.
# NP_APPLY_ARGS: more arguments for every apply (t-macvlan-old-kernel.sh: --test-old-kernel).
# Used by tests/netsetup/t-macvlan-policy.sh and tests/netsetup/t-macvlan-old-kernel.sh.

macvlan_policy_main() {
	command -v nft >/dev/null || { echo "needs nft (to list the table inside the pod)"; exit 77; }
	NODE=${T}node A=${T}a B=${T}b C=${T}c
	mkns $NODE $A $B $C
	# The kernel has no dummy links: a veth end serves as the parent (its peer stays in the node).
	ip -n $NODE link add mvp0 type veth peer name mvp1
	ip -n $NODE link set mvp0 up; ip -n $NODE link set mvp1 up

	POL=$STATE/policies; mkdir -p $POL
	cat > $POL/ns.yaml <<YAML
apiVersion: v1
kind: Namespace
metadata: {name: web, labels: {kubernetes.io/metadata.name: web}}
YAML
	# a: the server, isolated for ingress; only pods labelled role=client may connect.
	cat > $POL/policy.yaml <<YAML
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: a-from-clients, namespace: web}
spec:
  podSelector: {matchLabels: {app: a}}
  policyTypes: [Ingress]
  ingress:
  - from:
    - podSelector: {matchLabels: {role: client}}
YAML
	apply() { ip netns exec $NODE "$NETPOL" apply "$POL" --state-dir "$STATE" ${NP_APPLY_ARGS:-} "$@"; }

	check "create macvlan network" np $NODE create mv --driver macvlan --subnet 10.99.51.0/24 \
		--subnet fd99:51::/64 --parent mvp0
	check "attach a (app=a)" np $NODE attach mv --netns $A --pod web/a --labels app=a
	check "attach b (role=client)" np $NODE attach mv --netns $B --pod web/b --labels role=client
	check "attach c (role=other)" np $NODE attach mv --netns $C --pod web/c --labels role=other
	A4=$(ep_addr $NODE mv $A 4) A6=$(ep_addr $NODE mv $A 6) C4=$(ep_addr $NODE mv $C 4)
	B4=$(ep_addr $NODE mv $B 4)

	# Before any policy: everyone talks.
	check "before: c -> a" tcp $C $A "$A4" 8080

	OUT=$(apply 2>&1); echo "$OUT"
	check "apply succeeds and names pod a's netns" sh -c "echo '$OUT' | grep -q 'pod web/a (macvlan, netns /run/netns/$A): applied (full replace'"
	check "b and c got their (non-isolating) tables too" \
		sh -c "echo '$OUT' | grep -q 'pod web/b (macvlan' && echo '$OUT' | grep -q 'pod web/c (macvlan'"
	LIST=$(ip netns exec $A nft list table inet netpol 2>&1); echo "$LIST"
	check "table inet netpol inside a's netns hooks input and output" \
		sh -c "echo '$LIST' | grep -q 'hook input' && echo '$LIST' | grep -q 'hook output'"
	check "a's ingress map dispatches a's address" sh -c "echo '$LIST' | grep -q '$A4 : goto'"
	check "b -> a allowed (role=client), IPv4" tcp $B $A "$A4" 8081
	check "c -> a denied, IPv4" denied $C $A "$A4" 8082
	check "b -> a allowed, IPv6" tcp $B $A "$A6" 8083
	check "c -> a denied, IPv6" denied $C $A "$A6" 8084
	check "a -> c still allowed (egress not isolated)" tcp $A $C "$C4" 8085
	check "b -> c not isolated" tcp $B $C "$C4" 8086

	OUT=$(apply 2>&1)
	check "second apply: pod a in sync" sh -c "echo '$OUT' | grep -q 'pod web/a (macvlan, netns /run/netns/$A): in sync'"
	STATUS=$(ip netns exec $NODE "$NETPOL" status "$POL" --state-dir "$STATE" 2>&1); echo "$STATUS"
	check "status in sync, per pod" sh -c "echo '$STATUS' | grep -q '^pod web/a (macvlan' &&
		echo '$STATUS' | grep -q '^in sync'"
	check "status counts the allowed packets of a's policy" \
		sh -c "echo '$STATUS' | grep -Eq '^  web/a-from-clients ingress allowed: [1-9][0-9]* packets'"
	# Why the tables live in the pods: none of that traffic crossed the node's hooks.
	check "the node's own table counted none of the macvlan traffic" \
		fails sh -c "ip netns exec $NODE nft list counters table inet netpol | grep -Eq 'packets [1-9]'"
	# Drift inside a's netns (someone deletes the dispatch element) is seen and repaired.
	ip netns exec $A nft delete element inet netpol ing4 "{ $A4 }"
	check "drift in a's netns lets c in" tcp $C $A "$A4" 8087
	STATUS=$(ip netns exec $NODE "$NETPOL" status "$POL" --state-dir "$STATE" 2>&1)
	check "status reports a's table drifted (ing4)" sh -c "echo '$STATUS' | grep -q 'sets differ: ing4' &&
		echo '$STATUS' | grep -q '^drifted'"
	OUT=$(apply 2>&1)
	check "apply repairs it incrementally" sh -c "echo '$OUT' | grep -q 'pod web/a (macvlan, netns /run/netns/$A): applied (incremental'"
	check "c -> a denied again" fails tcp $C $A "$A4" 8088

	ip netns exec $NODE "$NETPOL" render "$POL" --state-dir "$STATE" > $STATE/render.nft
	sed -n "/^# in netns \/run\/netns\/$A (pod web\/a, macvlan)$/,/^# in netns/p" $STATE/render.nft > $STATE/render-a.nft
	check "render shows a's table under its netns comment" grep -q 'table inet netpol {' $STATE/render-a.nft
	check "render: a's table hooks input and output, not forward" sh -c "grep -q 'hook input' $STATE/render-a.nft &&
		grep -q 'hook output' $STATE/render-a.nft && ! grep -q 'hook forward' $STATE/render-a.nft"
	# What render prints for a's netns is what apply put there: loaded with nft into a fresh
	# netns, it lists the same as a's netns (handles and counter values aside).
	mkns ${T}r
	grep -v '^# in netns' $STATE/render-a.nft > $STATE/render-a-only.nft
	# (nft 1.0.6 prints the owner/persist table flags as an empty "flags" line: dropped)
	norm() {
		ip netns exec "$1" nft list table inet netpol |
			sed -E '/^\tflags /d; /^$/d; s/packets [0-9]+ bytes [0-9]+/packets N bytes N/'
	}
	check "render for a loads with nft" ip netns exec ${T}r nft -f $STATE/render-a-only.nft
	R=$(norm ${T}r) L=$(norm $A)
	check "rendered and applied tables list the same ($(echo "$L" | wc -l) lines)" \
		sh -c '[ -n "$1" ] && [ "$1" = "$2" ]' - "$R" "$L"

	# The policy widened to role=other too: c gets in, after one more apply.
	sed -i 's/matchLabels: {role: client}/matchExpressions: [{key: role, operator: In, values: [client, other]}]/' $POL/policy.yaml
	OUT=$(apply 2>&1); echo "$OUT"
	check "widened policy applied in a's netns" sh -c "echo '$OUT' | grep -q 'pod web/a (macvlan, netns /run/netns/$A): applied'"
	check "after widening: c -> a allowed" tcp $C $A "$A4" 8089
	check "after widening: b -> a allowed" tcp $B $A "$A4" 8090

	# Egress, checked on b's output hook in b's own netns: b may only reach a.
	cat > $POL/egress.yaml <<YAML
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: b-to-a-only, namespace: web}
spec:
  podSelector: {matchLabels: {role: client}}
  policyTypes: [Egress]
  egress:
  - to:
    - podSelector: {matchLabels: {app: a}}
YAML
	apply >/dev/null
	check "b's egress map dispatches b's address" \
		sh -c "ip netns exec $B nft list map inet netpol egr4 | grep -q '$B4 : goto'"
	check "egress-isolated b -> a allowed" tcp $B $A "$A4" 8095
	check "egress-isolated b -> c denied" fails tcp $B $C "$C4" 8096
	check "c -> b still allowed (b's ingress not isolated)" tcp $C $B "$B4" 8097
	rm $POL/egress.yaml

	# No policies: a's table stays but isolates nothing.
	mv $POL/policy.yaml $STATE/policy.yaml.off
	sed -i 's/matchExpressions.*/matchLabels: {role: client}}/' $STATE/policy.yaml.off
	apply >/dev/null
	check "without policies a's dispatch map is empty" \
		fails sh -c "ip netns exec $A nft list map inet netpol ing4 | grep -q goto"
	check "without policies: c -> a allowed" tcp $C $A "$A4" 8091

	# Back to the narrow policy, then flush removes the per-pod tables.
	mv $STATE/policy.yaml.off $POL/policy.yaml
	apply >/dev/null
	check "narrow again: c -> a denied" fails tcp $C $A "$A4" 8092
	# A (corrupt or forged) record naming the node's own netns: its one-pod table would replace
	# the node's table of the same name. apply refuses that pod and leaves everything else.
	jq --arg ns /run/netns/$NODE '.id = "bad" | .netns = $ns | .pod.name = "bad" |
		.addresses = ["10.99.51.200/24"]' $STATE/endpoints/mv/$A.json > $STATE/endpoints/mv/bad.json
	OUT=$(apply 2>&1); RC=$?
	SAID=$(echo "$OUT" | grep -c "/run/netns/$NODE is the node's own network namespace")
	check "apply fails on a record naming the node's netns (rc $RC, said so $SAID times)" \
		sh -c '[ "$1" = 1 ] && [ "$2" = 1 ]' - "$RC" "$SAID"
	check "the node's table keeps its forward chains" ip netns exec $NODE nft list chain inet netpol ingress-fwd
	check "a's table untouched: c -> a denied" fails tcp $C $A "$A4" 8099
	rm $STATE/endpoints/mv/bad.json
	OUT=$(ip netns exec $NODE "$NETPOL" flush --state-dir "$STATE" 2>&1); echo "$OUT"
	check "flush names a's netns" sh -c "echo '$OUT' | grep -q 'removed table inet netpol in netns /run/netns/$A'"
	check "no table left in a's netns" fails ip netns exec $A nft list table inet netpol
	check "after flush: c -> a allowed" tcp $C $A "$A4" 8093

	# A pod whose netns vanished is skipped, not an error.
	apply >/dev/null
	ip netns del $C
	OUT=$(apply 2>&1)
	check "apply with c's netns gone succeeds ($(echo "$OUT" | grep web/c))" \
		sh -c "echo '$OUT' | grep -q 'pod web/c: netns /run/netns/$C is gone'"
	check "b -> a still allowed" tcp $B $A "$A4" 8094
	check "status with c's netns gone: in sync" \
		sh -c "ip netns exec $NODE '$NETPOL' status '$POL' --state-dir '$STATE' | grep -q '^in sync'"
	# With --node, a macvlan pod without a node is this host's (its record is in this host's state
	# directory): its table is still programmed.
	ip netns exec $A nft delete table inet netpol
	OUT=$(apply --node n1 2>&1)
	check "apply --node n1 programs a's table" sh -c "echo '$OUT' | grep -q 'pod web/a (macvlan, netns /run/netns/$A): applied (full replace'"
	check "... isolating a again" sh -c "ip netns exec $A nft list map inet netpol ing4 | grep -q '$A4 : goto'"
	check "... b -> a still allowed" tcp $B $A "$A4" 8098
	finish
}
