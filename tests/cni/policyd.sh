# tests/cni/policyd.sh — start and stop the real policyd for the CNI tests (sourced after lib.sh).

# policyd_start NODE POLICY_DIR STATE_DIR: policyd in the node netns; returns once its control
# socket answers a status request with ok (its first sync is done)
policyd_start() {
	ip netns exec "$1" "$CNI_BUILD/policyd" --policy-dir "$2" --state-dir "$3" --metrics none \
		>"$STATE/policyd.log" 2>&1 &
	PD_PID=$!
	for i in $(seq 200); do
		python3 - "$3/policyd.sock" 2>/dev/null <<'PY' && return 0
import json, socket, sys
s = socket.socket(socket.AF_UNIX); s.settimeout(1); s.connect(sys.argv[1])
s.sendall(b'{"cmd":"status"}\n'); r = b""
while not r.endswith(b"\n"):
    r += s.recv(65536)
sys.exit(0 if json.loads(r).get("ok") else 1)
PY
		kill -0 "$PD_PID" 2>/dev/null || break
		sleep 0.05
	done
	echo "policyd did not answer; its log:"; tail -5 "$STATE/policyd.log"
	return 1
}
policyd_stop() {
	[ -n "${PD_PID:-}" ] && kill "$PD_PID" 2>/dev/null && wait "$PD_PID" 2>/dev/null
	PD_PID=""
}
# policyd_synced CID: netpol-cni's log line for the ADD of CID says policyd enforced it
policyd_synced() {
	jq -r --arg c "$1" 'select(.plugin == "netpol-cni" and .command == "ADD" and .containerID == $c) | .stderr' \
		"$CNIRUN_LOG" | grep -q "enforced by policyd"
}
