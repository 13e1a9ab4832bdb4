#!/bin/sh
# Lint warnings: each kind appears where expected (file:line:col + pointer), warnings alone
# exit 0 (1 with --strict), and fixing the cause makes the warning go away.
: "${NETPOL:?}"
cd "${NETPOL_SRC:-.}/tests/data" || exit 2
fail=0
expect() { # output, substring
	printf '%s\n' "$1" | grep -qF -- "$2" || { echo "FAIL: missing: $2"; fail=1; }
}
out=$("$NETPOL" check lint 2>&1); rc=$?
[ $rc -eq 0 ] || { echo "FAIL: warnings only must exit 0 without --strict, got $rc"; fail=1; }
expect "$out" "lint/policies.yaml:5:16: warning: policy prod/ghost: selects no pod [at /spec/podSelector]"
expect "$out" "lint/policies.yaml:14:7: warning: policy prod/peers: peer selects no pod [at /spec/ingress/0/from/0]"
expect "$out" "lint/policies.yaml:15:7: warning: policy prod/peers: peer selects no pod and no namespace [at /spec/ingress/0/from/1]"
expect "$out" "lint/policies.yaml:20:13: warning: policy prod/peers: named port \"grpc\" (TCP) is defined by no pod this policy selects [at /spec/ingress/0/ports/1/port]"
expect "$out" "lint/policies.yaml:29:3: warning: policy prod/egress-https-only: pod prod/web cannot reach DNS"
expect "$out" "lint/policies.yaml:31:13: warning: policy prod/egress-https-only: named port \"nosuch\" (TCP) is defined by no pod"
expect "$out" "lint/policies.yaml:37:16: warning: policy prod/host: selects 1 host-network pod (prod/agent); host-network pods are never isolated"
expect "$out" "lint/policies.yaml:46:3: warning: policy prod/ignored: egress rules are ignored: policyTypes does not include Egress"
expect "$out" "0 errors, 8 warnings; 2 namespaces, 2 pods, 5 policies"
# the peer whose namespaceSelector matches an (empty) namespace is not reported
case $out in *"/from/2]"*) echo "FAIL: /from/2 selects namespace 'empty' and must not warn"; fail=1 ;; esac
"$NETPOL" check lint --strict >/dev/null 2>&1; rc=$?
[ $rc -eq 1 ] || { echo "FAIL: --strict with warnings must exit 1, got $rc"; fail=1; }
"$NETPOL" check good --strict >/dev/null 2>&1; rc=$?
[ $rc -eq 0 ] || { echo "FAIL: --strict on a clean dir must exit 0, got $rc"; fail=1; }

# allowing DNS in a second egress policy removes the DNS warning (all policies count)
tmp=$(mktemp -d) || exit 2
trap 'rm -rf "$tmp"' EXIT
trap 'exit 2' INT TERM HUP # so the EXIT trap runs on a signal too (dash)
cp lint/*.yaml "$tmp/"
cat >"$tmp/zz-dns.yaml" <<'YAML'
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: allow-dns, namespace: prod}
spec:
  podSelector: {matchLabels: {app: web}}
  policyTypes: [Egress]
  egress:
  - ports: [{port: 53, protocol: UDP}]
YAML
out=$("$NETPOL" check "$tmp" 2>&1)
case $out in *"cannot reach DNS"*) echo "FAIL: DNS warning despite allow-dns"; fail=1 ;; esac
expect "$out" "0 errors, 7 warnings"

# the admin tiers: equal priorities over the same pods, Pass in Baseline, a shadowed rule
out=$("$NETPOL" check lint-admin 2>&1); rc=$?
[ $rc -eq 0 ] || { echo "FAIL: admin lint warnings must exit 0, got $rc"; fail=1; }
expect "$out" "lint-admin/admin.yaml:12:5: warning: ClusterNetworkPolicy guard-a: rule egress[1] can never match: egress[0] (all-pods) matches every flow it does, first [at /spec/egress/1]"
expect "$out" "lint-admin/admin.yaml:21:13: warning: ClusterNetworkPolicy guard-b: same tier and priority (20) as ClusterNetworkPolicy guard-a over the same pods"
expect "$out" "lint-admin/admin.yaml:35:5: warning: ClusterNetworkPolicy base: ingress[0]: Pass in the Baseline tier goes to the default"
expect "$out" "0 errors, 3 warnings; 2 namespaces, 2 pods, 0 policies, 3 admin-tier policies"
# a subject that selects other pods: no equal-priority warning
sed 's/app: web/app: none/' lint-admin/admin.yaml >"$tmp/admin.yaml"
cp lint-admin/inventory.yaml "$tmp/"
rm -f "$tmp"/policies.yaml "$tmp"/zz-dns.yaml
out=$("$NETPOL" check "$tmp" 2>&1)
case $out in *"same tier and priority"*) echo "FAIL: equal-priority warning for disjoint subjects"; fail=1 ;; esac
exit $fail
