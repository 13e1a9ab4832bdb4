#!/bin/sh
# IPAM under concurrency: 20 attaches run at once (20 processes) on one bridge network; every
# endpoint gets a distinct address, the lease file holds exactly 20, and 20 parallel detaches
# release them all.
. "$(dirname "$0")/../lib/netns.sh"
NODE=${T}node
mkns $NODE
CS=""
for i in $(seq 1 20); do mkns ${T}c$i; CS="$CS ${T}c$i"; done
check "create" np $NODE create par --driver bridge --subnet 10.99.60.0/24 --subnet fd99:60::/64
for c in $CS; do np $NODE attach par --netns $c >/dev/null 2>"$STATE/err.$c" & done
wait
check "no attach failed" sh -c "! cat $STATE/err.* | grep ."
cat $STATE/err.* | head -5
N4=$(np $NODE inspect par | jq -r '.[0].Containers[].IPv4Address' | sort -u | grep -c .)
N6=$(np $NODE inspect par | jq -r '.[0].Containers[].IPv6Address' | sort -u | grep -c .)
check "20 distinct IPv4 addresses ($N4)" [ "$N4" = 20 ]
check "20 distinct IPv6 addresses ($N6)" [ "$N6" = 20 ]
check "40 leases" [ "$(jq '.leases | length' $STATE/ipam/par.json)" = 40 ]
check "each container has its address" sh -c "for c in $CS; do
	a=\$(jq -r '.addresses[0]' $STATE/endpoints/par/\$c.json)
	ip -n \$c addr show eth0 | grep -q \"inet \$a \" || exit 1; done"
check "last container reaches the first" tcp ${T}c20 ${T}c1 "$(ep_addr $NODE par ${T}c1 4)" 8080
for c in $CS; do np $NODE detach par --id $c 2>>"$STATE/derr" & done
wait
check "no detach failed" [ ! -s "$STATE/derr" ]
check "all leases released" [ "$(jq '.leases | length' $STATE/ipam/par.json)" = 0 ]
check "no veth left" [ -z "$(ip -n $NODE -o link show type veth)" ]
check "rm" np $NODE rm par
finish
