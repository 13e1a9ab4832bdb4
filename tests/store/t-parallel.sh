#!/bin/sh
# IPAM without duplicates across hosts: 60 attaches at once, 20 on each of three hosts (lib/
# etcd.sh), to one overlay with an IPv4 and an IPv6 subnet. Each allocation is one etcd
# transaction that creates the endpoint key and both address keys only if none exists, so
# concurrent hosts collide and retry instead of sharing an address. Checks: every attach
# succeeds; 60 distinct IPv4 and 60 distinct IPv6 addresses, as the store and every host see
# them; every one of the 1,770 pairs of the 60 endpoints connects over TCP, IPv4 and IPv6
# (3,540 probes, each host's endpoints learned by the others' watches), in batches of 200
# pairs for the kernel's neighbour table (lib/etcd.sh, probe_all).
. "$(dirname "$0")/../lib/netns.sh"
. "$(dirname "$0")/../lib/etcd.sh"
# 60 attaches of the sanitizer build at once on this 2-core machine, beside the three members
# and daemons, can keep an etcd write waiting longer than a request's default 1.5 s (one did,
# under other tests' load): this test is about uniqueness, not about how fast a slow store
# is given up on (t-faults is), so requests get 4 s here
export NETPOL_STORE_TIMEOUT_MS=4000
N=60
PODS=""
for k in $(seq $N); do PODS="$PODS ${T}p$k"; done
mkns $PODS
etcd_up
for i in 1 2 3; do pd_start $i; done
for i in 1 2 3; do pd_ready $i || exit 1; done
check "create the overlay" nn 1 create ov --driver overlay --vni 42 --subnet 10.99.70.0/24 \
	--subnet fd99:70::/64

t0=$(date +%s%N)
k=0 PIDS=""
for p in $PODS; do
	k=$((k + 1))
	nn $(( (k - 1) % 3 + 1 )) attach ov --netns "$p" >"$STATE/att-$p.out" 2>&1 &
	PIDS="$PIDS $!"
done
failed=0
for pid in $PIDS; do wait "$pid" || failed=$((failed + 1)); done
echo "  60 attaches at once: $(( ($(date +%s%N) - t0) / 1000000 )) ms"
check "all 60 attaches succeed ($failed failed)" [ $failed = 0 ]
[ $failed = 0 ] || cat "$STATE"/att-*.out | grep "netpol net:" | head -5

pods_table ov >"$STATE/pods.tab"
distinct() { awk -v f="$1" '{print $f}' "$STATE/pods.tab" | sort -u | grep -c .; }
check "60 endpoints in the store" [ "$(wc -l <"$STATE/pods.tab")" = 60 ]
check "60 distinct IPv4 addresses" [ "$(distinct 2)" = 60 ]
check "60 distinct IPv6 addresses" [ "$(distinct 3)" = 60 ]
check "20 endpoints on each host" [ "$(awk '{print $4}' "$STATE/pods.tab" | sort | uniq -c |
	awk '{print $1}' | sort -u)" = 20 ]
ipam_keys() { etcdctl_ get --prefix /netpol/ipam/ov/ --keys-only | grep -c .; }
check "120 address keys in etcd" [ "$(ipam_keys)" = 120 ]
# what each host's agent learned: every remote endpoint programmed there
for i in 1 2 3; do
	check "h$i has an FDB entry for each of the 40 endpoints elsewhere" sh -c \
		"[ \$(ip netns exec $(host $i) bridge fdb show dev npvx42 | grep -v '^00:00:00:00:00:00' | grep -c ' dst ') = 40 ]"
done

check "servers in all 60" servers_start $PODS
t0=$(date +%s%N)
check "probe every pair" probe_all "$STATE/pods.tab" "$STATE/probe.out"
echo "  $(wc -l <"$STATE/probe.out") probes: $(( ($(date +%s%N) - t0) / 1000000 )) ms"
check "1770 pairs probed over IPv4 and IPv6" [ "$(wc -l <"$STATE/probe.out")" = 3540 ]
check "every pair connects ($(grep -c ' 0$' "$STATE/probe.out") did not)" \
	[ "$(grep -c ' 1$' "$STATE/probe.out")" = 3540 ]
grep ' 0$' "$STATE/probe.out" | head -5
for i in 1 2 3; do check "policyd h$i exits cleanly" pd_exit_ok $i; done
finish
