#!/bin/sh
# Hosts learn of each other's endpoints by watch, with no sync command: three hosts (netns) on
# an underlay bridge, one etcd member and one policyd --store each (lib/etcd.sh), an overlay with
# an IPv4 and an IPv6 subnet created with no --peer (its peers are the registered hosts).
# Checks: attach on h1 and h2, they talk at once both ways over both families; h1 forwards to
# c2 by an FDB and a neighbour entry it was never told about; a detach on h2 takes them off
# h1; a detach's address is handed out again; a watch whose revision was compacted while its
# stream was broken lists again and catches up (h1 learns of an endpoint attached meanwhile);
# netpol net ls/inspect/sync with the store; policyd exits clean.
. "$(dirname "$0")/../lib/netns.sh"
. "$(dirname "$0")/../lib/etcd.sh"
C1=${T}c1 C2=${T}c2 C3=${T}c3 C4=${T}c4
mkns $C1 $C2 $C3 $C4
etcd_up
for i in 1 2 3; do pd_start $i; done
for i in 1 2 3; do pd_ready $i || exit 1; done

check "create an overlay with no --peer (the registered hosts are its peers)" \
	nn 1 create ov --driver overlay --vni 42 --subnet 10.99.70.0/24 --subnet fd99:70::/64
inspect_says_etcd() { nn 3 inspect ov | jq -e '.[0].Store.Backend == "etcd"' >/dev/null; }
check "inspect from h3 shows the etcd store" inspect_says_etcd
check "attach c1 on h1" q nn 1 attach ov --netns $C1 --pod default/c1 --labels app=a
check "attach c2 on h2" q nn 2 attach ov --netns $C2 --pod default/c2 --labels app=b
A1=$(addr_of 1 ov $C1 4) A2=$(addr_of 1 ov $C2 4) A16=$(addr_of 1 ov $C1 6) A26=$(addr_of 1 ov $C2 6)
M2=$(mac_of $C2)
# no sync anywhere: h1 learned of c2 by its watch, h2's attach programmed c1
check "c1 -> c2 at once (h1 -> h2)" tcp $C1 $C2 "$A2" 8080
check "c2 -> c1 (h2 -> h1)" tcp $C2 $C1 "$A1" 8081
check "c1 -> c2 over IPv6" tcp $C1 $C2 "$A26" 8082
check "c2 -> c1 over IPv6" tcp $C2 $C1 "$A16" 8083
check "h1 forwards c2's MAC to h2 (FDB)" fdb_has 1 "$M2" 10.99.250.2
check "h1 answers for c2's IPv4 address (neighbour)" neigh_has 1 "$A2" "$M2"
check "h1 answers for c2's IPv6 address (neighbour)" neigh_has 1 "$A26" "$M2"
check "h1 floods to h2 and h3, the registered hosts" sh -c "ip netns exec $H1 bridge fdb show dev npvx42 |
	grep -c '^00:00:00:00:00:00 dst 10.99.250.[23] ' | grep -qx 2"

check "detach c2 on h2" nn 2 detach ov --id $C2
check "h1's FDB entry for c2 goes" poll 3 fdb_gone 1 "$M2"
echo "  (gone from h1 ${POLL_MS} ms after the detach returned)"
check "h1's neighbour entries for c2 go" poll 3 sh -c "! ip -n $H1 neigh show dev npvx42 | grep -q '$M2'"
check "attach c3 on h3" q nn 3 attach ov --netns $C3
check "c3 gets c2's old address" [ "$(addr_of 3 ov $C3 4)" = "$A2" ]
# c1 itself caches c2's MAC for that address until the entry goes stale (as after any reuse)
ip -n $C1 neigh flush dev eth0
check "c1 -> c3 (h1 -> h3)" tcp $C1 $C3 "$A2" 8084

# A watch that must list again: h1's agent is stopped, its member (the first endpoint, where
# its watch is) dies and comes back, an endpoint is attached, and the store is compacted past
# the revision h1's watch resumes from. Resumed, h1's watch finds its stream gone, reopens from its revision, is told
# that revision is compacted, lists, and programs c4.
PD1=$(cat "$STATE/run/pd1.pid")
kill -STOP "$PD1"
etcd_kill 1
etcd_start 1
etcd_healthy 20
check "attach c4 on h2 while h1's agent is stopped" q nn 2 attach ov --netns $C4
# one more revision past c4's, so the compaction is past where h1's watch resumes
q etcdctl_ put /elsewhere/x y
REV=$(etcdctl_ endpoint status -w json | jq '[.[].Status.header.revision] | max')
check "compact the store at revision $REV" q etcdctl_ compact "$REV"
kill -CONT "$PD1"
M4=$(mac_of $C4) A4=$(addr_of 1 ov $C4 4)
check "h1 learns of c4 after its watch was compacted" poll 10 fdb_has 1 "$M4" 10.99.250.2
check "h1's agent said it listed again" grep -q "was compacted" "$STATE/run/pd1.log"
check "c1 -> c4" tcp $C1 $C4 "$A4" 8085

ls_counts() { nn 3 ls | grep -q '^ov .* 3$'; }
check "net ls from h3 lists ov with 3 endpoints" ls_counts
check "net sync on h1 (a manual full reconcile)" nn 1 sync ov
check "c2's entry stays gone after the sync" fdb_gone 1 "$M2"
for i in 1 2 3; do check "policyd h$i exits cleanly" pd_exit_ok $i; done
finish
