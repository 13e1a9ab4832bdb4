#!/bin/sh
# netpol preview, on the 9-pod topology after `netpol apply` of a directory without policies:
# three long-lived TCP connections run (x/b -> x/a:90, y/a -> x/a:90, y/b -> z/a:90). Previewing
# a directory where x/a admits only its own namespace lists exactly y/a -> x/a:90 (with its age
# and bytes: conntrack accounting and timestamps are on in the node's netns) and exits 1;
# nothing is changed by it (every connection keeps exchanging data, status stays in sync).
# Previewing the applied directory lists nothing and exits 0. --against lists, from the
# evaluator, exactly the pod pairs whose TCP 80 verdict `netpol reach` says changes (every pod
# of y and z to x/a, TCP 1-65535), and exits 1; the other way round nothing is cut (exit 0).
[ -n "$BASH_VERSION" ] || exec bash "$0" "$@"
. "$(dirname "$0")/../lib/topo.sh"
np_start_node apply
PDTOOL="/usr/bin/python3 $NP_SRC/tests/tools/pdtool.py"
fail=0
ok() { echo "ok   $1"; }
bad() { echo "FAIL $1"; fail=1; }
check() { local d=$1; shift; if "$@"; then ok "$d"; else bad "$d"; fi; }

np_base_inventory "$NP_TMP/allow"
cp -r "$NP_TMP/allow" "$NP_TMP/deny"
cat >"$NP_TMP/deny/x-a.yaml" <<'YAML'
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: a-from-x, namespace: x}
spec:
  podSelector: {matchLabels: {pod: a}}
  ingress:
  - from: [{podSelector: {}}]
YAML
np_node sh -c 'echo 1 >/proc/sys/net/netfilter/nf_conntrack_acct;
	echo 1 >/proc/sys/net/netfilter/nf_conntrack_timestamp'
np_apply "$NP_TMP/allow" || exit 1
for p in x/a z/a; do
	ip netns exec "$(np_pod_ns $p)" $PDTOOL echo-server 90 >"$NP_TMP/echo-$(np_pod_short $p)" 2>&1 &
	NP_SERVER_PIDS="$NP_SERVER_PIDS $!"
done
sleep 0.5
STOP=$NP_TMP/stop
CLIENTS=""
for c in x/b:x/a y/a:x/a y/b:z/a; do
	ip netns exec "$(np_pod_ns "${c%:*}")" $PDTOOL busy "$(np_pod_addr "${c#*:}" 4)" 90 "$STOP" \
		"$NP_TMP/busy-$(np_pod_short "${c%:*}")" &
	CLIENTS="$CLIENTS $!"
done
NP_SERVER_PIDS="$NP_SERVER_PIDS $CLIENTS"
sleep 1.5

np_node "$NETPOL" preview "$NP_TMP/deny" >"$NP_TMP/preview" 2>&1
rc=$?
sed 's/^/    /' "$NP_TMP/preview"
check "preview of the deny exits 1 (something would be cut)" [ "$rc" = 1 ]
check "  it lists y/a -> x/a:90 TCP with its age, bytes and why" \
	grep -qE "^y/a -> x/a:90 TCP  age [0-9.]+s  bytes [0-9]+ -> / [0-9]+ <-  \(ingress at x/a: no rule of x/a-from-x allows it\)$" "$NP_TMP/preview"
check "  and nothing else" [ "$(grep -c ' -> ' "$NP_TMP/preview")" = 1 ]
check "  counting 1 of the 3 connections between pods" grep -q "^1 of 3 live connections" "$NP_TMP/preview"
np_node "$NETPOL" preview "$NP_TMP/allow" >"$NP_TMP/preview2" 2>&1
rc=$?
check "preview of the applied directory: exit 0" [ "$rc" = 0 ]
check "  nothing would be cut" grep -q "^0 of 3 live connections" "$NP_TMP/preview2"
check "preview changed nothing: status in sync" np_node "$NETPOL" status "$NP_TMP/allow"
touch "$STOP"
for p in $CLIENTS; do wait "$p"; done
for c in xb ya yb; do
	check "  the connection from $c kept exchanging data ($(cat "$NP_TMP/busy-$c"))" \
		grep -q "roundtrips [1-9][0-9]* errors 0" "$NP_TMP/busy-$c"
done

"$NETPOL" preview "$NP_TMP/deny" --against "$NP_TMP/allow" >"$NP_TMP/against" 2>&1
rc=$?
check "--against: exit 1 (pairs would be cut)" [ "$rc" = 1 ]
# what reach says of TCP 80, before and after: the pairs that go from 1 to 0
"$NETPOL" reach "$NP_TMP/allow" >"$NP_TMP/reach0"
"$NETPOL" reach "$NP_TMP/deny" >"$NP_TMP/reach1"
cut_pairs() {
	awk 'NR == FNR { if (FNR == 1) for (i = 1; i <= NF; i++) col[i] = $i; else for (i = 2; i <= NF; i++) was[$1 " " col[i-1]] = $i; next }
	     FNR == 1 { for (i = 1; i <= NF; i++) col[i] = $i; next }
	     { for (i = 2; i <= NF; i++) if (was[$1 " " col[i-1]] == 1 && $i == 0) print $1 " -> " col[i-1] }' \
		"$NP_TMP/reach0" "$NP_TMP/reach1" | sort
}
cut_pairs >"$NP_TMP/want"
grep "TCP 1-65535: allowed -> dropped (IPv4, IPv6)$" "$NP_TMP/against" | sed 's/ TCP.*//' | sort >"$NP_TMP/got"
check "  the pairs cut on TCP are exactly those reach says go from 1 to 0 ($(wc -l <"$NP_TMP/want"))" \
	cmp -s "$NP_TMP/want" "$NP_TMP/got"
check "  every one also on UDP, SCTP and ICMP" [ "$(grep -c ': allowed -> dropped' "$NP_TMP/against")" = \
	"$(( 4 * $(wc -l <"$NP_TMP/want") ))" ]
check "  nothing opened" grep -q "^$(wc -l <"$NP_TMP/against" | awk '{print $1 - 1}') pod pair and port ranges would be cut, 0 opened" "$NP_TMP/against"
"$NETPOL" preview "$NP_TMP/allow" --against "$NP_TMP/deny" >"$NP_TMP/against2" 2>&1
check "the other way round: nothing cut, exit 0" [ "$?" = 0 ]
check "  the same pairs opened" grep -q "^0 pod pair and port ranges would be cut, $(( 4 * $(wc -l <"$NP_TMP/want") )) opened" "$NP_TMP/against2"
[ "$fail" = 0 ] && echo "all checks passed"
exit $fail
