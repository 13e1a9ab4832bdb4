# tests/policyd/flows.sh — what the flow tests (t-flows-*.sh) share, sourced after lib.sh:
# reading policyd's records, waiting for one, checking every record against the schema of
# tests/data/flows, the kernel's counter of a drop point, traffic from tests/tools/flowgen.py.
FLOWGEN="/usr/bin/python3 $NP_SRC/tests/tools/flowgen.py"
FLOWSCHEMA="/usr/bin/python3 $NP_SRC/tests/tools/flowschema.py"
FLOW_SCHEMA="$NP_SRC/tests/data/flows/schema.json"

# a_from_b [PORTS]: the NetworkPolicy x/a-from-b: x/a admits only x/b (on PORTS, a YAML flow
# list: '[{port: 80}]'); c_no_egress: y/c-no-egress, y/c's egress closed
a_from_b() {
	printf 'apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: a-from-b, namespace: x}\n'
	printf 'spec:\n  podSelector: {matchLabels: {pod: a}}\n  ingress:\n'
	printf '  - from: [{podSelector: {matchLabels: {pod: b}}}]\n'
	[ -z "${1:-}" ] || printf '    ports: %s\n' "$1"
	printf -- '---\n'
}
c_no_egress() {
	printf 'apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\n'
	printf "metadata: {name: c-no-egress, namespace: 'y'}\nspec:\n"
	printf '  podSelector: {matchLabels: {pod: c}}\n  policyTypes: [Egress]\n---\n'
}

# flows ARGS...: netpol flows against this test's policyd
flows() { np_node "$NETPOL" flows --state-dir "$PD_STATE" "$@"; }

# in_pod POD CMD...: CMD inside the pod's netns
in_pod() { local p=$1; shift; ip netns exec "$(np_pod_ns "$p")" "$@"; }

# flows_json OUT [FILTERS...]: every record policyd holds (matching FILTERS), one JSON a line
flows_json() { local out=$1; shift; flows --all -o json "$@" >"$out"; }

# flows_count JQ: how many records policyd holds that the jq expression selects (e.g.
# 'select(.verdict == "DROPPED")'); folded records count as many as they fold
flows_count() {
	flows --all -o json >"$NP_TMP/fc.jsonl" || { echo 0; return; }
	jq -s "[.[] | $1 | .netpol.folded // 1] | add // 0" "$NP_TMP/fc.jsonl"
}

# flows_wait JQ [N]: polls until at least N (default 1) records match (PD_DEADLINE)
flows_wait() {
	local want=${2:-1} end=$(( $(date +%s) + PD_DEADLINE )) got
	while :; do
		got=$(flows_count "$1")
		[ "$got" -ge "$want" ] && return 0
		[ "$(date +%s)" -ge "$end" ] && break
		sleep 0.2
	done
	np_log "  no $want record(s) matching: $1 (got $got)"
	return 1
}

# between V LO HI: LO < V <= HI
between() { [ "$1" -gt "$2" ] && [ "$1" -le "$3" ]; }

# flows_valid FILE: every line validates against the schema
flows_valid() { $FLOWSCHEMA "$FLOW_SCHEMA" "$1"; }

# drop_counter CHAIN: the packets the drop rule of pod chain CHAIN (ing-x/a) counted
drop_counter() {
	np_node nft -j list chain inet netpol "$1" |
		jq '[.nftables[].rule? | select(. != null) | select(any(.expr[]; has("drop")))
		     | .expr[] | select(has("counter")) | .counter.packets] | add // 0'
}
