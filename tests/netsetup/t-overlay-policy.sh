#!/bin/sh
# NetworkPolicy across hosts over the VXLAN overlay, enforced on the destination host only.
# Three simulated hosts (h1, h2, h3: one netns each) joined by an underlay bridge in a fourth
# netns; one dual-stack overlay network; one container per host, attached with --pod/--labels
# (the pods exist only as endpoint records). The policy directory holds the Node objects
# (name + InternalIP = the host's underlay address: they place the endpoint-only pods on their
# nodes, and serve as the overlay's peers) and the policies. `netpol apply --node h2` in h2
# isolates the server on h2: the client on h3 (allowed label) gets in over IPv4 and IPv6, the
# one on h1 does not; the server still reaches h1 (egress not isolated); after a policy change
# and a new apply on h2 the verdicts flip, established flows of the newly denied client
# included. Also shown: with net.bridge.bridge-nf-call-iptables=0 in h2 the bridged overlay
# traffic bypasses the forward hook (and the policy); apply turns it back on.
. "$(dirname "$0")/../lib/netns.sh"
UL=${T}ul H1=${T}h1 H2=${T}h2 H3=${T}h3 C1=${T}c1 C2=${T}c2 C3=${T}c3
mkns $UL $H1 $H2 $H3 $C1 $C2 $C3
ip -n $UL link add ul type bridge; ip -n $UL link set ul up
POL=$STATE/policies; mkdir -p $POL
i=0
for h in $H1 $H2 $H3; do
	i=$((i + 1))
	ip -n $UL link add p$i type veth peer name ul0 netns $h
	ip -n $UL link set p$i master ul up
	ip -n $h link set ul0 up
	ip -n $h addr add 10.99.210.$i/24 dev ul0
	cat > $POL/node-h$i.yaml <<YAML
apiVersion: v1
kind: Node
metadata: {name: h$i}
status:
  addresses:
  - {type: InternalIP, address: 10.99.210.$i}
YAML
done
cat > $POL/ns.yaml <<YAML
apiVersion: v1
kind: Namespace
metadata: {name: shop, labels: {kubernetes.io/metadata.name: shop}}
YAML
# The server (app=db, on h2) accepts only role=api clients, on TCP 5432-5440.
policy() { # ROLE
	cat > $POL/policy.yaml <<YAML
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: db-ingress, namespace: shop}
spec:
  podSelector: {matchLabels: {app: db}}
  policyTypes: [Ingress]
  ingress:
  - from:
    - podSelector: {matchLabels: {role: $1}}
    ports:
    - {protocol: TCP, port: 5432, endPort: 5440}
YAML
}
apply_h2() { ip netns exec $H2 "$NETPOL" apply "$POL" --node h2 --state-dir "$STATE"; }

check "create the overlay (peers = the Node objects)" np $H1 create ov --driver overlay \
	--subnet 10.99.71.0/24 --subnet fd99:71::/64 --vni 4343 --nodes $POL
check "attach c1 on h1 (role=batch)" np $H1 attach ov --netns $C1 --pod shop/c1 --labels role=batch
check "attach c2 on h2 (app=db)" np $H2 attach ov --netns $C2 --pod shop/c2 --labels app=db
check "attach c3 on h3 (role=api)" np $H3 attach ov --netns $C3 --pod shop/c3 --labels role=api
np $H1 sync ov >/dev/null && np $H2 sync ov >/dev/null
C1A=$(ep_addr $H1 ov $C1 4) C2A=$(ep_addr $H1 ov $C2 4) C2A6=$(ep_addr $H1 ov $C2 6)
C3A=$(ep_addr $H1 ov $C3 4)

check "no policy: c1 (h1) -> c2 (h2)" tcp $C1 $C2 "$C2A" 5432
check "no policy: c3 (h3) -> c2 (h2)" tcp $C3 $C2 "$C2A" 5433

policy api
# What the destination host's ruleset will hold: only c2 is local on h2, c3 is a peer.
ip netns exec $H2 "$NETPOL" render "$POL" --node h2 --state-dir "$STATE" >$STATE/h2.nft
check "render on h2 dispatches c2's address only" sh -c "grep -q '$C2A : goto' $STATE/h2.nft &&
	! grep -q '$C1A : goto' $STATE/h2.nft && ! grep -q '$C3A : goto' $STATE/h2.nft"
check "apply on h2 (--node h2)" apply_h2
check "br_netfilter on in h2" \
	[ "$(ip netns exec $H2 cat /proc/sys/net/bridge/bridge-nf-call-iptables)" = 1 ]
check "c3 (role=api, h3) -> c2 allowed" tcp $C3 $C2 "$C2A" 5434
check "c1 (role=batch, h1) -> c2 denied" denied $C1 $C2 "$C2A" 5435
check "c3 -> c2 allowed over IPv6" tcp $C3 $C2 "$C2A6" 5436
check "c1 -> c2 denied over IPv6" denied $C1 $C2 "$C2A6" 5437
# Without br_netfilter's hand-off, the bridged overlay traffic (vxlan port -> c2's veth) never
# meets the inet forward hook: the policy is silently bypassed. apply turns it back on.
ip netns exec $H2 sh -c 'echo 0 > /proc/sys/net/bridge/bridge-nf-call-iptables'
check "bridge-nf-call-iptables=0 in h2: c1 -> c2 bypasses the policy" tcp $C1 $C2 "$C2A" 5435
check "apply on h2 again" apply_h2
check "apply turned bridge-nf-call-iptables back on" \
	[ "$(ip netns exec $H2 cat /proc/sys/net/bridge/bridge-nf-call-iptables)" = 1 ]
check "c1 -> c2 denied again" fails tcp $C1 $C2 "$C2A" 5435
check "c3 -> c2 outside the port range denied" fails tcp $C3 $C2 "$C2A" 5441
check "c2 -> c1 allowed (egress not isolated)" tcp $C2 $C1 "$C1A" 5438
check "h1 and h3 hold no table (apply ran on h2 only)" \
	fails sh -c "ip netns exec $H1 nft list table inet netpol || ip netns exec $H3 nft list table inet netpol"
STATUS=$(ip netns exec $H2 "$NETPOL" status "$POL" --node h2 --state-dir "$STATE" 2>&1); echo "$STATUS"
check "status on h2: in sync" sh -c "echo '$STATUS' | grep -q '^in sync'"
# (the counter moves only if the bridged overlay traffic crossed h2's forward hook)
check "status on h2 counts c3's allowed packets" \
	sh -c "echo '$STATUS' | grep -Eq '^shop/db-ingress ingress: [1-9][0-9]* packets'"

# An established flow from c3, then the policy flips to role=batch: c1 gets in, c3 is cut off
# (its conntrack entry is deleted by the apply).
ip netns exec $C2 socat -T20 TCP-LISTEN:5439,reuseaddr PIPE 2>/dev/null &
sleep 0.3
mkfifo $STATE/in
(ip netns exec $C3 socat -T20 - TCP:$C2A:5439 <$STATE/in >$STATE/echo.out 2>/dev/null &)
exec 3>$STATE/in
echo hello-before >&3; sleep 0.5
check "c3's long-lived flow echoes" grep -q hello-before $STATE/echo.out
policy batch
OUT=$(apply_h2); echo "$OUT"
check "apply after the change is incremental" sh -c "echo '$OUT' | grep -q 'applied (incremental'"
echo hello-after >&3; sleep 1
check "c3's established flow is cut by the narrowing" fails grep -q hello-after $STATE/echo.out
exec 3>&-
check "after the change: c1 (role=batch) -> c2 allowed" tcp $C1 $C2 "$C2A" 5432
check "after the change: c3 (role=api) -> c2 denied" denied $C3 $C2 "$C2A" 5433
check "after the change: c1 -> c2 allowed over IPv6" tcp $C1 $C2 "$C2A6" 5436

# A policy for a pod on h1 applied on h2 changes nothing for it: enforcement is per host.
cat > $POL/c1.yaml <<YAML
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny-c1, namespace: shop}
spec:
  podSelector: {matchLabels: {role: batch}}
  policyTypes: [Ingress]
YAML
apply_h2 >/dev/null
check "a policy for c1 applied on h2 only does not isolate c1" tcp $C2 $C1 "$C1A" 5440
check "apply on h1 (--node h1)" ip netns exec $H1 "$NETPOL" apply "$POL" --node h1 --state-dir "$STATE"
check "c2 -> c1 denied once h1 applies" fails tcp $C2 $C1 "$C1A" 5441
finish
