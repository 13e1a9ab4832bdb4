#!/bin/sh
# Drops become records, by real packets in the 9-pod harness with policyd collecting: a denied
# TCP (IPv4 and IPv6), UDP and ICMP attempt each yields one DROPPED record naming both pods, the
# direction and the policies isolating the pod (ingress at x/a; egress at y/c; an Admin-tier Deny
# names its ClusterNetworkPolicy). The records of a drop point add up to the kernel's drop
# counter of that pod: exactly while under the log's rate limit (a burst of 20, then 10/s),
# and beyond it the shortfall is exactly what netpol_flow_log_suppressed_total counts. Every
# record validates against tests/data/flows/schema.json; netpol_flows_total counts them. Before
# policyd: `netpol flows --collect` reads the drops of `netpol apply`'s ruleset itself; policyd
# started meanwhile says the NFLOG group is taken (log, status) and binds it once it is free.
[ -n "$BASH_VERSION" ] || exec bash "$0" "$@"
set -u
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/flows.sh"
pd_setup
{ a_from_b '[{port: 80}]'; c_no_egress; } >"$PD_DIR/flows-policies.yaml"
cat >>"$PD_DIR/flows-policies.yaml" <<'YAML'
apiVersion: policy.networking.k8s.io/v1alpha2
kind: ClusterNetworkPolicy
metadata: {name: no-yb-to-z}
spec:
  tier: Admin
  priority: 10
  subject: {namespaces: {matchLabels: {ns: z}}}
  ingress:
  - action: Deny
    from: [{pods: {namespaceSelector: {matchLabels: {ns: 'y'}}, podSelector: {matchLabels: {pod: b}}}}]
YAML
XA4=$(np_pod_addr x/a 4)

# before policyd: netpol apply, and netpol flows --collect reading the drops itself
check "netpol apply (no policyd yet)" np_apply "$PD_DIR"
ip netns exec "$NP_NODE" "$NETPOL" flows --collect "$PD_DIR" -o json >"$NP_TMP/collect.jsonl" \
	2>"$NP_TMP/collect.err" & # (ip netns exec execs netpol: $! is its pid)
COLLECTOR=$!
PD_PIDS="$PD_PIDS $COLLECTOR"
sleep 0.5
probe y/a x/a 80 >/dev/null
collected() { jq -e 'select(.verdict == "DROPPED" and .source.pod_name == "a" and
	.destination.pod_name == "a" and .ingress_denied_by[0].name == "a-from-b")' \
	"$NP_TMP/collect.jsonl" >/dev/null; }
check "netpol flows --collect (no policyd) records a drop, named" pd_wait_for collected
check "policyd starts while the collector holds NFLOG group 100" pd_start
check "  it says the group is taken, drops not recorded" \
	grep -q "flows: NFLOG group 100 is taken by another process .*drops are NOT recorded" "$PD_LOG"
np_node "$NETPOL" status "$PD_DIR" --state-dir "$PD_STATE" >"$NP_TMP/status.txt" 2>&1
check "  and netpol status says so" grep -q "^policyd: flows: NFLOG group 100 taken by another process: drops are NOT recorded" "$NP_TMP/status.txt"
kill "$COLLECTOR"
wait "$COLLECTOR"
check "the collector gone, policyd binds the group (retried every 5 s)" \
	pd_wait_for grep -q "flows: NFLOG group 100 is free now: drops are recorded" "$PD_LOG"

# one attempt of each kind, each one record
ends() { # SRC DST: the jq test that a record goes from SRC to DST
	echo ".source.namespace == \"${1%/*}\" and .source.pod_name == \"${1#*/}\" and
	      .destination.namespace == \"${2%/*}\" and .destination.pod_name == \"${2#*/}\""
}
names() { echo "map((.namespace // \"\") + \"/\" + .name + \" \" + .kind) | join(\",\")"; }
ING="(.ingress_denied_by | $(names)) == \"x/a-from-b NetworkPolicy\" and
     (.netpol.ingress_isolated_by | $(names)) == \"x/a-from-b NetworkPolicy\" and
     .traffic_direction == \"INGRESS\" and .drop_reason_desc == \"POLICY_DENIED\""
check "TCP y/a -> x/a:80 is dropped" [ "$(probe y/a x/a 80)" = 0 ]
check "  one DROPPED record: both pods, INGRESS, the isolating policy, TCP SYN to 80" flows_wait \
	"select(.verdict == \"DROPPED\" and $(ends y/a x/a) and $ING and
	        .l4.TCP.destination_port == 80 and .l4.TCP.flags.SYN and .IP.ipVersion == \"IPv4\")"
check "TCP over IPv6 y/a -> x/a:80 is dropped" [ "$(probe y/a x/a 80 6)" = 0 ]
check "  its record says IPv6" flows_wait "select(.verdict == \"DROPPED\" and $(ends y/a x/a) and
	$ING and .IP.ipVersion == \"IPv6\" and .IP.destination == \"$(np_pod_addr x/a 6)\")"
in_pod y/a $FLOWGEN udp "$XA4" 81 1 >/dev/null
check "UDP y/a -> x/a:81: a DROPPED record" flows_wait \
	"select(.verdict == \"DROPPED\" and $(ends y/a x/a) and $ING and .l4.UDP.destination_port == 81)"
in_pod y/a $FLOWGEN icmp "$XA4" 1 >/dev/null
check "ICMP echo y/a -> x/a: a DROPPED record (ICMPv4 type 8)" flows_wait \
	"select(.verdict == \"DROPPED\" and $(ends y/a x/a) and $ING and .l4.ICMPv4.type == 8)"
check "egress: y/c -> x/b:80 is dropped" [ "$(probe y/c x/b 80)" = 0 ]
check "  a DROPPED record at y/c's egress naming y/c-no-egress" flows_wait \
	"select(.verdict == \"DROPPED\" and $(ends y/c x/b) and .traffic_direction == \"EGRESS\" and
	        (.egress_denied_by | $(names)) == \"y/c-no-egress NetworkPolicy\")"
check "Admin tier: y/b -> z/a:80 is dropped" [ "$(probe y/b z/a 80)" = 0 ]
check "  a DROPPED record naming the ClusterNetworkPolicy and its rule" flows_wait \
	"select(.verdict == \"DROPPED\" and $(ends y/b z/a) and .traffic_direction == \"INGRESS\" and
	        (.ingress_denied_by | $(names)) == \"/no-yb-to-z ClusterNetworkPolicy\" and
	        .netpol.ingress_rule == \"ingress[0]\")"
check "no record of the allowed x/b -> x/a:80 is a drop" [ "$(probe x/b x/a 80)" = 1 ]
check "  (it is FORWARDED)" flows_wait "select(.verdict == \"FORWARDED\" and $(ends x/b x/a))"

# records = the kernel's drop counter of the pod, within the rate limit
fromyb() { echo "select(.verdict == \"DROPPED\" and $(ends y/b x/a) and .l4.UDP.destination_port >= $1 and .l4.UDP.destination_port < $2)"; }
sleep 2.5 # the log's bucket refills (10/s, at most 20)
c0=$(drop_counter ing-x/a)
in_pod y/b $FLOWGEN udp "$XA4" 2000 12 12 >/dev/null
check "12 UDP drops y/b -> x/a (distinct ports): 12 in the records" flows_wait "$(fromyb 2000 2012)" 12
c1=$(drop_counter ing-x/a)
echo "    kernel: ing-x/a dropped $((c1 - c0)); records: $(flows_count "$(fromyb 2000 2012)")"
check "  = the kernel's drop counter of x/a" [ "$((c1 - c0))" = "$(flows_count "$(fromyb 2000 2012)")" ]

sleep 2.5
pd_metrics "$NP_TMP/m0"
s0=$(metric "$NP_TMP/m0" "netpol_flow_log_suppressed_total{}")
c0=$(drop_counter ing-x/a)
t0=$(date +%s%N)
in_pod y/b $FLOWGEN udp "$XA4" 3000 200 200 >/dev/null
t1=$(date +%s%N)
sleep 1.5
c1=$(drop_counter ing-x/a)
pd_metrics "$NP_TMP/m1"
s1=$(metric "$NP_TMP/m1" "netpol_flow_log_suppressed_total{}")
r=$(flows_count "$(fromyb 3000 3200)")
limit=$((20 + 10 * ((t1 - t0) / 1000000 + 999) / 1000 + 1))
echo "    200 UDP drops in $(((t1 - t0) / 1000000)) ms: kernel counted $((c1 - c0)), $r logged" \
     "(limit $limit), suppressed $((s1 - s0))"
check "beyond the burst: the kernel dropped all 200" [ "$((c1 - c0))" = 200 ]
check "  the records stay within the rate limit (burst 20, 10/s)" between "$r" 19 "$limit"
check "  records + netpol_flow_log_suppressed_total = the kernel's counter" \
	[ "$((r + s1 - s0))" = "$((c1 - c0))" ]
check "  nothing was lost on the way (only suppressed)" \
	[ "$(metric "$NP_TMP/m1" 'netpol_flow_events_lost_total{source="nflog"}')" = 0 ]

flows_json "$NP_TMP/all.jsonl"
check "every record validates against the schema" flows_valid "$NP_TMP/all.jsonl"
n=$(jq -s '[.[] | select(.verdict == "DROPPED" and .traffic_direction == "INGRESS") | .netpol.folded] | add' "$NP_TMP/all.jsonl")
check "netpol_flows_total{DROPPED,ingress} counts the ingress drop records ($n)" \
	[ "$(metric "$NP_TMP/m1" 'netpol_flows_total{direction="ingress",verdict="DROPPED"}')" = "$n" ]
pd_finish
