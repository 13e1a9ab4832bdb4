#!/bin/sh
# Anti-spoofing: a pod cannot escape policy by sending with another pod's source address, or
# with any address it does not own. np_agent crafts UDP packets with a chosen source address
# (raw socket, header included) in the sending pod and counts, with a raw socket in the
# receiving pod, how many of exactly those packets arrive across the bridge.
#   0. before netpol: spoofed packets do arrive (so the observation can see a spoof pass)
#   1. netpol apply (no policies): real sources arrive, spoofed ones (another pod's address, an
#      unused address of the pod subnet, an address from elsewhere) are dropped; both families;
#      an ARP reply claiming another pod's address is dropped (before netpol it poisons the
#      neighbour's cache); real connections between all pods still work
#   2. a policy lets only x/b into x/c: x/a is refused with its own address, and x/a claiming
#      x/b's address is dropped too; the genuine x/b still gets in
[ -n "$BASH_VERSION" ] || exec bash "$0" "$@"
set -u
. "$(dirname "$0")/../lib/topo.sh"
np_start_node apply
fail=0
inv="$NP_TMP/inv"
XA=$(np_pod_ns x/a) XB=$(np_pod_ns x/b) XC=$(np_pod_ns x/c)

# send FROM_POD SRC TO_POD WANT : WANT is "all" (3 of 3 arrive) or "none"
send() {
	local out got
	out=$("$NP_AGENT" raw-probe --proto udp --count 3 --timeout-ms 600 \
		"$(np_pod_ns "$1")" "$2" "$(np_pod_ns "$3")" "$(np_pod_addr "$3" "$5")" 82) || { fail=1; return; }
	got=${out##* }
	case "$4:$got" in
	all:3|none:0) echo "ok   $1 sending as $2 to $3 (IPv$5): $out" ;;
	*) echo "FAIL $1 sending as $2 to $3 (IPv$5): $out, wanted $4"; fail=1 ;;
	esac
}

mac() { ip -n "$(np_pod_ns "$1")" -o link show eth0 | sed -n 's/.*link\/ether \([0-9a-f:]*\).*/\1/p'; }
# x/a tells x/c "x/b's IPv4 address is at my MAC"; prints the MAC x/c then holds for x/b
arp_poison() {
	local xc=$(np_pod_ns x/c)
	# a fresh, confirmed entry for x/b (a TCP connection x/c -> x/b)
	echo "$xc $(np_pod_addr x/b 4) tcp 80" | "$NP_AGENT" probe --timeout-ms 1000 - >/dev/null
	sleep 1.2 # past the neighbour lock time, so a reply may override the entry
	ip netns exec "$XA" "$NP_AGENT" arp-reply eth0 "$(np_pod_addr x/b 4)" "$(np_pod_addr x/c 4)" "$(mac x/c)"
	sleep 0.2
	ip -n "$xc" neigh show "$(np_pod_addr x/b 4)" | sed -n 's/.*lladdr \([0-9a-f:]*\).*/\1/p'
}
arp_check() { # WANT_OWNER (x/a = poisoned, x/b = intact)
	local got
	got=$(arp_poison)
	if [ "$got" = "$(mac "$1")" ]; then echo "ok   ARP reply from x/a claiming x/b's address: x/c maps it to $1 ($got)"
	else echo "FAIL ARP reply from x/a claiming x/b's address: x/c maps it to $got, wanted $1 ($(mac "$1"))"; fail=1; fi
	ip -n "$(np_pod_ns x/c)" neigh flush dev eth0
}

echo "== 0. no netpol tables: the spoof is observable"
send x/a "$(np_pod_addr x/b 4)" x/c all 4
send x/a "$(np_pod_addr x/b 6)" x/c all 6
arp_check x/a

echo "== 1. netpol apply, no policies"
np_base_inventory "$inv"
np_apply "$inv" || exit 1
for f in 4 6; do
	if [ $f = 4 ]; then unused=10.200.0.99 foreign=192.0.2.7; else unused=fd00:200::99 foreign=2001:db8::7; fi
	send x/a "$(np_pod_addr x/a $f)" x/c all $f
	send x/a "$(np_pod_addr x/b $f)" x/c none $f
	send x/a "$(np_pod_addr z/c $f)" x/c none $f
	send y/b "$(np_pod_addr x/a $f)" z/a none $f
	send x/a "$unused" x/c none $f
	send x/a "$foreign" x/c none $f
done
arp_check x/b
np_probe_blocks "$NP_TMP/r" TCP:80:4 TCP:80:6 UDP:81:4 UDP:81:6 || exit 1
for s in TCP:80:4 TCP:80:6 UDP:81:4 UDP:81:6; do
	IFS=: read -r p port f <<<"$s"
	np_check "$NP_TMP/r" "$p" "$port" "$f" '1' || fail=1
done

echo "== 2. only x/b may reach x/c"
cat >"$inv/np-x-c-from-b.yaml" <<'YAML'
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: c-from-b, namespace: x}
spec:
  podSelector: {matchLabels: {pod: c}}
  ingress:
  - from:
    - podSelector: {matchLabels: {pod: b}}
YAML
np_apply "$inv" || exit 1
for f in 4 6; do
	send x/b "$(np_pod_addr x/b $f)" x/c all $f
	send x/a "$(np_pod_addr x/a $f)" x/c none $f
	send x/a "$(np_pod_addr x/b $f)" x/c none $f
	send z/b "$(np_pod_addr x/b $f)" x/c none $f
done
np_node "$NETPOL" flush >/dev/null 2>&1
[ $fail = 0 ] && echo "t-spoof: all anti-spoofing checks passed"
exit $fail
