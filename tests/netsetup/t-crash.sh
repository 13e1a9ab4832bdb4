#!/bin/sh
# Crash consistency of attach and detach (netsetup/intent.h): on a bridge network (a /27: 29
# addresses to hand out), 20 containers are attached; then 20 detaches of them and 30 attaches
# of new ones run at once, and a random half of these 50 processes is SIGKILLed at a random
# instant (tests/lib/crash.sh). The operations running beside them, and the next operation on
# the network (one more attach), settle what the killed ones left, and say so on stderr. Then:
# every listed endpoint (netpol net inspect) has a whole record, its eth0 with the record's MAC
# and address, and its node end; no address is on two endpoints; every eth0 in the containers
# and every veth on the node belongs to a listed endpoint; the leases are exactly the listed
# addresses; no intent is left. After detaching every endpoint, 29 new attaches all succeed
# (nothing leaked) and a 30th finds the network full. And `netpol net gc` clears what a netpol
# without intents left (an empty record and a lease of its id). CRASH_ROUNDS (default 1) repeats
# the round.
[ -n "$BASH_VERSION" ] || exec bash "$0" "$@"
. "$(dirname "$0")/../lib/netns.sh"
. "$(dirname "$0")/../lib/crash.sh"
NODE=${T}node
mkns $NODE
CS=""
for i in $(seq 1 51); do mkns ${T}c$i; CS="$CS ${T}c$i"; done
FREE=29
check "create" np $NODE create crash --driver bridge --subnet 10.99.62.0/27

t0=$(date +%s)
for i in $(seq 1 20); do { np $NODE attach crash --netns ${T}c$i >/dev/null || fail "attach c$i"; } & done
wait
echo "20 attaches at once: $(( $(date +%s) - t0 )) s"
for r in $(seq 1 "${CRASH_ROUNDS:-1}"); do
	start=$(date +%s%N)
	attached=$(np $NODE inspect crash | jq -r '.[0].Containers | keys[]')
	others=$(for c in $CS; do echo "$attached" | grep -qx $c || echo $c; done | grep -vx ${T}c51 | head -n 30)
	{ # the shell's own "Killed" lines go
	for c in $attached; do
		crash_start detach $c "$STATE/intents/crash/$c.json" ip netns exec $NODE "$NETPOL" net detach crash --id $c --state-dir "$STATE"
	done
	for c in $others; do
		crash_start attach $c "$STATE/endpoints/crash/$c.json" ip netns exec $NODE "$NETPOL" net attach crash --netns $c --state-dir "$STATE"
	done
	crash_wait
	} 2>/dev/null
	echo "round $r: $(echo $attached $others | wc -w) operations, $CRASH_KILLED killed while running ($(( ($(date +%s%N) - start) / 1000000 )) ms)"
	# every intent left now is a dead process's: the next operation settles each, and says so
	left=$(crash_intents "$STATE" crash)
	np $NODE attach crash --netns ${T}c51 >/dev/null 2>"$STATE/next.err"
	settled=$(grep -c 'was killed' "$STATE/next.err")
	grep 'was killed' "$STATE/next.err" | sed 's/^/    /' | head -n 5
	check "round $r: the next operation settled and said each of the $left intents left ($settled)" \
		[ "$settled" = "$left" ]
	crash_said "round $r" "$STATE/next.err"
	crash_consistent "round $r" crash "$STATE"
	np $NODE detach crash --id ${T}c51 2>/dev/null
done

# nothing leaked: detach all, then every free address can be handed out again
t0=$(date +%s)
for id in $(np $NODE inspect crash | jq -r '.[0].Containers | keys[]'); do
	np $NODE detach crash --id $id 2>>"$STATE/derr" &
done
wait
check "detach of every listed endpoint" [ ! -s "$STATE/derr" ]
check "no lease left" [ "$(jq '.leases | length' "$STATE/ipam/crash.json")" = 0 ]
: >"$STATE/aerr"
for c in $(echo $CS | tr ' ' '\n' | head -n $FREE); do
	np $NODE attach crash --netns $c >/dev/null 2>>"$STATE/aerr" &
done
wait
check "$FREE new attaches all succeed ($(( $(date +%s) - t0 )) s with the detaches)" [ ! -s "$STATE/aerr" ]
head -n 3 "$STATE/aerr"
out=$(np $NODE attach crash --netns ${T}c51 2>&1)
check "one more finds the network full" sh -c "echo '$out' | grep -q 'no free address'"
crash_consistent "full" crash "$STATE"
# what a netpol without intents left (an empty record, a lease of its id): gc clears it
A=$(ep_addr $NODE crash ${T}c1 4)
np $NODE detach crash --id ${T}c1
: >"$STATE/endpoints/crash/ghost.json"
jq --arg a "$A" '.leases[$a] = "ghost"' "$STATE/ipam/crash.json" >"$STATE/l" && mv "$STATE/l" "$STATE/ipam/crash.json"
out=$(np $NODE gc crash)
echo "$out" | sed 's/^/    /'
check "gc clears an empty record no operation holds, and says so" \
	sh -c "echo '$out' | grep -q 'crash ghost: attach of ghost (no intent, an empty record) was killed: rolled back'"
check "...its record and lease are gone" \
	sh -c "[ ! -e '$STATE/endpoints/crash/ghost.json' ] && [ \"\$(jq -r --arg a $A '.leases[\$a]' '$STATE/ipam/crash.json')\" = null ]"
check "rm --force" np $NODE rm crash --force >/dev/null
check "...leaves no intent directory" [ ! -e "$STATE/intents/crash" ]
finish
