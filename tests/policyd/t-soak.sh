#!/bin/sh
# A bounded soak: 1,000 policy flips (renamed into place, 2 ms apart) while
# one client keeps an allowed connection busy with echo round trips and another keeps trying a
# denied one. Both versions of the policy allow x/b -> x/a:90 and deny y/a -> x/a:80, so every
# intermediate state must too: 0 errors on the allowed flow, 0 successes on the denied one.
# policyd must still be alive, ready and in step with the last version at the end.
[ -n "$BASH_VERSION" ] || exec bash "$0" "$@"
set -u
. "$(dirname "$0")/lib.sh"
FLIPS=${FLIPS:-1000}
pd_setup
A=$(policy np x '[{podSelector: {matchLabels: {pod: b}}}]')
B=$(policy np x '[{podSelector: {matchLabels: {pod: b}}}, {namespaceSelector: {matchLabels: {ns: z}}}]')
echo "$A" >"$PD_DIR/np-x.yaml"
check "policyd starts" pd_start
check "x/b -> x/a allowed" expect_conn x/b x/a 1
check "y/a -> x/a denied" expect_conn y/a x/a 0
pd_traffic_start
sleep 0.5
echo "$A" >"$NP_TMP/a.yaml"; echo "$B" >"$NP_TMP/b.yaml"
START=$(date +%s.%N)
$PDTOOL flips "$FLIPS" "$PD_DIR/np-x.yaml" "$NP_TMP/a.yaml" "$NP_TMP/b.yaml"
END=$(date +%s.%N)
echo "    $FLIPS flips written in $(echo "$END - $START" | bc 2>/dev/null || echo "?") s"
# the last flip (even count: A) must be what the kernel ends with: z/a denied again
check "the last version is enforced (z/a -> x/a denied)" expect_conn z/a x/a 0
pd_traffic_stop
cat "$NP_TMP/busy.out" "$NP_TMP/deny.out" | sed 's/^/    /'
check "allowed flow: round trips and 0 errors" grep -q "roundtrips [1-9][0-9]* errors 0" "$NP_TMP/busy.out"
check "denied flow: attempts and 0 successes" grep -q "attempts [1-9][0-9]* connected 0$" "$NP_TMP/deny.out"
check "policyd alive and ready" sh -c "$PDTOOL ctl $PD_STATE/policyd.sock '{\"cmd\":\"status\"}' | grep -q '\"ready\":true'"
check "metrics" pd_metrics "$NP_TMP/m"
SY=$(metric "$NP_TMP/m" 'netpol_sync_total{kind="incremental",outcome="ok"}')
ER=$(metric "$NP_TMP/m" 'netpol_sync_total{kind="incremental",outcome="error"}')
echo "    incremental syncs: $SY ok, $ER failed"
check "no failed sync" [ "$ER" = 0 ]
check "SIGTERM exits 0 (no leak under ASan)" pd_stop TERM
pd_finish
