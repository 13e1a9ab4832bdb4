#!/bin/sh
# inotify queue overflow: policyd stopped (SIGSTOP) while more events than the queue holds
# (/proc/sys/fs/inotify/max_queued_events, read, never changed) happen in its directory —
# editor temporary files written over and over — and, once the queue has overflowed, one real
# policy change (its events are lost: the kernel drops everything past the overflow), then more
# churn. After SIGCONT policyd must see IN_Q_OVERFLOW, re-read the whole directory and enforce
# the change (real connections), say so in its log and count it in /metrics; later changes
# still arrive by their own events.
[ -n "$BASH_VERSION" ] || exec bash "$0" "$@"
set -u
. "$(dirname "$0")/lib.sh"
pd_setup
MAX=$(cat /proc/sys/fs/inotify/max_queued_events)
echo "    max_queued_events $MAX"
# churn N: 2N events in the policy directory (each write of an existing file is one
# IN_CLOSE_WRITE; two names in turn, so the kernel cannot merge them), with shell builtins only
churn() {
	local i
	for ((i = 0; i < $1; i++)); do
		: >"$PD_DIR/.np-x.yaml.swp"
		: >"$PD_DIR/4913"
	done
}
stopped() { [ "$(awk '{print $3}' "/proc/$PD_PID/stat")" = T ]; }
overflows() { pd_metrics "$NP_TMP/m" && metric "$NP_TMP/m" 'netpol_inotify_overflows_total{}'; }

policy np x '[{podSelector: {matchLabels: {pod: b}}}]' >"$PD_DIR/np-x.yaml"
check "policyd starts" pd_start
check "x/b -> x/a allowed" expect_conn x/b x/a 1
check "no overflow yet" [ "$(overflows)" = 0 ]

kill -STOP "$PD_PID"
check "policyd stopped" pd_wait_for stopped
churn "$MAX"
policy np x | put "$PD_DIR/np-x.yaml" # x/a: no ingress at all now
churn 1000
rm -f "$PD_DIR/.np-x.yaml.swp" "$PD_DIR/4913"
kill -CONT "$PD_PID"
check "after SIGCONT the change is enforced: x/b -> x/a denied" expect_conn x/b x/a 0
check "  netpol_inotify_overflows_total 1" [ "$(overflows)" = 1 ]
check "  the log says the queue overflowed and the directory was re-read" \
	grep -q "inotify queue overflowed" "$PD_LOG"
grep -E "overflow|sync [0-9]+ \(" "$PD_LOG" | tail -3 | sed 's/^/    /'
policy np x '[{podSelector: {matchLabels: {pod: c}}}]' | put "$PD_DIR/np-x.yaml"
check "a later change arrives by its own event: x/c -> x/a allowed" expect_conn x/c x/a 1
check "  x/b -> x/a denied" expect_conn x/b x/a 0
check "  no second overflow" [ "$(overflows)" = 1 ]
pd_finish
