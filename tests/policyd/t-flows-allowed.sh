#!/bin/sh
# Allowed connections become records, by real packets in the 9-pod harness with policyd
# collecting: an allowed TCP connection x/b -> x/a (x/b's egress isolated by b-to-a, x/a's
# ingress by a-from-b) yields a FORWARDED record when it opens, naming both pods and the policy
# and rule that allowed it at each end (egress[0].to[0] at x/b, ingress[0].from[0].ports[1] at
# x/a), and one when it closes with the bytes and packets each way from conntrack
# (nf_conntrack_acct, which policyd turned on in its netns): the bytes match what was sent
# (100,000 and 50,000), plus at most 80 bytes of headers per packet. Over IPv6 and UDP the same
# attribution; between pods no policy isolates, a record with no policy. Records validate.
[ -n "$BASH_VERSION" ] || exec bash "$0" "$@"
set -u
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/flows.sh"
pd_setup
a_from_b '[{port: 80}, {port: 90}, {port: 91, protocol: UDP}]' >"$PD_DIR/flows-policies.yaml"
cat >>"$PD_DIR/flows-policies.yaml" <<'YAML'
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: b-to-a, namespace: x}
spec:
  podSelector: {matchLabels: {pod: b}}
  policyTypes: [Egress]
  egress:
  - to: [{podSelector: {matchLabels: {pod: a}}}]
YAML
# a closed connection's entry expires after 1 s in this (the node's) netns; the kernel ends an
# expired entry when the next packet of its ports looks it up (its garbage collector may take a
# minute on a quiet table): the client knocks again from the same port
np_node sh -c 'for t in time_wait close close_wait fin_wait last_ack; do
	echo 1 >/proc/sys/net/netfilter/nf_conntrack_tcp_timeout_$t; done'
check "policyd starts, collecting" pd_start
check "  nf_conntrack_acct is on in its netns" \
	[ "$(np_node cat /proc/sys/net/netfilter/nf_conntrack_acct)" = 1 ]
XA4=$(np_pod_addr x/a 4)

pd_bg in_pod x/a $FLOWGEN xfer-server 90 100000 50000 >"$NP_TMP/xfer-server.log"
pd_wait_for grep -q ready "$NP_TMP/xfer-server.log"
in_pod x/b $FLOWGEN xfer-client "$XA4" 90 100000 50000 40090 >"$NP_TMP/xfer-client.log"
check "x/b sent 100000 bytes to x/a:90 and got 50000 back" \
	grep -q "sent 100000 received 50000" "$NP_TMP/xfer-client.log"
sleep 1.5
in_pod x/b $FLOWGEN knock "$XA4" 90 40090
conn="select(.source.namespace == \"x\" and .source.pod_name == \"b\" and
	     .destination.namespace == \"x\" and .destination.pod_name == \"a\" and
	     .l4.TCP.destination_port == 90 and .IP.ipVersion == \"IPv4\")"
attributed="(.egress_allowed_by | map(.kind + \" \" + .namespace + \"/\" + .name)) == [\"NetworkPolicy x/b-to-a\"] and
	    .netpol.egress_rule == \"egress[0].to[0]\" and
	    (.ingress_allowed_by | map(.kind + \" \" + .namespace + \"/\" + .name)) == [\"NetworkPolicy x/a-from-b\"] and
	    .netpol.ingress_rule == \"ingress[0].from[0].ports[1]\" and
	    (.netpol.egress_isolated_by | map(.name)) == [\"b-to-a\"] and
	    (.netpol.ingress_isolated_by | map(.name)) == [\"a-from-b\"]"
check "the connection's opening: FORWARDED, both pods, the policy and rule at each end" \
	flows_wait "$conn | select(.verdict == \"FORWARDED\" and .netpol.event == \"new\" and
		.traffic_direction == \"EGRESS\" and $attributed)"
check "its close: FORWARDED, the same attribution, bytes and packets both ways" \
	flows_wait "$conn | select(.verdict == \"FORWARDED\" and .netpol.event == \"close\" and
		$attributed and .netpol.stats.bytes_src_to_dst > 0)"
flows_json "$NP_TMP/all.jsonl"
# the transfer's entry is the first to close (the knocks made more of the same ports)
jq -c "$conn | select(.netpol.event == \"close\")" "$NP_TMP/all.jsonl" | head -1 >"$NP_TMP/close.json"
jq -c .netpol.stats "$NP_TMP/close.json" >"$NP_TMP/stats.json"
echo "    conntrack counted: $(cat "$NP_TMP/stats.json")"
within() { # BYTES PACKETS SENT: SENT <= BYTES <= SENT + 80 a packet (IP + TCP headers)
	[ -s "$NP_TMP/stats.json" ] &&
		jq -e ".$1 >= $3 and .$1 <= $3 + 80 * .$2" "$NP_TMP/stats.json" >/dev/null
}
check "  x/b -> x/a bytes = 100000 + headers" within bytes_src_to_dst packets_src_to_dst 100000
check "  x/a -> x/b bytes = 50000 + headers" within bytes_dst_to_src packets_dst_to_src 50000
check "  it lasted a measured while" [ "$(jq ".netpol.duration_ms > 0" "$NP_TMP/close.json")" = true ]

check "TCP over IPv6 x/b -> x/a:80 connects" [ "$(probe x/b x/a 80 6)" = 1 ]
check "  its record says IPv6, rule ingress[0].from[0].ports[0]" flows_wait \
	"select(.verdict == \"FORWARDED\" and .IP.ipVersion == \"IPv6\" and .source.pod_name == \"b\" and
	        .destination.pod_name == \"a\" and .netpol.ingress_rule == \"ingress[0].from[0].ports[0]\")"
in_pod x/b $FLOWGEN udp "$XA4" 91 1 >/dev/null
check "UDP x/b -> x/a:91: FORWARDED, rule ingress[0].from[0].ports[2]" flows_wait \
	"select(.verdict == \"FORWARDED\" and .l4.UDP.destination_port == 91 and
	        .netpol.ingress_rule == \"ingress[0].from[0].ports[2]\")"
check "y/a -> y/b (no policy isolates either): connects" [ "$(probe y/a y/b 80)" = 1 ]
check "  a FORWARDED record with no policy and no isolation" flows_wait \
	"select(.verdict == \"FORWARDED\" and .source.namespace == \"y\" and .source.pod_name == \"a\" and
	        .destination.pod_name == \"b\" and .egress_allowed_by == null and
	        .ingress_allowed_by == null and .netpol.ingress_isolated_by == null)"
flows_json "$NP_TMP/all.jsonl"
check "every record validates against the schema" flows_valid "$NP_TMP/all.jsonl"
pd_finish
