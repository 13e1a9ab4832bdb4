#!/bin/sh
# Fail-static: policyd killed with SIGKILL in the middle of a stream of changes leaves the
# ruleset enforcing (a denied flow stays denied while it is dead); the next start adopts the
# tables with no flush: an allowed long-lived TCP connection keeps exchanging data across the
# kill and the restart, and a denied flow probed continuously across both never connects.
# SIGTERM exits leaving the ruleset in force; policyd --cleanup removes it.
[ -n "$BASH_VERSION" ] || exec bash "$0" "$@"
set -u
. "$(dirname "$0")/lib.sh"
pd_setup
# x/a takes ingress from x/b only (port 80 and the echo port 90)
policy np x '[{podSelector: {matchLabels: {pod: b}}}]' >"$PD_DIR/np-x.yaml"
check "policyd starts" pd_start
check "x/b -> x/a allowed" expect_conn x/b x/a 1
check "y/a -> x/a denied" expect_conn y/a x/a 0

pd_traffic_start
# a stream of changes: another namespace's policy flips every 20 ms
(
	i=0
	while [ ! -e "$STOP" ]; do
		if [ $((i % 2)) = 0 ]; then policy flip z; else policy flip z '[{podSelector: {}}]'; fi |
			put "$PD_DIR/flip.yaml"
		i=$((i + 1)); sleep 0.02
	done
) &
PD_PIDS="$PD_PIDS $!" CLIENTS="$CLIENTS $!"
sleep 1
OLD=$PD_PID
kill -KILL "$PD_PID"; wait "$PD_PID" 2>/dev/null; PD_PID=""
echo "    policyd ($OLD) killed with SIGKILL"
check "while dead: our table is still there" sh -c "ip netns exec $NP_NODE nft list tables | grep -q 'table inet netpol'"
sleep 1
check "while dead: y/a -> x/a still denied" expect_conn y/a x/a 0
check "restart adopts the tables" pd_start
sleep 1
pd_traffic_stop
cat "$NP_TMP/busy.out" "$NP_TMP/deny.out" | sed 's/^/    /'
check "the long-lived allowed connection survived the kill and the restart (0 errors)" \
	grep -q "roundtrips [1-9][0-9]* errors 0" "$NP_TMP/busy.out"
check "the denied flow never connected across both" \
	grep -q "attempts [1-9][0-9]* connected 0$" "$NP_TMP/deny.out"
check "the restart sent no flush (no table delete in its first sync)" \
	sh -c "grep 'sync 1 (start)' '$PD_LOG' | tail -1 | grep -vq 'full replace'"
policy np x | put "$PD_DIR/np-x.yaml"
check "after the restart an edit applies (x/b -> x/a now denied)" expect_conn x/b x/a 0
check "SIGTERM exits 0" pd_stop TERM
check "  the ruleset stays in force" expect_conn x/b x/a 0
np_node "$POLICYD" --cleanup --state-dir "$PD_STATE" >"$NP_TMP/cleanup.out" 2>&1
cat "$NP_TMP/cleanup.out" | sed 's/^/    /'
check "policyd --cleanup removes it" sh -c "! ip netns exec $NP_NODE nft list tables | grep -q netpol"
check "  everything open again" expect_conn y/a x/a 1
pd_finish
