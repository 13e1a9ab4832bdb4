#!/bin/sh
# systemd and observability: a notify socket (abstract name, as systemd may use) receives
# READY=1 only after the first sync, STATUS= lines, WATCHDOG=1 when WATCHDOG_USEC asks for it,
# RELOADING=1 then READY=1 around SIGHUP, STOPPING=1 at SIGTERM; `netpol reload` (the unit's
# ExecReload) waits for policyd's reload; the unit `make install` ships passes
# `systemd-analyze verify` with no complaint and scores "OK" or better in `systemd-analyze
# security --offline=true` (the score printed); /healthz and /readyz answer; /metrics parses
# with prometheus_client and its counters move with the traffic this test sends.
[ -n "$BASH_VERSION" ] || exec bash "$0" "$@"
set -u
. "$(dirname "$0")/lib.sh"
pd_setup

# the unit, as make install writes it, pointing at this build
DEST=$NP_TMP/inst
make -s -C "$NP_SRC" install-unit DESTDIR="$DEST" PREFIX=/usr >/dev/null 2>&1
UNIT=$DEST/usr/lib/systemd/system/netpol-policyd.service
check "make install(-unit) ships the unit" [ -f "$UNIT" ]
sed "s|/usr/sbin|$NP_BUILD|g" "$UNIT" >"$NP_TMP/netpol-policyd.service"
systemd-analyze verify "$NP_TMP/netpol-policyd.service" >"$NP_TMP/verify.out" 2>&1; RC=$?
sed 's/^/    /' "$NP_TMP/verify.out"
check "systemd-analyze verify accepts it (exit 0, nothing said)" \
	[ "$RC" = 0 ] && [ ! -s "$NP_TMP/verify.out" ]
systemd-analyze security --offline=true "$NP_TMP/netpol-policyd.service" >"$NP_TMP/security.out" 2>&1
grep '^→ Overall' "$NP_TMP/security.out" | sed 's/^/    /'
check "systemd-analyze security: OK or better" \
	grep -Eq '^→ Overall exposure level for .*: [0-9.]+ (OK|SAFE|PERFECT)' "$NP_TMP/security.out"
check "  Type=notify, a synchronous ExecReload, a watchdog" \
	sh -c "grep -q '^Type=notify$' '$UNIT' && grep -q '^ExecReload=.*netpol reload' '$UNIT' && grep -q '^WatchdogSec=' '$UNIT'"

NOTES=$NP_TMP/notify.log
SOCK="@netpol-test-$$"
pd_bg ip netns exec "$NP_NODE" $PDTOOL notify-listen "$SOCK" "$NOTES" >"$NP_TMP/listen.log" 2>&1
for i in $(seq 50); do grep -q ready "$NP_TMP/listen.log" && break; sleep 0.1; done
policy np x '[{podSelector: {matchLabels: {pod: b}}}]' >"$PD_DIR/np-x.yaml"
export NOTIFY_SOCKET=$SOCK WATCHDOG_USEC=200000
check "policyd starts with NOTIFY_SOCKET=$SOCK WATCHDOG_USEC=200000" pd_start
unset NOTIFY_SOCKET WATCHDOG_USEC
sleep 0.6
sed 's/^/    /' "$NOTES" | head -8
check "READY=1 received" grep -q '^READY=1$' "$NOTES"
check "  after the first sync (the log says ready before)" grep -q "ready: first sync done" "$PD_LOG"
check "STATUS= received" grep -q '^STATUS=generation [0-9]*: 1 policies' "$NOTES"
check "WATCHDOG=1 received (more than once)" [ "$(grep -c '^WATCHDOG=1$' "$NOTES")" -ge 2 ]
kill -HUP "$PD_PID"
sleep 0.5
check "SIGHUP: RELOADING=1, then READY=1 again" \
	sh -c "grep -n '' '$NOTES' | grep -A100 RELOADING=1 | grep -q 'READY=1'"
np_node "$NETPOL" reload --state-dir "$PD_STATE" >"$NP_TMP/reload.out" 2>&1; RC=$?
sed 's/^/    /' "$NP_TMP/reload.out"
check "netpol reload (ExecReload) waits for policyd and succeeds" \
	[ "$RC" = 0 ] && grep -q '"ok":true' "$NP_TMP/reload.out"

check "/healthz 200" sh -c "ip netns exec $NP_NODE curl -sf http://127.0.0.1:9753/healthz | grep -q ok"
check "/readyz 200" sh -c "ip netns exec $NP_NODE curl -sf http://127.0.0.1:9753/readyz | grep -q ok"
check "/metrics parses (prometheus_client)" pd_metrics "$NP_TMP/m0"
for k in 'netpol_policies{state="enforced"}' 'netpol_local_pods{isolation="ingress"}' \
	'netpol_sync_total{kind="full",outcome="ok"}' 'netpol_sync_duration_seconds_count{kind="full"}' \
	'netpol_policy_implementation_delay_seconds_count{}' 'netpol_config_errors{}' \
	'netpol_drift_repairs_total{}' 'netpol_connections_cut_total{}' \
	'netpol_conntrack_entries_deleted_total{}' 'netpol_dropped_packets_total{direction="ingress"}' \
	'netpol_dropped_bytes_total{direction="ingress"}' 'netpol_nft_objects{type="element"}' \
	'netpol_policy_allowed_connections_total{direction="ingress",namespace="x",policy="np"}'; do
	check "  has $k = $(metric "$NP_TMP/m0" "$k")" [ -n "$(metric "$NP_TMP/m0" "$k")" ]
done
check "  1 policy enforced, 3 pods isolated for ingress" \
	[ "$(metric "$NP_TMP/m0" 'netpol_policies{state="enforced"}')" = 1 -a \
	"$(metric "$NP_TMP/m0" 'netpol_local_pods{isolation="ingress"}')" = 3 ]
A='netpol_policy_allowed_connections_total{direction="ingress",namespace="x",policy="np"}'
D='netpol_dropped_packets_total{direction="ingress"}'
A0=$(metric "$NP_TMP/m0" "$A") D0=$(metric "$NP_TMP/m0" "$D")
for i in 1 2 3 4 5; do probe x/b x/a >/dev/null; probe y/a x/a >/dev/null; done
check "metrics again" pd_metrics "$NP_TMP/m1"
A1=$(metric "$NP_TMP/m1" "$A") D1=$(metric "$NP_TMP/m1" "$D")
echo "    allowed $A0 -> $A1, dropped $D0 -> $D1"
check "5 allowed connections counted by the policy's counter" [ $((A1 - A0)) -ge 5 ]
check "5 denied connection attempts counted as dropped ingress packets" [ $((D1 - D0)) -ge 5 ]
policy np x | put "$PD_DIR/np-x.yaml"
check "an edit applies" expect_conn x/b x/a 0
check "metrics after the edit" pd_metrics "$NP_TMP/m2"
check "  the implementation delay histogram observed it" \
	[ "$(metric "$NP_TMP/m2" 'netpol_policy_implementation_delay_seconds_count{}')" -ge 1 ]
check "  an incremental sync counted" \
	[ "$(metric "$NP_TMP/m2" 'netpol_sync_total{kind="incremental",outcome="ok"}')" -ge 1 ]
check "SIGTERM" pd_stop TERM
sleep 0.3
check "STOPPING=1 received" grep -q '^STOPPING=1$' "$NOTES"
pd_finish
