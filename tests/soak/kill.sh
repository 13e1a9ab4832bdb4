#!/bin/sh
# Kill at any instant: policyd SIGKILLed KILLS times (200) at a random instant of its life (0 to
# KILL_MS ms after it was started: while it starts, adopts the tables and syncs a stream of
# changes) while an allowed long-lived TCP connection (x/b -> x/a, an echo every 2 ms) runs, a
# denied prober (y/a -> x/a, a connection attempt every 10 ms) keeps trying, and a policy of
# another namespace flips every 20 ms. The cluster holds a generated one too (CLUSTER_PODS pods,
# 300) so a start's sync takes long enough to be killed in. The allowed connection must never
# break, the prober never connect, and every start that got as far as its first sync must have
# adopted the tables (no full replace). Figures: kills, where they landed, first syncs, syncs
# done, the traffic's counts, time.
[ -n "$BASH_VERSION" ] || exec bash "$0" "$@"
set -u
. "$(dirname "$0")/../policyd/lib.sh"
KILLS=${KILLS:-200} KILL_MS=${KILL_MS:-600} CLUSTER_PODS=${CLUSTER_PODS:-300}
pd_setup
"$NP_BUILD/tests/gen_cluster" "$PD_DIR" --pods "$CLUSTER_PODS" --namespaces 10 \
	--policies $((CLUSTER_PODS / 10)) >/dev/null || { echo "gen_cluster failed"; exit 1; }
policy np x '[{podSelector: {matchLabels: {pod: b}}}]' >"$PD_DIR/np-x.yaml"
check "policyd starts ($CLUSTER_PODS generated pods beside the 9)" pd_start
check "x/b -> x/a allowed" expect_conn x/b x/a 1
check "y/a -> x/a denied" expect_conn y/a x/a 0
pd_traffic_start
pd_flipper_start
sleep 1
pd_stop KILL
T0=$(date +%s)
RUNS=$NP_TMP/runs
mkdir -p "$RUNS"
for i in $(seq "$KILLS"); do
	# each run logs apart, so its first sync can be told from the others'
	ip netns exec "$NP_NODE" "$POLICYD" --policy-dir "$PD_DIR" --state-dir "$PD_STATE" \
		--metrics none >"$RUNS/$i.log" 2>&1 &
	PD_PID=$!
	sleep "$(awk -v s="$RANDOM$i" -v m="$KILL_MS" 'BEGIN { srand(s); printf "%.3f", rand() * m / 1000 }')"
	pd_stop KILL
done
T1=$(date +%s)
check "a last start adopts the tables" pd_start
sleep 1
pd_traffic_stop
starts=$(grep -l 'sync 1 (start)' "$RUNS"/*.log | wc -l)
full=$(grep -h 'sync 1 (start)' "$RUNS"/*.log | grep -c 'full replace')
syncs=$(grep -h '^policyd .*: sync [0-9]* ' "$RUNS"/*.log | wc -l)
later=$(grep -L 'sync 2 ' "$RUNS"/*.log | xargs -r grep -l 'sync 1 (start)' | wc -l)
before=$((KILLS - starts))
echo "    $KILLS kills in $((T1 - T0)) s: $before before the first sync was done, $later after it and before a second," \
	"$((starts - later)) later, among the stream's syncs; $syncs syncs done in all"
echo "    first syncs done: $starts, of which full replaces: $full"
sed 's/^/    /' "$NP_TMP/busy.out" "$NP_TMP/deny.out"
check "every start that synced adopted the tables (no full replace)" [ "$full" = 0 ]
check "  and so did the last one" sh -c "grep 'sync 1 (start)' '$PD_LOG' | tail -1 | grep -vq 'full replace'"
check "some kills landed before the first sync was done" [ "$before" -gt 0 ]
check "some landed among later syncs" [ "$((starts - later))" -gt 0 ]
check "the allowed connection never broke (0 errors)" \
	grep -q "roundtrips [1-9][0-9]* errors 0" "$NP_TMP/busy.out"
check "the denied prober never connected" grep -q "attempts [1-9][0-9]* connected 0$" "$NP_TMP/deny.out"
check "the last flip is enforced" pd_ctl '{"cmd":"sync","wait":true}'
check "SIGTERM exits 0" pd_stop TERM
pd_finish
