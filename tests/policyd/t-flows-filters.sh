#!/bin/sh
# netpol flows' filters, sources and outputs, on records of real packets through policyd (drops
# and allowed flows over TCP, UDP, ICMP, IPv4 and IPv6, ingress and egress): each filter
# selects exactly the records a jq expression written from its definition selects, on the
# server (policyd's ring, the flows request) and on the client (--input-file of the same
# records); repeated values of one filter are ORed, different filters ANDed; --last, --since;
# -o compact and table print one line a record; --follow streams exactly the matching new
# records; the flow log rotates (size, backups) and reads back; real `hubble observe -o json` lines (Cilium's exporter documentation, Hubble's
# lost_events) parse with --input-file, wrapped or bare. Every record validates.
[ -n "$BASH_VERSION" ] || exec bash "$0" "$@"
set -u
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/flows.sh"
pd_setup
{ a_from_b '[{port: 80}]'; c_no_egress; } >"$PD_DIR/flows-policies.yaml"
FLOG=$NP_TMP/flows.log
check "policyd starts (a flow log rotated past 2 KiB, 2 backups)" pd_start --flow-log "$FLOG" \
	--flow-log-size 2k --flow-log-backups 2
probe y/a x/a 80 >/dev/null
probe y/a x/a 80 6 >/dev/null
in_pod y/b $FLOWGEN udp "$(np_pod_addr x/a 4)" 81 1 >/dev/null
in_pod z/a $FLOWGEN icmp "$(np_pod_addr x/a 4)" 1 >/dev/null
in_pod z/a $FLOWGEN icmp "$(np_pod_addr x/a 6)" 1 >/dev/null
probe x/b x/a 80 >/dev/null
probe y/c x/b 80 >/dev/null
probe z/b y/a 81 >/dev/null
in_pod z/c $FLOWGEN udp "$(np_pod_addr y/b 4)" 81 1 >/dev/null
probe x/c x/b 80 6 >/dev/null
check "records of every kind are in" flows_wait "select(.netpol.event)" 10
flows_json "$NP_TMP/all.jsonl"
n_all=$(wc -l <"$NP_TMP/all.jsonl")
check "every record validates against the schema" flows_valid "$NP_TMP/all.jsonl"

# same FILTERS -- JQ: the records policyd serves for FILTERS, and those --input-file gives
# from all.jsonl, are by seq exactly those JQ selects, at least one and not every one. The
# ring goes on growing (a connection's close comes when conntrack ends its entry): what
# policyd serves is compared up to all.jsonl's newest record.
max_seq=$(tail -n 1 "$NP_TMP/all.jsonl" | jq .netpol.seq)
seqs() { jq -c '.netpol.seq' | awk -v m="$max_seq" '$1 <= m' | tr '\n' ' '; }
same() {
	local args=() jqx
	while [ "$1" != "--" ]; do args+=("$1"); shift; done
	jqx=$2
	local want got file
	want=$(jq -c "$jqx" "$NP_TMP/all.jsonl" | seqs)
	got=$(flows --all -o json "${args[@]}" | seqs)
	file=$("$NETPOL" flows --input-file "$NP_TMP/all.jsonl" --all -o json "${args[@]}" | seqs)
	local n; n=$(echo "$want" | wc -w)
	if [ "$got" = "$want" ] && [ "$file" = "$want" ] && [ "$n" -ge 1 ] && [ "$n" -lt "$n_all" ]; then
		return 0
	fi
	np_log "    want [$want] ($n of $n_all), policyd gave [$got], --input-file gave [$file]"
	return 1
}
pod() { echo "(.$1.namespace == \"${2%/*}\" and .$1.pod_name == \"${2#*/}\")"; }
check "--verdict DROPPED" same --verdict DROPPED -- 'select(.verdict == "DROPPED")'
check "--verdict ALLOWED (FORWARDED)" same --verdict ALLOWED -- 'select(.verdict == "FORWARDED")'
check "--verdict denied --verdict AUDITED: either" same --verdict denied --verdict AUDITED -- \
	'select(.verdict == "DROPPED" or .verdict == "AUDIT")'
check "--namespace y: either end" same --namespace 'y' -- \
	'select(.source.namespace == "y" or .destination.namespace == "y")'
check "-n z" same -n z -- 'select(.source.namespace == "z" or .destination.namespace == "z")'
check "--pod x/a: either end" same --pod x/a -- "select($(pod source x/a) or $(pod destination x/a))"
check "--pod x/a --pod y/c: any of them" same --pod x/a --pod y/c -- \
	"select($(pod source x/a) or $(pod destination x/a) or $(pod source y/c) or $(pod destination y/c))"
check "--from-pod y/a" same --from-pod y/a -- "select($(pod source y/a))"
check "--to-pod x/b" same --to-pod x/b -- "select($(pod destination x/b))"
check "--ip 10.200.0.21: either address" same --ip 10.200.0.21 -- \
	'select(.IP.source == "10.200.0.21" or .IP.destination == "10.200.0.21")'
check "--ip fd00:200::/64 (a CIDR)" same --ip fd00:200::/64 -- 'select(.IP.ipVersion == "IPv6")'
check "--port 81: either port" same --port 81 -- \
	'select([.l4[]?.destination_port, .l4[]?.source_port] | index(81))'
check "--protocol udp" same --protocol udp -- 'select(.l4.UDP)'
check "--protocol icmp: ICMPv4 and ICMPv6" same --protocol icmp -- 'select(.l4.ICMPv4 or .l4.ICMPv6)'
check "--protocol icmpv6" same --protocol icmpv6 -- 'select(.l4.ICMPv6)'
check "--policy x/a-from-b: in any list" same --policy x/a-from-b -- \
	'select([.ingress_denied_by, .ingress_allowed_by, .egress_denied_by, .egress_allowed_by,
	         .netpol.ingress_isolated_by, .netpol.egress_isolated_by] | flatten |
	        map(select(. != null and .namespace == "x" and .name == "a-from-b")) | length > 0)'
check "--policy y/c-no-egress" same --policy y/c-no-egress -- \
	'select(.egress_denied_by[0].name == "c-no-egress")'
check "--from-pod y/a --protocol tcp --verdict DROPPED: all of them" same --from-pod y/a \
	--protocol tcp --verdict DROPPED -- "select($(pod source y/a) and .l4.TCP and .verdict == \"DROPPED\")"
t_mid=$(jq -r 'select(.netpol.seq == 4) | .time' "$NP_TMP/all.jsonl")
check "--since TIME (the 4th record's)" same --since "$t_mid" -- "select(.time >= \"$t_mid\")"
check "--since 1h: every record" [ "$(flows --since 1h -o json | seqs | wc -w)" = "$n_all" ]
check "--since a time to come: none" [ "$(flows --since 2099-01-01T00:00:00Z -o json | wc -l)" = 0 ]
# (drops are done when their packets are: --last is checked on them)
DROPS=$(jq -c 'select(.verdict == "DROPPED")' "$NP_TMP/all.jsonl" | wc -l)
check "--last 3 --verdict DROPPED: the newest 3 drops" [ "$(flows --last 3 --verdict DROPPED -o json | seqs)" = \
	"$(jq -c 'select(.verdict == "DROPPED")' "$NP_TMP/all.jsonl" | tail -n 3 | seqs)" ]
check "--last 3 on the file: its newest 3" [ "$("$NETPOL" flows --input-file "$NP_TMP/all.jsonl" \
	--last 3 -o json | seqs)" = "$(tail -n 3 "$NP_TMP/all.jsonl" | seqs)" ]
check "no --last: the last 20 (all $DROPS drops, fewer)" \
	[ "$(flows --verdict DROPPED -o json | wc -l)" = "$DROPS" ]
check "no --last on the file: the last 20 (all $n_all records, fewer)" \
	[ "$("$NETPOL" flows --input-file "$NP_TMP/all.jsonl" -o json | wc -l)" = "$n_all" ]
"$NETPOL" flows --verdict BOGUS >"$NP_TMP/bogus" 2>&1
check "--verdict BOGUS is refused (exit 2)" [ "$?" = 2 ]
check "  saying so" grep -q "bad --verdict 'BOGUS'" "$NP_TMP/bogus"

"$NETPOL" flows --input-file "$NP_TMP/all.jsonl" --all >"$NP_TMP/compact"
check "-o compact: one line a record" [ "$(wc -l <"$NP_TMP/compact")" = "$n_all" ]
check "  a drop reads like hubble's: pods, direction, verdict, policy, flags" \
	grep -qE '^[A-Z][a-z]{2} [ 0-9]{2} [0-9:.]{12}: y/a:[0-9]+ -> x/a:80 ingress DROPPED BY x/a-from-b \(NetworkPolicy\) \(TCP Flags: SYN\)$' "$NP_TMP/compact"
check "  an allowed flow names the rule" \
	grep -qE ': x/b:[0-9]+ -> x/a:80 egress FORWARDED BY x/a-from-b ingress\[0\]\.from\[0\]\.ports\[0\] \(NetworkPolicy\) \(TCP\) new$' "$NP_TMP/compact"
"$NETPOL" flows --input-file "$NP_TMP/all.jsonl" --all -o table >"$NP_TMP/table"
check "-o table: a header and one row a record" [ "$(wc -l <"$NP_TMP/table")" = "$((n_all + 1))" ]
check "  the header" grep -q "^TIMESTAMP  *SOURCE  *DESTINATION  *DIRECTION  *VERDICT  *POLICY  *SUMMARY$" "$NP_TMP/table"

# --follow: the new records that match, as they come
# (ip netns exec execs netpol: $! is its pid)
ip netns exec "$NP_NODE" "$NETPOL" flows --state-dir "$PD_STATE" --follow --to-pod x/c -o json \
	>"$NP_TMP/follow" &
FOLLOWER=$!
PD_PIDS="$PD_PIDS $FOLLOWER"
sleep 0.5
probe y/b x/c 80 >/dev/null
probe y/b y/c 80 >/dev/null
probe z/c x/c 81 >/dev/null
pd_wait_for sh -c "[ \$(wc -l <'$NP_TMP/follow') -ge 2 ]"
sleep 0.5
kill "$FOLLOWER" 2>/dev/null
check "--follow --to-pod x/c: exactly the two new flows to x/c" \
	[ "$(jq -c '[.source.namespace + "/" + .source.pod_name, .destination.pod_name]' "$NP_TMP/follow" | tr '\n' ' ')" = \
	  '["y/b","c"] ["z/c","c"] ' ]

# the flow log: Hubble's envelope, rotated, the newest records in FILE, then FILE.1, FILE.2
check "the flow log rotated into FILE.1 and FILE.2, and no further" \
	sh -c "[ -s '$FLOG' ] && [ -s '$FLOG.1' ] && [ -s '$FLOG.2' ] && [ ! -e '$FLOG.3' ]"
check "  each file stayed near 2 KiB (a line may cross it)" \
	sh -c "[ \$(stat -c %s '$FLOG.1') -lt 4096 ] && [ \$(stat -c %s '$FLOG.2') -lt 4096 ]"
cat "$FLOG.2" "$FLOG.1" "$FLOG" >"$NP_TMP/flog.all"
check "  every line is {\"flow\": ...} with node_name and time, as Hubble's exporter writes" \
	[ "$(jq -c 'select(.flow and .node_name and .time)' "$NP_TMP/flog.all" | wc -l)" = \
	  "$(wc -l <"$NP_TMP/flog.all")" ]
check "  in order, none missing, ending with the ring's newest" \
	[ "$(jq '.flow.netpol.seq' "$NP_TMP/flog.all" | awk 'NR > 1 && $1 != p + 1 { bad = 1 } { p = $1 }
		END { if (!bad) print p }')" = "$(flows --last 1 -o json | jq .netpol.seq)" ]
check "  netpol flows --input-file reads it" [ "$("$NETPOL" flows --input-file "$NP_TMP/flog.all" --all \
	-o json | wc -l)" = "$(wc -l <"$NP_TMP/flog.all")" ]

# Hubble's own lines
TZ=UTC "$NETPOL" flows --input-file "$NP_SRC/tests/data/flows/hubble.jsonl" --all >"$NP_TMP/hubble" 2>&1
cat >"$NP_TMP/hubble.want" <<'TXT'
Aug 21 12:12:13.517: fe80::64d8:8aff:fe72:fc14 -> ff02::2 - DROPPED (ICMPv6 type 133 code 0)
Aug 21 12:12:18.510: default/xwing:44916 -> default/deathstar-7848d6c4d5-th9v2:80 - DROPPED (TCP Flags: SYN)
Jan  1 00:00:04.000: EVENTS LOST: 0 (?)
TXT
check "hubble observe -o json lines parse (compact)" diff -u "$NP_TMP/hubble.want" "$NP_TMP/hubble"
"$NETPOL" flows --input-file "$NP_SRC/tests/data/flows/hubble.jsonl" --all -o json >"$NP_TMP/hubble.json"
check "  -o json prints them bare, every field kept" [ "$(jq -c 'if .flow then .flow else . end' \
	"$NP_SRC/tests/data/flows/hubble.jsonl")" = "$(jq -c . "$NP_TMP/hubble.json")" ]
jq -c '.flow // .' "$NP_SRC/tests/data/flows/hubble.jsonl" >"$NP_TMP/bare.jsonl"
check "  bare lines read the same" [ "$("$NETPOL" flows --input-file "$NP_TMP/bare.jsonl" --all -o json)" = \
	"$(cat "$NP_TMP/hubble.json")" ]
check "  --pod default/xwing selects its flow (and the loss, which every filter passes)" \
	[ "$("$NETPOL" flows --input-file "$NP_SRC/tests/data/flows/hubble.jsonl" --all \
	     --pod default/xwing -o json | jq -r '.source.pod_name // "lost"' | tr '\n' ' ')" = "xwing lost " ]
pd_finish
