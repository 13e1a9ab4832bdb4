#!/bin/sh
# Audit mode, by real packets through policyd: x/a's ingress is isolated only by a-from-b,
# annotated netpol.io/audit: "true": what it would drop (y/a -> x/a) passes, and an AUDIT
# record names the policy that would have dropped it; netpol explain says "would drop (audit)",
# netpol_audit_would_drop_total counts it for that policy. Removing the annotation drops the
# same flow (a DROPPED record). An audited ClusterNetworkPolicy's Deny lets its flow through with
# an AUDIT record naming it. policyd --audit (the whole node) lets through what an ordinary
# policy denies, with AUDIT records, and netpol reach --audit marks the cell A ("would drop
# (audit)"); netpol apply --audit does the same without policyd, and without it the flow drops.
[ -n "$BASH_VERSION" ] || exec bash "$0" "$@"
set -u
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/flows.sh"
pd_setup
audited() { # ANNOTATION ("true", "false"): the policy isolating x/a, then the admin one
	cat <<YAML
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: a-from-b
  namespace: x
  annotations: {netpol.io/audit: "$1"}
spec:
  podSelector: {matchLabels: {pod: a}}
  ingress:
  - from: [{podSelector: {matchLabels: {pod: b}}}]
---
apiVersion: policy.networking.k8s.io/v1alpha2
kind: ClusterNetworkPolicy
metadata:
  name: no-y-to-z
  annotations: {netpol.io/audit: "true"}
spec:
  tier: Admin
  priority: 10
  subject: {namespaces: {matchLabels: {ns: z}}}
  ingress:
  - action: Deny
    from: [{namespaces: {matchLabels: {ns: 'y'}}}]
YAML
}
audited true | put "$PD_DIR/audit.yaml"
check "policyd starts" pd_start
ya_xa="select(.source.namespace == \"y\" and .source.pod_name == \"a\" and
	      .destination.namespace == \"x\" and .destination.pod_name == \"a\")"
check "audited: y/a -> x/a, which a-from-b would drop, connects" expect_conn y/a x/a 1
check "  an AUDIT record naming the policy that would have dropped it" flows_wait \
	"$ya_xa | select(.verdict == \"AUDIT\" and .netpol.event == \"log\" and
	        .traffic_direction == \"INGRESS\" and
	        (.ingress_denied_by | map(.namespace + \"/\" + .name)) == [\"x/a-from-b\"])"
check "  x/b -> x/a, which it allows, connects" expect_conn x/b x/a 1
check "  FORWARDED, allowed by a-from-b" flows_wait \
	"select(.source.pod_name == \"b\" and .destination.pod_name == \"a\" and
	        .source.namespace == \"x\" and .verdict == \"FORWARDED\" and
	        (.ingress_allowed_by | map(.name)) == [\"a-from-b\"])"
check "  and no AUDIT record of it" [ "$(flows_count "select(.source.pod_name == \"b\" and
	.source.namespace == \"x\" and .verdict == \"AUDIT\")")" = 0 ]
np_node "$NETPOL" explain "$PD_DIR" --from y/a --to x/a --port 80 >"$NP_TMP/explain.txt"
check "  netpol explain says would drop (audit)" grep -q "no rule of x/a-from-b allows it: would drop (audit)" "$NP_TMP/explain.txt"
check "  and its verdict AUDIT" grep -q "^AUDIT y/a -> x/a" "$NP_TMP/explain.txt"
pd_metrics "$NP_TMP/m"
check "  netpol_audit_would_drop_total counts it for x/a-from-b" [ "$(metric "$NP_TMP/m" \
	'netpol_audit_would_drop_total{direction="ingress",namespace="x",policy="a-from-b"}')" -ge 1 ]
check "audited Deny: y/b -> z/a connects" expect_conn y/b z/a 1
check "  an AUDIT record naming the ClusterNetworkPolicy" flows_wait \
	"select(.source.pod_name == \"b\" and .destination.namespace == \"z\" and .verdict == \"AUDIT\" and
	        .netpol.event == \"log\" and
	        (.ingress_denied_by | map(.kind + \" \" + .name)) == [\"ClusterNetworkPolicy no-y-to-z\"])"

audited false | put "$PD_DIR/audit.yaml"
check "annotation removed: y/a -> x/a dropped" expect_conn y/a x/a 0
check "  a DROPPED record naming a-from-b" flows_wait \
	"$ya_xa | select(.verdict == \"DROPPED\" and (.ingress_denied_by | map(.name)) == [\"a-from-b\"])"
np_node "$NETPOL" explain "$PD_DIR" --from y/a --to x/a --port 80 >"$NP_TMP/explain.txt"
check "  netpol explain says DROPPED" grep -q "^DROPPED y/a -> x/a" "$NP_TMP/explain.txt"

# the whole node: policyd --audit
check "policyd restarted with --audit" pd_stop
check "  starts" pd_start --audit
check "  y/a -> x/a, which a-from-b (not annotated) would drop, connects" expect_conn y/a x/a 1
check "  an AUDIT record" flows_wait "$ya_xa | select(.verdict == \"AUDIT\" and .netpol.event == \"log\")"
np_node "$NETPOL" reach "$PD_DIR" --audit >"$NP_TMP/reach.txt"
check "  netpol reach --audit marks y/a -> x/a A" awk '$1 == "y/a" && $2 == "A" { ok = 1 } END { exit !ok }' "$NP_TMP/reach.txt"
check "  and says what A means" grep -q "^A: would drop (audit)" "$NP_TMP/reach.txt"
flows_json "$NP_TMP/all.jsonl"
check "every record validates against the schema" flows_valid "$NP_TMP/all.jsonl"

# netpol apply --audit, without policyd: the same ruleset switch
check "policyd stopped" pd_stop
check "netpol apply (no --audit)" np_node "$NETPOL" apply "$PD_DIR"
check "  y/a -> x/a is dropped" expect_conn y/a x/a 0
check "netpol apply --audit" np_node "$NETPOL" apply "$PD_DIR" --audit
check "  y/a -> x/a connects" expect_conn y/a x/a 1
pd_finish
