#!/bin/sh
# policyd enforces what its directory says, by real connections in the 9-pod harness: writing a
# policy file isolates, editing it changes what passes, deleting it removes the isolation; a Pod
# file added later and pods attached with `netpol net attach --pod --labels` (endpoint records
# in the state directory) are enforced with no restart and no apply call. While policyd runs,
# `netpol apply` by hand says who owns the ruleset, and `netpol status` asks policyd.
[ -n "$BASH_VERSION" ] || exec bash "$0" "$@"
set -u
. "$(dirname "$0")/lib.sh"
pd_setup
rm "$PD_DIR/pod-x-a.yaml" # x/a joins later, as a new Pod file
check "policyd starts on the base inventory" pd_start
check "no policy: y/a -> x/b connects" expect_conn y/a x/b 1

policy np x | put "$PD_DIR/np-x.yaml"
check "policy written (rename into place): y/a -> x/b blocked" expect_conn y/a x/b 0
check "  x/c -> x/b blocked too (default deny)" expect_conn x/c x/b 0
check "  x/a has no Pod object yet: not isolated" expect_conn y/a x/a 1

policy np x '[{podSelector: {}}]' | put "$PD_DIR/np-x.yaml"
check "policy edited to allow its own namespace: x/c -> x/b connects" expect_conn x/c x/b 1
check "  y/a -> x/b still blocked" expect_conn y/a x/b 0

cp "$NP_SRC/tests/data/cases/_base/pod-x-a.yaml" "$PD_DIR/.pod" && mv "$PD_DIR/.pod" "$PD_DIR/pod-x-a.yaml"
check "new Pod file x/a: y/a -> x/a blocked" expect_conn y/a x/a 0
check "  x/b -> x/a connects (same namespace)" expect_conn x/b x/a 1

# Endpoints attached by netsetup: a second bridge network in the node netns, two pods, one
# in namespace x (isolated by the policy), one in y (not).
NPS="np $NP_NODE"
np_node "$NETPOL" net create web --driver bridge --subnet 10.201.0.0/24 --state-dir "$PD_STATE" \
	>"$NP_TMP/net.log" 2>&1 || { cat "$NP_TMP/net.log"; exit 1; }
for p in xn yn; do
	ip netns add "$NP_PFX-$p" && PD_NSES="$PD_NSES $NP_PFX-$p"
	ip -n "$NP_PFX-$p" link set lo up
done
np_node "$NETPOL" net attach web --netns "$NP_PFX-xn" --pod x/n --labels app=n \
	--state-dir "$PD_STATE" >>"$NP_TMP/net.log" 2>&1 &&
np_node "$NETPOL" net attach web --netns "$NP_PFX-yn" --pod y/n --labels app=n \
	--state-dir "$PD_STATE" >>"$NP_TMP/net.log" 2>&1 || { cat "$NP_TMP/net.log"; exit 1; }
addr_of() { np_node "$NETPOL" net inspect web --state-dir "$PD_STATE" |
	jq -r --arg id "$1" '.[0].Containers[$id].IPv4Address | sub("/.*"; "")'; }
XN=$(addr_of "$NP_PFX-xn") YN=$(addr_of "$NP_PFX-yn")
for p in xn yn; do
	pd_bg ip netns exec "$NP_PFX-$p" "$NP_AGENT" serve --ports 80 >"$NP_TMP/serve-$p.log" 2>&1
done
sleep 0.3
rawprobe() { # FROM_POD ADDR -> 1|0
	echo "$(np_pod_ns "$1") $2 tcp 80" >"$NP_TMP/p2.in"
	"$NP_AGENT" probe --timeout-ms 400 "$NP_TMP/p2.in" | awk '{print $NF}'
}
expect_raw() { # FROM_POD ADDR WANT
	local end=$(( $(date +%s) + PD_DEADLINE ))
	while [ "$(rawprobe "$1" "$2")" != "$3" ]; do
		[ "$(date +%s)" -ge "$end" ] && { np_log "  $1 -> $2: not $3"; return 1; }
		sleep 0.1
	done
}
check "attached pod y/n (namespace y, no policy) is reached from y/a" expect_raw y/a "$YN" 1
check "attached pod x/n (--pod x/n --labels app=n) is isolated: y/a blocked" expect_raw y/a "$XN" 0
check "  x/b -> x/n connects (its namespace is allowed)" expect_raw x/b "$XN" 1

np_node "$NETPOL" apply "$PD_DIR" >"$NP_TMP/apply.out" 2>&1; RC=$?
sed 's/^/    /' "$NP_TMP/apply.out"
check "netpol apply by hand fails while policyd owns the ruleset" [ "$RC" != 0 ]
check "  and says policyd owns it and how to change it" \
	sh -c "grep -q 'policyd' '$NP_TMP/apply.out' && grep -q 'reload' '$NP_TMP/apply.out'"
check "  (the kernel's EPERM only once, as a detail)" \
	[ "$(grep -c 'Operation not permitted' "$NP_TMP/apply.out")" -le 1 ]
np_node "$NETPOL" status "$PD_DIR" --state-dir "$PD_STATE" >"$NP_TMP/status.out" 2>&1
head -3 "$NP_TMP/status.out" | sed 's/^/    /'
check "netpol status reports policyd over the control socket" \
	grep -q "^policyd: pid $PD_PID, generation [0-9]*, tables owner+persist, ready" \
	"$NP_TMP/status.out"

rm "$PD_DIR/np-x.yaml"
check "policy deleted: y/a -> x/b connects again" expect_conn y/a x/b 1
check "  y/a -> x/a connects" expect_conn y/a x/a 1
check "  y/a -> x/n connects" expect_raw y/a "$XN" 1
check "policyd exits 0 on SIGTERM" pd_stop TERM
check "  and leaves its tables in force" sh -c "ip netns exec $NP_NODE nft list tables | grep -q 'inet netpol'"
pd_finish
