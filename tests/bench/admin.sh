#!/bin/sh
# Admin-tier benchmark: what 100 ClusterNetworkPolicies of 25 rules each cost.
#   compile   compile.sh and apply.sh with ADMIN=100: the 10,000-pod / 1,000-policy cluster
#   apply     plus 100 admin policies (their runs without it, earlier in make bench, compare)
#   conn/s    np_agent connrate x/a -> x/b on the 9-pod topology of tests/lib/topo.sh with
#             10 NetworkPolicies selecting x/b, then the same plus 100 admin policies (25 rules,
#             80 Admin / 20 Baseline) selecting the y and z pods but not x, then plus the same
#             with 10 of them selecting namespace x (x/a's egress and x/b's ingress walk 10
#             policies of 25 rules that do not match, then NetworkPolicy decides)
# Figures are printed, not asserted. Targets: connection rate with the admin policies >= 0.95x
# without; incremental apply of one pod <= 5 ms.
# Env: NETPOL_BUILD, NETPOL, RUNS (3), SECS (3); PODS etc. as compile.sh and apply.sh
[ -n "$BASH_VERSION" ] || exec bash "$0" "$@"
set -u
. "$(dirname "$0")/../lib/topo.sh"
RUNS=${RUNS:-3} SECS=${SECS:-3}
np_require_root
np_require_netpol apply

# ---- compile and apply: the 10,000-pod cluster of compile.sh and apply.sh, plus 100 admin
# policies (their runs without ADMIN are the comparison) ----
here=$(cd "$(dirname "$0")" && pwd)
ADMIN=100 sh "$here/compile.sh" || exit 1
echo
ADMIN=100 sh "$here/apply.sh" || exit 1
echo

trap np_topo_down EXIT
trap "exit 2" INT TERM HUP
np_topo_up || exit 1
np_servers_start || exit 1
np_node sh -c 'f=/proc/sys/net/netfilter/nf_conntrack_tcp_timeout_time_wait; [ -w $f ] && echo 1 >$f; true'

median() { sort -n | awk '{ v[NR] = $1 } END { print NR ? v[int((NR + 1) / 2)] : 0 }'; }

# ---- connection rate on the 9-pod topology ----
np_base_inventory "$NP_TMP/c-np"
for k in 0 1 2 3 4 5 6 7 8 9; do
	cat >"$NP_TMP/c-np/np-x-xb-$k.yaml" <<YAML
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: xb-$k, namespace: x}
spec:
  podSelector: {matchLabels: {pod: b}}
  ingress:
  - from:
    - namespaceSelector: {}
      podSelector: {matchLabels: {pod: $([ $k = 9 ] && echo a || echo z$k)}}
    ports:
    - {protocol: TCP, port: $([ $k = 9 ] && echo 80 || echo $((9000 + k)))}
YAML
done
admin_policies() { # DIR N_SELECTING_X
	python3 - "$1" "$2" <<'PY'
import json, sys
out, nx = sys.argv[1], int(sys.argv[2])
items = []
for i in range(100):
    tier = "Admin" if i < 80 else "Baseline"
    ns = "x" if i < nx else ("y" if i % 2 else "z")
    def rule(r, ingress):
        acts = ["Pass", "Deny", "Accept"] if tier == "Admin" else ["Deny", "Accept"]
        peer = ({"namespaces": {"matchLabels": {"ns": ["x", "y", "z"][r % 3]}}} if r % 2 or ingress
                else {"networks": ["10.%d.%d.0/24" % (100 + i % 100, r), "fd00:99::/64"]})
        return {"name": "r%d" % r, "action": acts[(i + r) % len(acts)],
                ("from" if ingress else "to"): [peer],
                "protocols": [{"tcp": {"destinationPort": {"number": 7000 + r}}}]}
    items.append({"apiVersion": "policy.networking.k8s.io/v1alpha2", "kind": "ClusterNetworkPolicy",
                  "metadata": {"name": "adm-%03d" % i},
                  "spec": {"tier": tier, "priority": i, "subject": {"namespaces": {"matchLabels": {"ns": ns}}},
                           "ingress": [rule(r, True) for r in range(13)],
                           "egress": [rule(r, False) for r in range(13, 25)]}})
json.dump({"apiVersion": "v1", "kind": "List", "items": items}, open(out + "/admin.json", "w"))
PY
}
mkdir -p "$NP_TMP/c-adm" "$NP_TMP/c-admx"
cp "$NP_TMP/c-np"/* "$NP_TMP/c-adm"/; admin_policies "$NP_TMP/c-adm" 0
cp "$NP_TMP/c-np"/* "$NP_TMP/c-admx"/; admin_policies "$NP_TMP/c-admx" 10
declare -A CS
CLIENT=$(np_pod_ns x/a) SERVER=$(np_pod_addr x/b 4)
for r in $(seq "$RUNS"); do
	for s in c-np c-adm c-admx; do
		np_node "$NETPOL" apply "$NP_TMP/$s" --node node-1 >"$NP_TMP/apply.log" 2>&1 ||
			{ cat "$NP_TMP/apply.log"; exit 1; }
		CS[$s]="${CS[$s]:-} $(ip netns exec "$CLIENT" "$NP_AGENT" connrate --seconds "$SECS" "$SERVER" 80 |
			awk '{ for (i = 1; i <= NF; i++) if ($i == "rate") { sub("/s", "", $(i + 1)); print $(i + 1) } }')"
	done
done
np_node "$NETPOL" flush >/dev/null
c0=$(printf '%s\n' ${CS[c-np]} | median)
echo
echo "new connections/s x/a -> x/b (connrate ${SECS}s, median of $RUNS interleaved rounds):"
for s in c-np c-adm c-admx; do
	case $s in
	c-np) l="10 NetworkPolicies" ;;
	c-adm) l="+ 100 admin policies, none selecting x" ;;
	c-admx) l="+ 100 admin policies, 10 selecting x" ;;
	esac
	c=$(printf '%s\n' ${CS[$s]} | median)
	awk -v l="$l" -v c="$c" -v c0="$c0" -v all="${CS[$s]}" \
		'BEGIN { printf "  %-40s %8.0f /s  %5.1f%%  (runs:%s)\n", l, c, c0 ? 100 * c / c0 : 0, all }'
done
