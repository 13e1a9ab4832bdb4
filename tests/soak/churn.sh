#!/bin/sh
# Churn under traffic: FLIPS (10,000) policy flips (renamed into place 2 ms apart) and, at the
# same time, RELOADS (1,000) reload requests 30 ms apart (each re-reads every file and the
# kernel), while an
# allowed long-lived TCP connection (x/b -> x/a:90) exchanges an echo every 2 ms and a denied
# prober (y/a -> x/a:80) keeps trying. Both versions of the flipped policy allow the one and deny
# the other, so every state in between must too: no allowed round trip may fail, no denied
# attempt connect. policyd's resident memory and open descriptors are read before (after a
# warm-up) and after (once it is idle and has trimmed), and sampled every second in between:
# they must come back flat. Figures: the traffic's counts, syncs, reload and flip rates, RSS and
# descriptors at start, peak and end.
[ -n "$BASH_VERSION" ] || exec bash "$0" "$@"
set -u
. "$(dirname "$0")/../policyd/lib.sh"
FLIPS=${FLIPS:-10000} RELOADS=${RELOADS:-1000}
LIMITS="/usr/bin/python3 $NP_SRC/tests/tools/limits.py"
pd_setup
pd_flip_pair
check "policyd starts" pd_start
check "x/b -> x/a allowed" expect_conn x/b x/a 1
check "y/a -> x/a denied" expect_conn y/a x/a 0
rss() { awk '/^VmRSS/ { print $2 }' "/proc/$PD_PID/status"; }
fds() { ls "/proc/$PD_PID/fd" | wc -l; }
pd_traffic_start
# warm-up: every code path once (flips, a reload, scrapes) before the first reading
$PDTOOL flips 50 "$PD_DIR/np-x.yaml" "$NP_TMP/a.yaml" "$NP_TMP/b.yaml"
pd_ctl '{"cmd":"reload","wait":true}' >/dev/null
pd_metrics "$NP_TMP/m0"
sleep 3 # the trim after a quiet 2 s
RSS0=$(rss) FDS0=$(fds)
( while [ ! -e "$NP_TMP/stop-sample" ]; do echo "$(rss) $(fds)"; sleep 1; done ) >"$NP_TMP/samples" &
SAMPLER=$!
T0=$(date +%s)
$LIMITS requests "$PD_STATE/policyd.sock" reload "$RELOADS" 30 >"$NP_TMP/reloads.out" &
RL=$!
$PDTOOL flips "$FLIPS" "$PD_DIR/np-x.yaml" "$NP_TMP/a.yaml" "$NP_TMP/b.yaml"
T1=$(date +%s)
wait "$RL"
T2=$(date +%s)
check "the last version is enforced (z/a -> x/a denied)" expect_conn z/a x/a 0
pd_traffic_stop
sleep 3 # idle: the trim timer gives back what the last syncs freed
RSS1=$(rss) FDS1=$(fds)
touch "$NP_TMP/stop-sample"; wait "$SAMPLER"
PEAK=$(awk 'BEGIN { m = 0 } $1 > m { m = $1 } END { print m }' "$NP_TMP/samples")
FDMAX=$(awk 'BEGIN { m = 0 } $2 > m { m = $2 } END { print m }' "$NP_TMP/samples")
check "metrics" pd_metrics "$NP_TMP/m"
SY=$(metric "$NP_TMP/m" 'netpol_sync_total{kind="incremental",outcome="ok"}')
SF=$(metric "$NP_TMP/m" 'netpol_sync_total{kind="full",outcome="ok"}')
ER=$(( $(metric "$NP_TMP/m" 'netpol_sync_total{kind="incremental",outcome="error"}') + \
	$(metric "$NP_TMP/m" 'netpol_sync_total{kind="full",outcome="error"}') ))
echo "    $FLIPS flips in $((T1 - T0)) s ($(( FLIPS / (T1 - T0 > 0 ? T1 - T0 : 1) ))/s); $(cat "$NP_TMP/reloads.out") (done $((T2 - T0)) s after the start)"
echo "    syncs: $SY incremental, $SF full, $ER failed"
sed 's/^/    /' "$NP_TMP/busy.out" "$NP_TMP/deny.out"
echo "    RSS: $RSS0 kB at the start, $PEAK kB at the peak, $RSS1 kB at the end; descriptors: $FDS0, at most $FDMAX, $FDS1"
check "allowed flow: round trips and 0 errors" grep -q "roundtrips [1-9][0-9]* errors 0" "$NP_TMP/busy.out"
check "denied flow: attempts and 0 successes" grep -q "attempts [1-9][0-9]* connected 0$" "$NP_TMP/deny.out"
check "every reload succeeded" grep -q "$RELOADS in .* failed 0," "$NP_TMP/reloads.out"
check "no failed sync" [ "$ER" = 0 ]
check "descriptors flat (end = start)" [ "$FDS1" = "$FDS0" ]
# flat: within a quarter of the start, and 8 MiB (the allocator keeps some of the peak)
check "RSS flat (end within 25 % + 8 MiB of the start)" [ "$RSS1" -le $(( RSS0 * 5 / 4 + 8192 )) ]
check "SIGTERM exits 0" pd_stop TERM
pd_finish
