#!/bin/sh
# Kernels before 6.9: the unowned-table fallback, run for real. A kernel before 6.9 refuses the
# persist flag with EOPNOTSUPP; this one accepts it, so --test-old-kernel adds a table flag no
# kernel knows next to it, which nf_tables_newtable refuses the same way. The pipeline must then
# fall back to tables without the owner flag (they outlive the process): policyd starts, says
# "unowned" (control socket, netpol status), enforces, another process can edit its tables
# (no owner) and the monitor repairs that; the fail-static scenario of t-crash.sh
# (pd_crash_restart: kill -9, the ruleset keeps enforcing, a restart adopts without a flush)
# holds on unowned tables. `netpol apply --test-old-kernel` takes the same fallback.
[ -n "$BASH_VERSION" ] || exec bash "$0" "$@"
set -u
. "$(dirname "$0")/lib.sh"
pd_setup
nodenft() { ip netns exec "$NP_NODE" nft "$@"; }
unowned_status() {
	pd_ctl '{"cmd":"status"}' | grep -q '"tables":"unowned (the kernel refused the persist flag'
}
repaired() { pd_metrics "$NP_TMP/m" && [ "$(metric "$NP_TMP/m" 'netpol_drift_repairs_total{}')" = 1 ]; }

policy np x '[{podSelector: {matchLabels: {pod: b}}}]' >"$PD_DIR/np-x.yaml"
check "policyd --test-old-kernel starts" pd_start --test-old-kernel
check "  the control socket's status says the tables are unowned" unowned_status
np_node "$NETPOL" status "$PD_DIR" --state-dir "$PD_STATE" >"$NP_TMP/status.out" 2>&1
sed 's/^/    /' "$NP_TMP/status.out" | head -6
check "  netpol status says so, and in sync" sh -c "grep -q '^policyd: .*tables unowned (the kernel refused' '$NP_TMP/status.out' &&
	grep -q '^table inet netpol: unowned' '$NP_TMP/status.out' && grep -qx 'in sync' '$NP_TMP/status.out'"
check "x/b -> x/a allowed" expect_conn x/b x/a 1
check "y/a -> x/a denied" expect_conn y/a x/a 0
check "no owner: another process can delete a map element while policyd runs" \
	nodenft delete element inet netpol ing4 "{ $(np_pod_addr x/a 4) }"
check "  the monitor repairs it (netpol_drift_repairs_total 1)" pd_wait_for repaired
check "  y/a -> x/a denied" expect_conn y/a x/a 0

pd_crash_restart --test-old-kernel
check "  after the restart the tables are still unowned" unowned_status
policy np x | put "$PD_DIR/np-x.yaml"
check "after the restart an edit applies (x/b -> x/a now denied)" expect_conn x/b x/a 0
check "SIGTERM exits 0" pd_stop TERM
check "  the ruleset stays in force" expect_conn x/b x/a 0
np_node "$POLICYD" --cleanup --state-dir "$PD_STATE" >/dev/null 2>&1
check "policyd --cleanup removes the unowned tables" \
	sh -c "! ip netns exec $NP_NODE nft list tables | grep -q netpol"

# netpol apply shares the fallback: the tables stay after it exits, and a second apply adopts
# them (nothing to change)
policy np x '[{podSelector: {matchLabels: {pod: b}}}]' | put "$PD_DIR/np-x.yaml"
np_node "$NETPOL" apply "$PD_DIR" --test-old-kernel >"$NP_TMP/apply.out" 2>&1
sed 's/^/    /' "$NP_TMP/apply.out"
check "netpol apply --test-old-kernel applies and says the tables are unowned" \
	grep -q "the kernel refused the persist flag (before 6.9): the tables are unowned" "$NP_TMP/apply.out"
check "  after it exited: x/b -> x/a allowed" expect_conn x/b x/a 1
check "  after it exited: y/a -> x/a denied" expect_conn y/a x/a 0
check "  a second apply adopts them: nothing to change" \
	sh -c "np_out=\$(ip netns exec $NP_NODE '$NETPOL' apply '$PD_DIR' --test-old-kernel) &&
		echo \"\$np_out\" | grep -q 'in sync; nothing to change'"
pd_finish
