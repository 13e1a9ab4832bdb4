#!/bin/sh
# After a narrowing apply, conntrack entries of flows that may have lost permission are deleted
# (established flows would otherwise keep flowing past the new policy), and other flows are left
# alone, as the kernel's conntrack table in the netns shows (not only netpol's own count). Flows
# are made on the loopback of a throwaway netns that carries a pod address.
. "$(dirname "$0")/nsenv.sh"
N=np-$$-ct
NSES="$N"
fail=0
ip netns add $N || exit 1
ip netns exec $N ip link set lo up
ip netns exec $N ip addr add 10.200.0.11/32 dev lo    # pod x/a
ip netns exec $N ip addr add 10.200.0.250/32 dev lo   # not a pod
mkdir -p "$TMP/a"; cp "$SRC"/tests/cases/_base/* "$TMP/a"/
case_assemble "$SRC/tests/cases/default-deny-ingress/1" "$TMP/b" >/dev/null || exit 1

# no policy: nothing isolated, but the table's ct matches turn connection tracking on
ip netns exec $N "$NETPOL" apply "$TMP/a" >/dev/null || { echo "apply A failed"; exit 1; }
udp() { # SRC SPORT DST: one datagram, which leaves an (unreplied) conntrack entry; a fixed
	# source port so that sending again reuses the entry if it is still there
	ip netns exec $N python3 -c "import socket,sys; s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM); s.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1); s.bind((sys.argv[1],int(sys.argv[2]))); s.sendto(b'x',(sys.argv[3],9999))" "$1" "$2" "$3"
}
# what the kernel holds, not what netpol says it did: this netns's conntrack table size
entries() { ip netns exec $N cat /proc/sys/net/netfilter/nf_conntrack_count; }
expect_entries() { # N WHEN
	[ "$(entries)" = "$1" ] || { echo "$2: $(entries) conntrack entries in the kernel, expected $1"; fail=1; }
}
udp 10.200.0.250 40001 10.200.0.11
udp 10.200.0.250 40002 10.200.0.250
expect_entries 2 "before the narrowing apply"
# x/a becomes isolated for ingress: its flow goes, the other stays
ip netns exec $N "$NETPOL" apply --stats "$TMP/b" >"$TMP/out" 2>&1 || { echo "apply B failed"; cat "$TMP/out"; exit 1; }
cat "$TMP/out"
grep -q "(1 entries deleted)" "$TMP/out" || { echo "expected exactly the flow to 10.200.0.11 deleted"; fail=1; }
expect_entries 1 "after the narrowing apply"
# the same two tuples again: the surviving entry is reused, the deleted one is created anew
udp 10.200.0.250 40002 10.200.0.250
expect_entries 1 "the flow to 10.200.0.250 again (its entry must have survived)"
udp 10.200.0.250 40001 10.200.0.11
expect_entries 2 "the flow to 10.200.0.11 again (its entry must have been deleted)"
# applying the same again narrows nothing: nothing deleted
ip netns exec $N "$NETPOL" apply --stats "$TMP/b" >"$TMP/out" 2>&1 || fail=1
grep -q "(0 entries deleted)" "$TMP/out" || { echo "an unchanged apply deleted flows:"; cat "$TMP/out"; fail=1; }
expect_entries 2 "after an unchanged apply"
exit $fail
