#!/bin/sh
# A sync request includes every change written before it, deletions too: the first packet sent
# after policyd's reply meets the new ruleset. Each probe here is one TCP SYN (200 ms connect
# timeout: no retransmission) and one UDP datagram (never resent), IPv4 and IPv6, sent by
# np_agent the moment {"cmd":"sync","wait":true} (or reload) has answered ok. 50 rounds each:
#   - a deny policy's file removed (the removal is still in its 100 ms deletion grace when the
#     request arrives): the very first packets connect; written again: the first are dropped;
#   - the editor pattern (rm, then the file created again with looser content): connect;
#   - an endpoint record removed (the pod it described was isolated): connect; written again:
#     dropped.
# Then, with a 3 s grace, nothing may claim "in sync" while a removal waits: the control
# socket's status says synced false and what is pending, /readyz is 503 with the reason, and a
# sync request ends the wait at once.
[ -n "$BASH_VERSION" ] || exec bash "$0" "$@"
set -u
. "$(dirname "$0")/lib.sh"
pd_setup
ROUNDS=${NP_SYNC_ROUNDS:-50}
DENY=$(policy np x)
OPEN=$(policy np x '[{namespaceSelector: {}}]')

# first_packets FROM TO REQUEST WANT: the four first packets FROM -> TO:80 right after REQUEST's
# reply; all must give WANT (1 connected, 0 dropped). Prints what differed.
first_packets() {
	local ns a4 a6 out
	ns=$(np_pod_ns "$1") a4=$(np_pod_addr "$2" 4) a6=$(np_pod_addr "$2" 6)
	printf '%s %s tcp 80\n%s %s udp 80\n%s %s tcp 80\n%s %s udp 80\n' \
		"$ns" "$a4" "$ns" "$a4" "$ns" "$a6" "$ns" "$a6" >"$NP_TMP/first.in"
	out=$("$NP_AGENT" probe --once --timeout-ms 200 --after-ctl "$PD_STATE/policyd.sock" "$3" \
		"$NP_TMP/first.in" 2>"$NP_TMP/first.err") || {
		np_log "    the request failed: $(cat "$NP_TMP/first.err")"; return 1; }
	if echo "$out" | awk -v w="$4" '$NF != w { bad = 1 } END { exit !bad }'; then
		np_log "    $1 -> $2 after $3: wanted $4 from every first packet, got:"
		echo "$out" | sed 's/^/      /' >&2
		return 1
	fi
}

SYNC='{"cmd":"sync","wait":true}'
RELOAD='{"cmd":"reload","wait":true}'
check "policyd starts" pd_start

# 1. a deny policy's file removed, then written again
fails=0
for i in $(seq "$ROUNDS"); do
	req=$SYNC; [ $((i % 10)) = 0 ] && req=$RELOAD
	echo "$DENY" | put "$PD_DIR/np-x.yaml"
	first_packets y/a x/a "$req" 0 || { fails=$((fails + 1)); continue; }
	rm "$PD_DIR/np-x.yaml"
	first_packets y/a x/a "$req" 1 || fails=$((fails + 1))
done
check "deny file removed, then sync (every 10th: reload): the first packets after the reply pass, $ROUNDS rounds ($fails failed)" [ "$fails" = 0 ]

# 2. the editor pattern: the file removed and created again (not renamed) with looser content
fails=0
echo "$DENY" | put "$PD_DIR/np-x.yaml"
first_packets y/a x/a "$SYNC" 0 || fails=$((fails + 1))
for i in $(seq "$ROUNDS"); do
	rm "$PD_DIR/np-x.yaml" && echo "$OPEN" >"$PD_DIR/np-x.yaml"
	first_packets y/a x/a "$SYNC" 1 || fails=$((fails + 1))
	rm "$PD_DIR/np-x.yaml" && echo "$DENY" >"$PD_DIR/np-x.yaml"
	first_packets y/a x/a "$SYNC" 0 || fails=$((fails + 1))
done
rm "$PD_DIR/np-x.yaml"
check "rm + create with looser content, then sync: the first packets pass, $ROUNDS rounds ($fails failed)" [ "$fails" = 0 ]

# 3. an endpoint record: y/b is known only from its record (its Pod object removed), and a
# policy isolates it; the record removed, y/b is no pod netpol knows (not isolated)
rm "$PD_DIR/pod-y-b.yaml"
echo "$(policy deny-b y | sed 's/podSelector: {}/podSelector: {matchLabels: {pod: b}}/')" |
	put "$PD_DIR/deny-b.yaml"
REC_DIR=$PD_STATE/endpoints/tnet
mkdir -p "$REC_DIR"
cat >"$NP_TMP/yb.json" <<EOF
{"network": "tnet", "id": "yb", "driver": "bridge", "netns": "$(np_pod_ns y/b)", "ifname": "eth0",
 "host_ifname": "veth-yb", "addresses": ["$(np_pod_addr y/b 4)/24", "$(np_pod_addr y/b 6)/64"],
 "gateways": [], "mac": null, "host": null, "pod": {"namespace": "y", "name": "b"},
 "labels": {"pod": "b"}, "created": "2026-12-07T00:00:00Z"}
EOF
fails=0
for i in $(seq "$ROUNDS"); do
	cp "$NP_TMP/yb.json" "$REC_DIR/.yb.tmp" && mv "$REC_DIR/.yb.tmp" "$REC_DIR/yb.json"
	first_packets x/a y/b "$SYNC" 0 || { fails=$((fails + 1)); continue; }
	rm "$REC_DIR/yb.json"
	first_packets x/a y/b "$SYNC" 1 || fails=$((fails + 1))
done
check "endpoint record removed, then sync: the first packets pass; written again: dropped, $ROUNDS rounds ($fails failed)" [ "$fails" = 0 ]

# 4. nothing says "in sync" while a removal waits out a long grace
pd_stop TERM
check "policyd restarts with a 3 s deletion grace" pd_start --grace 3s
echo "$DENY" | put "$PD_DIR/np-x.yaml"
check "  deny in force" first_packets y/a x/a "$SYNC" 0
rm "$PD_DIR/np-x.yaml"
sleep 0.3
pd_ctl '{"cmd":"status"}' >"$NP_TMP/status.out"; sed 's/^/    /' "$NP_TMP/status.out"
check "  status while the removal waits: synced false, pending says why" \
	sh -c "grep -q '\"synced\":false' '$NP_TMP/status.out' && grep -q '\"pending\":' '$NP_TMP/status.out'"
CODE=$(np_node curl -s -o "$NP_TMP/ready.out" -w '%{http_code}' http://127.0.0.1:9753/readyz)
sed 's/^/    /' "$NP_TMP/ready.out"
check "  /readyz is 503 and says a change is not enforced yet" \
	sh -c "[ '$CODE' = 503 ] && grep -q 'not enforced yet' '$NP_TMP/ready.out'"
check "  netpol status prints policyd's pending change" \
	sh -c "np_status() { ip netns exec $NP_NODE '$NETPOL' status --state-dir '$PD_STATE' '$PD_DIR'; }; np_status 2>&1 | grep -q 'pending'"
check "  a sync request decides the removal at once: the first packets pass" \
	first_packets y/a x/a "$SYNC" 1
pd_ctl '{"cmd":"status"}' >"$NP_TMP/status.out"
check "  status after the sync: synced true" grep -q '"synced":true' "$NP_TMP/status.out"
pd_finish
