#!/bin/sh
# Fail-static: policyd killed with SIGKILL in the middle of a stream of changes leaves the
# ruleset enforcing (a denied flow stays denied while it is dead); the next start adopts the
# tables with no flush: an allowed long-lived TCP connection keeps exchanging data across the
# kill and the restart, and a denied flow probed continuously across both never connects
# (pd_crash_restart in lib.sh; t-old-kernel.sh runs the same on unowned tables).
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
pd_crash_restart
policy np x | put "$PD_DIR/np-x.yaml"
check "after the restart an edit applies (x/b -> x/a now denied)" expect_conn x/b x/a 0
check "SIGTERM exits 0" pd_stop TERM
check "  the ruleset stays in force" expect_conn x/b x/a 0
np_node "$POLICYD" --cleanup --state-dir "$PD_STATE" >"$NP_TMP/cleanup.out" 2>&1
cat "$NP_TMP/cleanup.out" | sed 's/^/    /'
check "policyd --cleanup removes it" sh -c "! ip netns exec $NP_NODE nft list tables | grep -q netpol"
check "  everything open again" expect_conn y/a x/a 1
pd_finish
