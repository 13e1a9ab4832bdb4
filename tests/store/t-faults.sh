#!/bin/sh
# The store away is frozen, not broken. Three hosts, one etcd member each (lib/etcd.sh), c1
# (app=client) on h1, c2 (app=server) on h2, c3 (app=other) on h3, a policy from the store
# letting only c1 reach c2 on TCP 8080-8099, and a live TCP connection c1 -> c2 echoing every
# 10 ms throughout. Checks:
#  - one member killed: an attach goes on;
#  - two killed (no quorum): an attach fails within 10 s, with exit status 3 and a message
#    naming the store and saying existing endpoints are unaffected, and leaves nothing (no
#    interface, no record here, no key in the store once it is back); connections keep
#    working and the policy keeps denying c3; `netpol status` and /readyz say since when the
#    state is frozen and at which revision; a detach completes at once and queues its release;
#  - both restarted: attaches work again; the detach made meanwhile reaches the store (its
#    addresses free) and the other hosts (h1 drops its FDB entry); a policy change put after
#    reaches h2; the live connection never missed an echo.
. "$(dirname "$0")/../lib/netns.sh"
. "$(dirname "$0")/../lib/etcd.sh"
C1=${T}c1 C2=${T}c2 C3=${T}c3 C4=${T}c4 C5=${T}c5
mkns $C1 $C2 $C3 $C4 $C5
etcd_up
pd_start 1 --metrics 127.0.0.1:9753
pd_start 2
pd_start 3
for i in 1 2 3; do pd_ready $i || exit 1; done
check "create the overlay" q nn 1 create ov --driver overlay --vni 42 --subnet 10.99.70.0/24 \
	--subnet fd99:70::/64
check "attach c1 (app=client) on h1" q nn 1 attach ov --netns $C1 --pod default/c1 --labels app=client
check "attach c2 (app=server) on h2" q nn 2 attach ov --netns $C2 --pod default/c2 --labels app=server
check "attach c3 (app=other) on h3" q nn 3 attach ov --netns $C3 --pod default/c3 --labels app=other
A2=$(addr_of 1 ov $C2 4) A26=$(addr_of 1 ov $C2 6)

POL=$STATE/policy
mkdir -p "$POL"
server_policy() { # FROM_APP...
	{
		printf 'apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\n'
		printf 'metadata: {name: server-in, namespace: default}\nspec:\n'
		printf '  podSelector: {matchLabels: {app: server}}\n  ingress:\n  - from:\n'
		for a in "$@"; do printf '    - podSelector: {matchLabels: {app: %s}}\n' "$a"; done
		printf '    ports: [{port: 8080, endPort: 8099, protocol: TCP}]\n'
	} >"$POL/server.yaml"
}
server_policy client
check "store put the policy" q ip netns exec "$H1" "$NETPOL" store put "$POL" --store "$STORE"
denied_now() { denied "$C3" "$C2" "$A2" 8081; }
check "c3 -> c2 denied" poll 5 denied_now

ECHO=$(cd "$(dirname "$0")/../tools" && pwd)/echo.py
ip netns exec $C2 python3 "$ECHO" serve 8090 >"$STATE/run/echo-srv.log" 2>&1 &
echo $! >"$STATE/run/srv-echo.pid"
poll 5 grep -q ready "$STATE/run/echo-srv.log"
ip netns exec $C1 python3 "$ECHO" client --proto tcp --to "$A2" --port 8090 \
	--stop-file "$STATE/stop" >"$STATE/run/echo-cli.log" 2>&1 &
ECHO_CLI=$!
echo $ECHO_CLI >"$STATE/run/srv-echo-cli.pid"
check "a live connection c1 -> c2" poll 5 grep -q up "$STATE/run/echo-cli.log"

ms_since() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }
etcd_kill 1
t0=$(date +%s%N)
check "one member killed: attach c4 on h3 goes on" q nn 3 attach ov --netns $C4
echo "  (attach took $(ms_since $t0) ms, right after the kill)"
M4=$(mac_of $C4)
check "h1 learns of c4" poll 5 fdb_has 1 "$M4" 10.99.250.3

etcd_kill 2
t0=$(date +%s%N)
nn 3 attach ov --netns $C5 >"$STATE/c5.out" 2>"$STATE/c5.err"
rc=$? ms=$(ms_since $t0)
sed 's/^/  /' "$STATE/c5.err"
check "two killed: the attach fails with exit status 3 (got $rc)" [ $rc = 3 ]
check "within 10 s (it took $ms ms)" [ $ms -le 10000 ]
check "the message names the store" grep -q "the store $STORE" "$STATE/c5.err"
check "and says existing endpoints are unaffected" \
	grep -q "existing endpoints and policy are unaffected" "$STATE/c5.err"
check "no interface was left in c5" fails ip -n $C5 link show eth0
check "no record of c5 on h3" [ ! -e "$STATE/h3/endpoints/ov/$C5.json" ]
check "c1 -> c2 still connects (IPv4)" tcp $C1 $C2 "$A2" 8082
check "c1 -> c2 still connects (IPv6)" tcp $C1 $C2 "$A26" 8083
check "c3 -> c2 still denied" denied $C3 $C2 "$A2" 8084
check "c1 -> c4 (attached during the first fault) connects" tcp $C1 $C4 "$(addr_of 3 ov $C4 4)" 8085
frozen_status() {
	ip netns exec "$H1" "$NETPOL" status "$STATE/pol1" --state-dir "$STATE/h1" >"$STATE/st.out"
	grep -q "store $STORE unavailable since .* state frozen at revision [0-9]" "$STATE/st.out"
}
check "netpol status on h1 says since when it is frozen and at which revision" poll 5 frozen_status
grep "unavailable since" "$STATE/st.out" | sed 's/^/  /'
readyz() { ip netns exec "$H1" curl -s -w ' %{http_code}' http://127.0.0.1:9753/readyz; }
readyz_frozen() { readyz >"$STATE/readyz"; grep -q 'frozen at revision [0-9]' "$STATE/readyz" &&
	grep -q ' 503$' "$STATE/readyz"; }
check "/readyz on h1 says the same, 503" readyz_frozen
nn 3 detach ov --id $C4 2>"$STATE/c4.err"
rc=$?
check "a detach completes (exit 0, got $rc)" [ $rc = 0 ]
check "saying its release is queued" grep -q "is queued" "$STATE/c4.err"
check "c4's interface is gone" fails ip -n $C4 link show eth0

etcd_start 1 2
check "members back" etcd_healthy 20
pending_empty() { [ -z "$(find "$STATE/h3/pending" -name '*.json' 2>/dev/null)" ]; }
check "h3's agent sends what was queued" poll 10 pending_empty
owned_by() { etcdctl_ get --prefix /netpol/ --print-value-only | grep -q "\"$1\""; }
check "the store holds nothing of c4 (its release arrived)" fails owned_by "$C4"
check "nor of the failed attach of c5" fails owned_by "$C5"
check "h1 drops c4's FDB entry" poll 5 fdb_gone 1 "$M4"
check "attach c5 on h3 works again" q nn 3 attach ov --netns $C5
check "h1 learns of c5 by itself" poll 5 fdb_has 1 "$(mac_of $C5)" 10.99.250.3
# c5 may have c4's old address, which c1 still caches with c4's MAC (as after any reuse)
ip -n $C1 neigh flush dev eth0
check "c1 -> c5" tcp $C1 $C5 "$(addr_of 3 ov $C5 4)" 8086
server_policy client other
check "put a changed policy" q ip netns exec "$H1" "$NETPOL" store put "$POL" --store "$STORE"
check "it reaches h2: c3 -> c2 connects" poll 5 tcp $C3 $C2 "$A2" 8087
ready_again() { readyz | grep -q ' 200$'; }
check "/readyz on h1 is 200 again" poll 5 ready_again

touch "$STATE/stop"
wait $ECHO_CLI
sed 's/^/  /' "$STATE/run/echo-cli.log"
check "the live connection never missed an echo" grep -q "steady [0-9]* broken 0" "$STATE/run/echo-cli.log"
for i in 1 2 3; do check "policyd h$i exits cleanly" pd_exit_ok $i; done
finish
