#!/bin/sh
# Restart on the commit marker: a restart whose policy files, endpoint records, options and
# program are as its last commit left them, and whose netns committed nothing since, is READY
# before it reads anything (the kernel holds exactly what those inputs build) and builds its
# model after; every other restart reads everything first. Checked by what the user sees: the
# log's READY line, the connections, and changes made after the restart.
[ -n "$BASH_VERSION" ] || exec bash "$0" "$@"
set -u
. "$(dirname "$0")/lib.sh"
pd_setup
ALLOW_B='[{podSelector: {matchLabels: {pod: b}}}]'
policy np x "$ALLOW_B" >"$PD_DIR/np-x.yaml"
check "policyd starts" pd_start
check "x/b -> x/a allowed" expect_conn x/b x/a 1
check "y/a -> x/a denied" expect_conn y/a x/a 0
check "a commit marker is in the state directory" test -s "$PD_STATE/commit.json"

MARK=0
# restart [ARGS...]: stops policyd (SIGTERM) and starts it again; the log lines of this start
# go to $NP_TMP/start.log
restart() {
	pd_stop TERM
	MARK=$(wc -l <"$PD_LOG")
	pd_start "$@"
	local r=$?
	tail -n +$((MARK + 1)) "$PD_LOG" >"$NP_TMP/start.log"
	return $r
}
fast() {
	grep -q "ready: our tables hold the last commit of these inputs" "$NP_TMP/start.log" &&
		grep -q "model built: first sync done .*the kernel trusted, not read back" \
			"$NP_TMP/start.log"
}
full() {
	grep -q "commit marker: $1" "$NP_TMP/start.log" &&
		grep -q "ready: first sync done" "$NP_TMP/start.log" &&
		! grep -q "ready: our tables" "$NP_TMP/start.log"
}
enforced() {
	expect_conn x/b x/a "$1" && expect_conn y/a x/a 0
}

echo "# a plain restart"
check "restart" restart
check "  READY on the marker, before the model was built; the kernel was not read back" fast
sed -n 's/^policyd [0-9:.]*: /    /p' "$NP_TMP/start.log" | grep "ready:\|model built"
check "  x/b -> x/a allowed, y/a -> x/a denied" enforced 1
policy np x | put "$PD_DIR/np-x.yaml"
check "  an edit after it applies (x/b -> x/a now denied)" expect_conn x/b x/a 0
policy np x "$ALLOW_B" | put "$PD_DIR/np-x.yaml"
check "  and its undo (x/b -> x/a allowed again)" expect_conn x/b x/a 1

echo "# a second restart in a row (the first one's re-claim of the tables is a commit too)"
check "restart" restart
check "  READY on the marker again" fast
check "  enforcement as before" enforced 1

pd_ctl '{"cmd":"resync","wait":true}' >"$NP_TMP/resync.out"
check "  a read-back of the kernel finds nothing to repair (it held what the model builds)" \
	grep -q '"repaired":false' "$NP_TMP/resync.out"

echo "# br_netfilter turned off in the node netns while policyd was down"
pd_stop TERM
np_node sh -c 'echo 0 >/proc/sys/net/bridge/bridge-nf-call-iptables; echo 0 >/proc/sys/net/bridge/bridge-nf-call-ip6tables'
check "  while down, bridged traffic bypasses the tables: y/a -> x/a connects" expect_conn y/a x/a 1
check "restart" pd_start
check "  bridge-nf-call-iptables is on again" \
	sh -c "[ \"\$(ip netns exec $NP_NODE cat /proc/sys/net/bridge/bridge-nf-call-iptables)\" = 1 ]"
check "  y/a -> x/a denied again, x/b -> x/a allowed" enforced 1

echo "# a policy file edited while policyd was down"
pd_stop TERM
MARK=$(wc -l <"$PD_LOG")
policy np x >"$PD_DIR/np-x.yaml"
check "restart" pd_start
tail -n +$((MARK + 1)) "$PD_LOG" >"$NP_TMP/start.log"
check "  the marker did not match: everything read before READY" \
	full "the policy files, endpoint records, options or program changed since"
check "  the edit is enforced (x/b -> x/a denied)" expect_conn x/b x/a 0
policy np x "$ALLOW_B" | put "$PD_DIR/np-x.yaml"
check "  x/b -> x/a allowed again after the undo" expect_conn x/b x/a 1

echo "# our table changed by someone else while policyd was down"
pd_stop TERM
MARK=$(wc -l <"$PD_LOG")
np_node nft flush table inet netpol
check "  while down, with its rules flushed, y/a -> x/a connects" expect_conn y/a x/a 1
check "restart" pd_start
tail -n +$((MARK + 1)) "$PD_LOG" >"$NP_TMP/start.log"
check "  the marker did not match (the netns committed since): everything read and repaired" \
	full "the netns's ruleset was committed since"
check "  y/a -> x/a denied again, x/b -> x/a allowed" enforced 1

echo "# another table of the netns committed while policyd was down"
pd_stop TERM
MARK=$(wc -l <"$PD_LOG")
np_node nft add table inet np-other
check "restart" pd_start
tail -n +$((MARK + 1)) "$PD_LOG" >"$NP_TMP/start.log"
check "  the marker did not match: everything read" full "the netns's ruleset was committed since"
check "  enforcement as before" enforced 1
np_node nft delete table inet np-other

echo "# options changed: --reject"
check "restart --reject" restart --reject
check "  the marker did not match: everything read" \
	full "the policy files, endpoint records, options or program changed since"
check "  the ruleset now rejects (a reject rule in our table)" \
	sh -c "ip netns exec $NP_NODE nft list table inet netpol | grep -q reject"
check "  enforcement as before" enforced 1
check "restart --reject again: READY on the marker" restart --reject
check "  (fast)" fast

echo "# a torn marker"
pd_stop TERM
printf '{"inputs":"00' >"$PD_STATE/commit.json"
MARK=$(wc -l <"$PD_LOG")
check "restart" pd_start --reject
tail -n +$((MARK + 1)) "$PD_LOG" >"$NP_TMP/start.log"
check "  the marker is not trusted: everything read" full "it is not whole"
check "  enforcement as before" enforced 1
check "  a whole marker is written again" \
	/usr/bin/python3 -c "import json,sys; json.load(open(sys.argv[1]))" "$PD_STATE/commit.json"
pd_finish
