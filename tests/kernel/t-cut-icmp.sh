#!/bin/sh
# A deny cuts ICMP flows too (enforcer/lib/README.md's promise for "other protocols"): on the 9-pod
# topology, a continuous ping from x/b to x/a (ICMP echo requests every 10 ms, IPv4 and IPv6
# at once: tests/tools/echo.py --proto icmp sends what ping sends) is running when a policy
# isolating x/a for ingress is applied. From the moment `netpol apply` returns, not one more
# reply may come back: the conntrack step deletes the ICMP entries in the affected ranges, so
# the next request is judged as new, and dropped. When an apply allows x/b again, the same
# ping gets replies again, and a new ping gets through.
[ -n "$BASH_VERSION" ] || exec bash "$0" "$@"
. "$(dirname "$0")/../lib/topo.sh"
np_require_root
np_require_netpol apply
ECHO="python3 $NP_SRC/tests/tools/echo.py"
PIDS=""
fail=0
stop_all() {
	for p in $PIDS; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
	np_topo_down
}
trap stop_all EXIT
trap "exit 2" INT TERM HUP
np_topo_up || { echo "topology setup failed"; exit 1; } # ICMP needs no servers
# wait_line FILE REGEX: polls until a line of FILE matches, for 30 s at most
wait_line() {
	local end=$(( $(date +%s) + 30 ))
	until grep -qE "$2" "$1" 2>/dev/null; do
		[ "$(date +%s)" -ge "$end" ] && { echo "no '$2' in $1: $(cat "$1")"; return 1; }
		sleep 0.05
	done
}
ping_x() { # FAMILY ARGS...: echo.py's ICMP client from x/b to x/a
	local fam=$1; shift
	ip netns exec "$(np_pod_ns x/b)" $ECHO client --proto icmp --to "$(np_pod_addr x/a "$fam")" \
		--port 0 "$@"
}

np_base_inventory "$NP_TMP/allow"
cp -r "$NP_TMP/allow" "$NP_TMP/deny"
np_policy_deny_ingress x a >"$NP_TMP/deny/np-x.yaml"
np_apply "$NP_TMP/allow" || exit 1
for fam in 4 6; do
	ping_x $fam --cut-file "$NP_TMP/cut" --seconds 2 --restore-file "$NP_TMP/restore" \
		--restore-seconds 1 >"$NP_TMP/ping$fam" 2>&1 &
	PIDS="$PIDS $!"
done
for fam in 4 6; do wait_line "$NP_TMP/ping$fam" '^(up|never up)' || fail=1; done
np_apply "$NP_TMP/deny" || fail=1
touch "$NP_TMP/cut"
for fam in 4 6; do wait_line "$NP_TMP/ping$fam" '^after-cut' || fail=1; done
np_apply "$NP_TMP/allow" || fail=1
touch "$NP_TMP/restore"
for fam in 4 6; do
	wait_line "$NP_TMP/ping$fam" '^after-restore' || fail=1
	out=$(tr '\n' ' ' <"$NP_TMP/ping$fam")
	case "$out" in
	"up after-cut echoes 0 after-restore echoes "[1-9]*)
		echo "ok   IPv$fam: the running ping got no reply after the deny, and replies again after the allow ($out)" ;;
	*) echo "FAIL IPv$fam: $out"; fail=1 ;;
	esac
	if ping_x $fam --seconds 0 >"$NP_TMP/new$fam" 2>&1; then
		echo "ok   IPv$fam: a new ping gets through"
	else
		echo "FAIL IPv$fam: a new ping after the allow: $(cat "$NP_TMP/new$fam")"; fail=1
	fi
done
exit $fail
