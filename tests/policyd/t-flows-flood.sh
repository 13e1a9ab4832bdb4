#!/bin/sh
# A flood beyond the buffers, for real: policyd starts with small receive buffers (NFLOG 4 KiB,
# growing to 64 KiB; conntrack events 16 KiB, to 64 KiB) and is stopped (SIGSTOP) while drops,
# then new connections, pour in; continued, it reads what the kernel kept. Loss records and
# counters appear (status, /metrics), the buffers grew within their bound, policyd did not crash,
# and collection continues: a new drop and a new connection are recorded; the new drop's
# sequence number shows the loss exactly: every packet the drop points logged is then either a
# record or counted lost (nothing silent). Then, policyd back on its own buffers, while a UDP
# flood opens thousands of connections a second through the node (each a conntrack event and a
# record), policy changes are written: every one is enforced, and how long each takes is
# reported (p50, p99), beside the same when quiet.
[ -n "$BASH_VERSION" ] || exec bash "$0" "$@"
set -u
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/flows.sh"
pd_setup
for ns in x y z; do policy "deny-$ns" "$ns" | put "$PD_DIR/deny-$ns.yaml"; done
check "policyd starts with small buffers" pd_start --nflog-rcvbuf 4096:65536 --ct-rcvbuf 16384:65536
status() { pd_ctl '{"cmd":"status"}' | jq -c ".flows$1"; }
logged_total() { # what every drop point's log rule counted
	np_node nft -j list table inet netpol | jq '[.nftables[].rule? | select(. != null) |
		select(any(.expr[]; has("log"))) | .expr[] | select(has("counter")) | .counter.packets] | add // 0'
}

# NFLOG: 8 drop points, 30 drops each, while policyd is stopped
pd_stop_cont() { kill -"$1" "$PD_PID"; }
pd_stop_cont STOP
for p in x/a x/b x/c y/b y/c z/a z/b z/c; do
	in_pod y/a $FLOWGEN udp "$(np_pod_addr "$p" 4)" 5000 30 30 >/dev/null
done
sleep 0.5
pd_stop_cont CONT
check "NFLOG overflowed: a loss record at once" flows_wait \
	'select(.lost_events and .netpol.source == "nflog" and .lost_events.num_events_lost >= 1)'
check "  status counts it" [ "$(status .lost.nflog)" -ge 1 ]
rb=$(status .rcvbuf.nflog)
check "  the receive buffer grew, within its bound (the kernel counts twice: $rb)" \
	between "$rb" 8192 131072
check "  policyd is alive" kill -0 "$PD_PID"
sleep 2.5 # the log's bucket refills
check "collection continues: a new drop is recorded" [ "$(probe z/a x/c 80)" = 0 ]
check "  (its record)" flows_wait 'select(.verdict == "DROPPED" and .source.namespace == "z" and
	.source.pod_name == "a" and .destination.pod_name == "c" and .destination.namespace == "x")'
# the gap in the kernel's sequence numbers the new drop showed says how many exactly
lost=$(status .lost.nflog)
records=$(flows_count 'select(.verdict == "DROPPED")')
logged=$(logged_total)
echo "    the drop points logged $logged packets: $records in records, $lost counted lost"
check "  every packet logged is in a record or counted lost: none silently" \
	[ "$((records + lost))" = "$logged" ]
pd_metrics "$NP_TMP/m"
check "  netpol_flow_events_lost_total{source=nflog} says the same" \
	[ "$(metric "$NP_TMP/m" 'netpol_flow_events_lost_total{source="nflog"}')" = "$lost" ]
check "  and the loss records add up to it" [ "$(flows --all -o json | jq -s \
	'[.[] | select(.netpol.source == "nflog") | .lost_events.num_events_lost] | add')" = "$lost" ]

# conntrack: 4,000 new connections while stopped
rm -f "$PD_DIR"/deny-*.yaml
pd_ctl '{"cmd":"sync","wait":true}' >/dev/null
pd_stop_cont STOP
in_pod x/b $FLOWGEN udp "$(np_pod_addr x/a 4)" 10000 4000 4000 >/dev/null
pd_stop_cont CONT
check "conntrack events overflowed: a loss record" flows_wait \
	'select(.lost_events and .netpol.source == "conntrack")'
check "  status counts it" [ "$(status .lost.conntrack)" -ge 1 ]
rb=$(status .rcvbuf.conntrack)
check "  the receive buffer grew, within its bound (the kernel counts twice: $rb)" \
	between "$rb" 32768 131072
check "  the connection index is reloaded" pd_wait_for grep -q "connection index reloaded" "$PD_LOG"
check "  policyd is alive" kill -0 "$PD_PID"
check "collection continues: a new connection is recorded" [ "$(probe z/b y/b 81)" = 1 ]
check "  (its record)" flows_wait 'select(.verdict == "FORWARDED" and .source.namespace == "z" and
	.source.pod_name == "b" and .destination.namespace == "y" and .destination.pod_name == "b")'

# a change while a flood runs through the node: how long until it is enforced (policyd with
# its own buffers again), as tests/bench/policyd.sh times it: from the rename of a policy file
# to the kernel's commit seen on an nf_tables monitor (tests/tools/nft_event_lat), 10 changes
check "policyd restarts with its default buffers" pd_stop
check "  starts" pd_start
n0=$(status .next_seq)
policy flip z >"$NP_TMP/flip-a.yaml"
policy flip z '[{podSelector: {}}]' >"$NP_TMP/flip-b.yaml"
LAT="ip netns exec $NP_NODE $NP_BUILD/tests/nft_event_lat --dest $PD_DIR/flip.yaml
	--a $NP_TMP/flip-a.yaml --b $NP_TMP/flip-b.yaml --gap-ms 50"
$LAT --count 5 >"$NP_TMP/lat-quiet" 2>&1
for p in x/b y/b; do
	pd_bg in_pod "$p" $FLOWGEN udp-for "$(np_pod_addr x/a 4)" 20000 4 40000 >"$NP_TMP/flood-$(np_pod_short $p)"
done
sleep 0.5
$LAT --count 5 >"$NP_TMP/lat-flood" 2>&1
check "during the flood every change was enforced (no commit missed)" \
	sh -c "! grep -q 'missed=[1-9]' '$NP_TMP/lat-flood' && grep -q 'n=5' '$NP_TMP/lat-flood'"
for p in $PD_PIDS; do wait "$p" 2>/dev/null; done
PD_PIDS=""
sent=$(cat "$NP_TMP"/flood-* | awk '{ n += $2 } END { print n }')
echo "    flood: $sent datagrams in 4 s (each a new connection while its port is new);" \
     "$(( $(status .next_seq) - n0 )) records meanwhile, lost $(status .lost.conntrack) (conntrack)"
echo "    event -> enforced (a policy file renamed in -> the kernel's commit), quiet:" \
     $(cat "$NP_TMP/lat-quiet")
echo "    event -> enforced during the flood:" $(cat "$NP_TMP/lat-flood")
grep "sync .* (inotify)" "$PD_LOG" | tail -1 | sed 's/^/    last: /'
check "  policyd is alive" kill -0 "$PD_PID"
flows_json "$NP_TMP/all.jsonl"
check "every record validates against the schema" flows_valid "$NP_TMP/all.jsonl"
pd_finish
