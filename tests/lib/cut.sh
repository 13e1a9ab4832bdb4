# tests/lib/cut.sh — "a deny cuts live connections, every time, and nothing else" (sourced after
# tests/lib/topo.sh, never run on its own; cut_main runs it and exits). On the 9-pod topology, a
# two-way echo connection x/b -> x/a (one TCP connection, or one UDP request/response flow,
# sending every 10 ms) is running when a policy isolating x/a for ingress is applied; from the
# moment the change is in the kernel, not one more echo may come back on it. The four
# connections of a trial, TCP and UDP over IPv4 and IPv6, run at once and one change cuts them
# all. The race this guards against: with the entry merely deleted, x/a's retransmission (or a
# UDP response in flight) was picked up as a new flow x/a -> x/b, which policy allows, and the
# connection went on for ever in reverse. A genuinely new connection x/a -> x/b (allowed) must
# still work after each cut; a cut connection that policy allows again works again on the same
# socket; and long-lived connections y/b -> y/a (TCP over IPv4, UDP over IPv6; y/a is isolated
# too, but allows y/b) must never miss an echo during all those changes.
#
# Set before cut_main:
#   NP_CUT_VIA     apply (default): `netpol apply` in the node; policyd: files renamed into a
#                  directory policyd watches, then a `sync` request that returns once the kernel
#                  has the commit
#   NP_CUT_TRIALS  trials (default 10)
#   NP_CUT_ADMIN   set: the deny is an Admin-tier Deny whose peer set x/b joins by a label
#                  change (a set gaining an address, not a new isolation)
#   NP_CUT_NOISE   N > 0: before the trials, N unrelated conntrack entries are made in the node
#                  netns (unreplied UDP flows toward an address no pod has), and must all still
#                  be there after them
# Used by tests/kernel/t-cut.sh, tests/kernel/t-cut-admin.sh and tests/policyd/t-cut.sh.

ECHO="python3 $NP_SRC/tests/tools/echo.py"
TRIALS=${NP_CUT_TRIALS:-10}
VIA=${NP_CUT_VIA:-apply}
FLOWS="tcp:4 udp:4 tcp:6 udp:6"
fail=0 PIDS="" PD_PID="" STEADY=""
cut=0 survived=0 rev_ok=0 rev_bad=0

stop_all() {
	[ -n "$PD_PID" ] && { kill "$PD_PID" 2>/dev/null; wait "$PD_PID" 2>/dev/null; }
	for p in $PIDS; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
	np_topo_down
}

ctl() { python3 "$NP_SRC/tests/tools/pdtool.py" ctl "$NP_TMP/pdstate/policyd.sock" "$1"; }

# cut_apply DIR: put DIR in force. Through policyd: make its directory hold DIR's files (each
# one that differs renamed into place, the others removed), then wait for the commit that
# includes them.
cut_apply() {
	local f
	[ "$VIA" = policyd ] || { np_apply "$1"; return; }
	for f in "$1"/*; do
		cmp -s "$f" "$NP_TMP/pd/${f##*/}" ||
			{ cp "$f" "$NP_TMP/pd/.tmp" && mv "$NP_TMP/pd/.tmp" "$NP_TMP/pd/${f##*/}"; }
	done
	for f in "$NP_TMP/pd"/*; do [ -e "$1/${f##*/}" ] || rm -f "$f"; done
	ctl '{"cmd":"sync","wait":true}' >"$NP_TMP/sync.out" 2>&1
	grep -q '"ok":true' "$NP_TMP/sync.out" && return 0
	echo "policyd sync failed: $(cat "$NP_TMP/sync.out")"; tail -5 "$NP_TMP/policyd.log"
	return 1
}

# cut_echo_servers: echo.py servers on port 90 in x/a, x/b and y/a
cut_echo_servers() {
	local p i
	for p in x/a x/b y/a; do
		ip netns exec "$(np_pod_ns $p)" $ECHO serve 90 >"$NP_TMP/echo-$(np_pod_short $p).log" 2>&1 &
		PIDS="$PIDS $!"
	done
	for p in xa xb ya; do
		for i in $(seq 100); do grep -q ready "$NP_TMP/echo-$p.log" && break; sleep 0.05; done
		grep -q ready "$NP_TMP/echo-$p.log" || { echo "echo server in $p did not start"; exit 1; }
	done
}

# cut_inventories: $NP_TMP/allow and $NP_TMP/deny. ALLOW: y/a isolated for ingress, y/b allowed
# in. DENY: the same, and x/a isolated with no ingress rule (or, with NP_CUT_ADMIN, x/b under
# an Admin-tier Deny on x/a's ingress).
cut_inventories() {
	local d
	np_base_inventory "$NP_TMP/allow"
	cat >"$NP_TMP/allow/np-y.yaml" <<'Y'
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: a-from-b, namespace: y}
spec:
  podSelector: {matchLabels: {pod: a}}
  ingress:
  - from: [{podSelector: {matchLabels: {pod: b}}}]
Y
	cp -r "$NP_TMP/allow" "$NP_TMP/deny"
	np_policy_deny_ingress x a >"$NP_TMP/deny/np-x.yaml"
	[ -n "${NP_CUT_ADMIN:-}" ] || return 0
	# the admin tiers: the deny is an Admin-tier Deny that x/b falls under when it is
	# relabelled role=blocked: an address joining the peer set of a Deny rule
	rm "$NP_TMP/deny/np-x.yaml"
	for d in allow deny; do
		cat >"$NP_TMP/$d/cnp-guard.yaml" <<'Y'
apiVersion: policy.networking.k8s.io/v1alpha2
kind: ClusterNetworkPolicy
metadata: {name: guard}
spec:
  tier: Admin
  priority: 1
  subject: {pods: {podSelector: {matchLabels: {pod: a}}}}
  ingress:
  - action: Deny
    from: [{pods: {podSelector: {matchLabels: {role: blocked}}}}]
Y
	done
	# z/c is blocked from the start, so the Deny rule and its set exist before x/b joins
	for d in allow deny; do
		sed -i 's/^\(\s*\)pod: c$/\1pod: c\n\1role: blocked/' "$NP_TMP/$d/pod-z-c.yaml"
	done
	sed 's/^\(\s*\)pod: b$/\1pod: b\n\1role: blocked/' "$NP_TMP/allow/pod-x-b.yaml" >"$NP_TMP/deny/pod-x-b.yaml"
	grep -q 'role: blocked' "$NP_TMP/deny/pod-x-b.yaml" "$NP_TMP/allow/pod-z-c.yaml" ||
		{ echo "cannot relabel x/b and z/c"; exit 1; }
}

# cut_policyd_start: policyd in the node netns watching $NP_TMP/pd, which starts as ALLOW
cut_policyd_start() {
	local i
	POLICYD=${POLICYD:-$NP_BUILD/policyd}
	[ -x "$POLICYD" ] || { echo "missing $POLICYD"; exit 2; }
	mkdir -p "$NP_TMP/pd" "$NP_TMP/pdstate"
	cp "$NP_TMP/allow"/* "$NP_TMP/pd/"
	ip netns exec "$NP_NODE" "$POLICYD" --policy-dir "$NP_TMP/pd" --state-dir "$NP_TMP/pdstate" \
		--metrics none >"$NP_TMP/policyd.log" 2>&1 &
	PD_PID=$!
	for i in $(seq 200); do
		ctl '{"cmd":"status"}' 2>/dev/null | grep -q '"synced":true' && break
		sleep 0.1
	done
	ctl '{"cmd":"status"}' 2>/dev/null | grep -q '"synced":true' ||
		{ echo "policyd did not start"; cat "$NP_TMP/policyd.log"; exit 1; }
}

# cut_noise N: N unreplied UDP flows from the node netns toward 192.0.2.77 (on the node's lo;
# no pod has it), kept by the netns's own UDP timeout (10 min): conntrack entries that no
# change concerns. NOISE holds how many the netns had after.
cut_noise() {
	ip -n "$NP_NODE" addr add 192.0.2.77/32 dev lo || return 1
	ip netns exec "$NP_NODE" sysctl -qw net.netfilter.nf_conntrack_udp_timeout=600 || return 1
	ip netns exec "$NP_NODE" python3 -c "
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for i in range(int(sys.argv[1])):
    s.sendto(b'x', ('192.0.2.77', 1024 + i % 64000))
    if i % 64000 == 63999:
        s.close(); s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
" "$1" || return 1
	NOISE=$(ip netns exec "$NP_NODE" cat /proc/sys/net/netfilter/nf_conntrack_count)
	echo "conntrack: $NOISE entries in the node netns ($1 of them unrelated)"
	[ "$NOISE" -ge "$1" ]
}

# cut_noise_check N: the unrelated entries are all still there
cut_noise_check() {
	local now
	now=$(ip netns exec "$NP_NODE" cat /proc/sys/net/netfilter/nf_conntrack_count)
	echo "conntrack: $now entries in the node netns after the trials"
	[ "$now" -ge "$1" ] || { echo "FAIL unrelated conntrack entries were removed"; fail=1; }
	[ "$VIA" = policyd ] && grep -o 'conntrack [0-9.]* ms ([0-9]* judged[^)]*)' "$NP_TMP/policyd.log" |
		sort -t' ' -k2 -n | tail -1 | sed 's/^/the slowest conntrack step: /'
}

# cut_steady_start: the connections y/b -> y/a that must never break
cut_steady_start() {
	ip netns exec "$(np_pod_ns y/b)" $ECHO client --proto tcp --to "$(np_pod_addr y/a 4)" --port 90 \
		--stop-file "$NP_TMP/stop" >"$NP_TMP/steady-tcp4" 2>&1 &
	STEADY="$!"
	ip netns exec "$(np_pod_ns y/b)" $ECHO client --proto udp --to "$(np_pod_addr y/a 6)" --port 90 \
		--stop-file "$NP_TMP/stop" >"$NP_TMP/steady-udp6" 2>&1 &
	STEADY="$STEADY $!"
	PIDS="$PIDS $STEADY"
}

wait_up() { # FILE
	for i in $(seq 200); do grep -q '^up' "$1" 2>/dev/null && return 0; grep -q 'never up' "$1" 2>/dev/null && break; sleep 0.05; done
	return 1
}

# cut_trial T: the four connections x/b -> x/a (TCP and UDP, IPv4 and IPv6) at once: one deny
# cuts all four, each judged on its own echoes, so a trial costs one change, not four. Returns
# 1 when a change could not be made (the trials stop).
cut_trial() {
	local t=$1 pf proto fam out
	cut_apply "$NP_TMP/allow" || { fail=1; return 1; }
	rm -f "$NP_TMP/cut"
	declare -A CPID=()
	for pf in $FLOWS; do
		proto=${pf%:*} fam=${pf#*:}
		ip netns exec "$(np_pod_ns x/b)" $ECHO client --proto $proto \
			--to "$(np_pod_addr x/a $fam)" --port 90 --cut-file "$NP_TMP/cut" \
			--seconds 1 >"$NP_TMP/trial-$proto$fam-$t" 2>&1 &
		CPID[$pf]=$!
	done
	for pf in $FLOWS; do
		proto=${pf%:*} fam=${pf#*:}
		out="$NP_TMP/trial-$proto$fam-$t"
		wait_up "$out" && continue
		echo "$proto IPv$fam trial $t: the connection x/b -> x/a never came up"; cat "$out"
		kill "${CPID[$pf]}" 2>/dev/null; fail=1
	done
	cut_apply "$NP_TMP/deny" || { fail=1; kill "${CPID[@]}" 2>/dev/null; return 1; }
	touch "$NP_TMP/cut"
	for pf in $FLOWS; do
		proto=${pf%:*} fam=${pf#*:}
		out="$NP_TMP/trial-$proto$fam-$t"
		wait "${CPID[$pf]}"
		if grep -q '^after-cut echoes 0$' "$out"; then
			cut=$((cut + 1))
		elif grep -q '^after-cut' "$out"; then
			survived=$((survived + 1)); fail=1
			echo "$proto IPv$fam trial $t: the connection survived the deny: $(tail -n1 "$out")"
			np_node conntrack -L 2>/dev/null | grep -i "port=90" | head -3
		fi
	done
	# x/a -> x/b is allowed (x/a's egress and x/b's ingress are not isolated): new connections,
	# all four at once
	for pf in $FLOWS; do
		proto=${pf%:*} fam=${pf#*:}
		ip netns exec "$(np_pod_ns x/a)" $ECHO client --proto $proto \
			--to "$(np_pod_addr x/b $fam)" --port 90 --seconds 0 >"$NP_TMP/rev-$proto$fam-$t" 2>&1 &
		CPID[$pf]=$!
	done
	for pf in $FLOWS; do
		proto=${pf%:*} fam=${pf#*:}
		if wait "${CPID[$pf]}"; then
			rev_ok=$((rev_ok + 1))
		else
			rev_bad=$((rev_bad + 1)); fail=1
			echo "$proto IPv$fam trial $t: new connection x/a -> x/b failed: $(cat "$NP_TMP/rev-$proto$fam-$t")"
		fi
	done
	echo "trial $t: TCP and UDP, IPv4 and IPv6: done"
}

# cut_restore: a cut connection that policy allows again works again (its mark is cleared), on
# the same socket: TCP over IPv4 and UDP over IPv6, both in one round
cut_restore() {
	local pf proto fam out
	cut_apply "$NP_TMP/allow" || fail=1
	rm -f "$NP_TMP/cut" "$NP_TMP/restore"
	declare -A CPID=()
	for pf in tcp:4 udp:6; do
		proto=${pf%:*} fam=${pf#*:}
		ip netns exec "$(np_pod_ns x/b)" $ECHO client --proto $proto --to "$(np_pod_addr x/a $fam)" \
			--port 90 --cut-file "$NP_TMP/cut" --seconds 1 --restore-file "$NP_TMP/restore" \
			--restore-seconds 6 >"$NP_TMP/restore-$proto$fam" 2>&1 &
		CPID[$pf]=$!
	done
	for pf in tcp:4 udp:6; do
		wait_up "$NP_TMP/restore-${pf%:*}${pf#*:}" && continue
		echo "restore $pf: never up"; fail=1; kill "${CPID[$pf]}" 2>/dev/null
	done
	cut_apply "$NP_TMP/deny" || fail=1
	touch "$NP_TMP/cut"
	for pf in tcp:4 udp:6; do
		out="$NP_TMP/restore-${pf%:*}${pf#*:}"
		while kill -0 "${CPID[$pf]}" 2>/dev/null && ! grep -q after-cut "$out"; do sleep 0.05; done
	done
	cut_apply "$NP_TMP/allow" || fail=1
	touch "$NP_TMP/restore"
	for pf in tcp:4 udp:6; do
		proto=${pf%:*} fam=${pf#*:}
		out="$NP_TMP/restore-$proto$fam"
		wait "${CPID[$pf]}"
		if grep -q '^after-cut echoes 0$' "$out" && grep -q '^after-restore echoes [1-9]' "$out"; then
			echo "restore $proto IPv$fam: cut, then the same connection works again ($(tail -n1 "$out"))"
		else
			echo "restore $proto IPv$fam: wrong: $(tr '\n' ' ' <"$out")"; fail=1
		fi
	done
}

# cut_steady_check: the y/b -> y/a connections saw every echo through every change
cut_steady_check() {
	local p f res
	touch "$NP_TMP/stop"
	for p in $STEADY; do wait "$p"; done
	for f in steady-tcp4 steady-udp6; do
		res=$(tail -n1 "$NP_TMP/$f")
		case "$res" in
		"steady "*" broken 0") echo "$f (y/b -> y/a) through every apply: $res" ;;
		*) echo "$f (y/b -> y/a) broke: $res"; fail=1 ;;
		esac
	done
}

cut_main() {
	local t
	np_start_node apply
	trap stop_all EXIT
	cut_echo_servers
	cut_inventories
	[ "$VIA" != policyd ] || cut_policyd_start
	cut_apply "$NP_TMP/allow" || exit 1
	if [ "${NP_CUT_NOISE:-0}" -gt 0 ]; then
		cut_noise "$NP_CUT_NOISE" || { echo "could not make $NP_CUT_NOISE conntrack entries"; exit 1; }
	fi
	cut_steady_start
	for t in $(seq "$TRIALS"); do
		cut_trial "$t" || break
	done
	cut_restore
	cut_steady_check
	[ "${NP_CUT_NOISE:-0}" -gt 0 ] && cut_noise_check "$NP_CUT_NOISE"
	echo "via $VIA: cut $cut of $((cut + survived)) live connections; new reverse connections $rev_ok ok, $rev_bad failed"
	[ $((cut + survived)) = $((TRIALS * 4)) ] || { echo "expected $((TRIALS * 4)) trials"; fail=1; }
	exit $fail
}
