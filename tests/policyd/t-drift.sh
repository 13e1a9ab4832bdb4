#!/bin/sh
# Drift repair. Run without the owner flag (what a kernel before 6.9 gets; otherwise nobody else
# could edit our tables), someone deletes our table or one map element behind policyd's back:
# the allowed-by-accident flow really connects, then policyd repairs it — at SIGHUP, on a
# {"cmd":"resync"} request and at the periodic resync (monitor off), and at once through the
# NFNLGRP_NFTABLES monitor (no signal, no timer) — and /metrics counts each repair. The
# monitor starts after the first commit (a listener makes that commit pay a notification per
# object): an edit in between is caught by the generation check when it starts.
[ -n "$BASH_VERSION" ] || exec bash "$0" "$@"
set -u
. "$(dirname "$0")/lib.sh"
pd_setup
policy np x >"$PD_DIR/np-x.yaml"
XB=$(np_pod_addr x/b 4)
nodenft() { ip netns exec "$NP_NODE" nft "$@"; }
repairs() { pd_metrics "$NP_TMP/m" && metric "$NP_TMP/m" 'netpol_drift_repairs_total{}'; }

check "policyd starts (no owner flag, no monitor, no periodic resync)" \
	pd_start --no-owner --no-monitor --resync 0
check "status says the tables are unowned" \
	sh -c "$PDTOOL ctl $PD_STATE/policyd.sock '{\"cmd\":\"status\"}' | grep -q '\"tables\":\"unowned'"
check "deny in x" expect_conn y/a x/b 0
nodenft delete table inet netpol
check "table deleted behind its back: y/a -> x/b connects" expect_conn y/a x/b 1
kill -HUP "$PD_PID"
check "SIGHUP repairs it" expect_conn y/a x/b 0
check "  netpol_drift_repairs_total 1" [ "$(repairs)" = 1 ]

nodenft delete element inet netpol ing4 "{ $XB }"
check "map element deleted: y/a -> x/b connects" expect_conn y/a x/b 1
pd_ctl '{"cmd":"resync","wait":true}' >"$NP_TMP/resync.out"; sed 's/^/    /' "$NP_TMP/resync.out"
check "{\"cmd\":\"resync\"} repairs it and says so" grep -q '"repaired":true' "$NP_TMP/resync.out"
check "  y/a -> x/b blocked" expect_conn y/a x/b 0
check "  netpol_drift_repairs_total 2" [ "$(repairs)" = 2 ]
pd_stop TERM

check "restart with a 1 s resync period (monitor still off)" \
	pd_start --no-owner --no-monitor --resync 1s
nodenft delete element inet netpol ing4 "{ $XB }"
check "element deleted again; the periodic resync repairs it" expect_conn y/a x/b 0
check "  netpol_drift_repairs_total 1 (this run)" [ "$(repairs)" = 1 ]
pd_stop TERM

check "restart with the monitor (no periodic resync)" pd_start --no-owner --resync 0
nodenft delete table inet netpol
sleep 0.5
check "table deleted: the monitor repairs it at once" expect_conn y/a x/b 0
nodenft delete element inet netpol ing4 "{ $XB }"
sleep 0.5
check "element deleted: repaired at once" expect_conn y/a x/b 0
check "  netpol_drift_repairs_total 2" [ "$(repairs)" = 2 ]
check "  the log says who changed what" grep -q "another process changed our tables" "$PD_LOG"
pd_stop TERM

# tables flushed first: the first sync creates them (a commit that moves the generation), so
# only the generation check, not a read-back after a no-op start, can see the deletion
ip netns exec "$NP_NODE" "$NETPOL" flush >/dev/null
said() { grep -c "the ruleset changed since our first commit" "$PD_LOG"; }
n0=$(said)
check "restart on an empty kernel, the monitor started 5 s after the first commit" \
	pd_start --no-owner --resync 0 --test-monitor-delay 5s
nodenft delete element inet netpol ing4 "{ $XB }"
check "element deleted before the monitor started: y/a -> x/b connects" expect_conn y/a x/b 1
sleep 5
check "  the monitor's start finds the generation moved and repairs it" expect_conn y/a x/b 0
check "  the log says why (once more than before this start)" [ "$(said)" = $((n0 + 1)) ]
pd_finish
