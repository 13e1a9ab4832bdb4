#!/bin/sh
# Benchmark: CNI ADD and DEL per container, p50/p99, with the 10,000-pod / 1,000-policy cluster
# (build/tests/gen_cluster) as netpol-cni's policy directory, in a throw-away node netns:
#   - netpol-cni alone (main mode, netsetup's bridge driver), without policyd (the plugin loads
#     the cluster and applies itself: N_SELF containers) and with policyd (when built: N);
#   - the chain bridge + host-local + netpol-cni, the same two ways;
#   - the chain bridge + host-local + firewall (Debian's reference plugins), N containers;
#   - netavark setup / teardown (podman's network tool, exec'd directly with static IPs), N.
# Times are per-plugin exec times taken by tests/tools/cnirun.py around each plugin process
# (fork + exec + the plugin's work), summed over the chain; printed, never asserted.
cd "$(dirname "$0")/../.." || exit 2
SRC=$PWD
BUILD=${NETPOL_BUILD:-build}
case "$BUILD" in /*) ;; *) BUILD="$SRC/$BUILD" ;; esac
N=${N:-100} N_SELF=${N_SELF:-20}
GEN=$BUILD/tests/gen_cluster
CNIRUN=$SRC/tests/tools/cnirun.py
[ "$(id -u)" = 0 ] || { echo "cni bench: needs root"; exit 0; }
for x in "$BUILD/netpol-cni" "$GEN" /usr/lib/cni/bridge /usr/lib/cni/firewall; do
	[ -x "$x" ] || { echo "cni bench: missing $x"; exit 1; }
done
T=npc$$
TMP=$(mktemp -d /tmp/netpol-cnibench.XXXXXX)
NODE=${T}node
PD_PID=""
cleanup() {
	[ -n "$PD_PID" ] && kill "$PD_PID" 2>/dev/null && wait "$PD_PID" 2>/dev/null
	ip netns del $NODE 2>/dev/null
	for i in $(seq 1 $N); do ip netns del ${T}c$i 2>/dev/null; done
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 2' INT TERM HUP
ip netns add $NODE && ip -n $NODE link set lo up
ip netns exec $NODE sysctl -qw net.ipv6.conf.all.accept_dad=0
for i in $(seq 1 $N); do ip netns add ${T}c$i; done
"$GEN" "$TMP/cluster" --pods 10000 --namespaces 100 --policies 1000 --nodes 10 --seed 1 >/dev/null || exit 1
NODENAME=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['items'][0]['spec']['nodeName'])" \
	"$TMP/cluster/pods-ns-000.json")
echo "cluster: 10000 pods, 100 namespaces, 1000 policies; node $NODENAME; N=$N (without policyd: $N_SELF)"
mkdir -p "$TMP/bin"; ln -s "$BUILD/netpol-cni" "$TMP/bin/netpol-cni"
export CNI_PATH="$TMP/bin:/usr/lib/cni" CNIRUN_VERSION=1.0.0 CNIRUN_CACHE="$TMP/cache"

# conflist FILE NAME SUBNET LAST_PLUGIN_JSON|"" : a chain, or netpol-cni alone (main mode)
chain() {
	cat >"$1" <<EOF
{ "cniVersion": "1.0.0", "name": "$2", "plugins": [
  { "type": "bridge", "bridge": "br-$2", "isGateway": true, "ipMasq": false,
    "ipam": { "type": "host-local", "dataDir": "$TMP/ipam", "ranges": [[{"subnet": "$3"}]] } },
  $4 ] }
EOF
}
netpol_conf() { # STATE_DIR
	echo "{ \"type\": \"netpol-cni\", \"policyDir\": \"$TMP/cluster\", \"stateDir\": \"$1\", \"node\": \"$NODENAME\", \"namespace\": \"bench\", \"timeout\": 60 }"
}

# leg LABEL CONFLIST COUNT: ADD then DEL for COUNT containers; per-container sums into files
leg() {
	label=$1 conf=$2 count=$3
	[ "$count" -gt 0 ] || return 1 # (N_SELF=0: the legs without policyd are left out)
	export CNIRUN_LOG="$TMP/$label.log"
	for i in $(seq 1 "$count"); do
		CNIRUN_ARGS="IgnoreUnknown=1;K8S_POD_NAME=b$i" ip netns exec $NODE python3 "$CNIRUN" ADD "$conf" "$label-$i" /run/netns/${T}c$i eth0 >/dev/null ||
			{ echo "$label: ADD $i failed"; tail -2 "$CNIRUN_LOG"; return 1; }
	done
	for i in $(seq 1 "$count"); do
		CNIRUN_ARGS="IgnoreUnknown=1;K8S_POD_NAME=b$i" ip netns exec $NODE python3 "$CNIRUN" DEL "$conf" "$label-$i" /run/netns/${T}c$i eth0 >/dev/null ||
			{ echo "$label: DEL $i failed"; return 1; }
	done
}
# stats LABEL [PLUGIN]: p50/p99 of the per-container sums (of one plugin only, when given)
stats() {
	python3 - "$TMP/$1.log" "${2:-}" <<'EOF'
import json, sys
per = {}
for line in open(sys.argv[1]):
    e = json.loads(line)
    if sys.argv[2] and e["plugin"] != sys.argv[2]:
        continue
    per.setdefault(e["command"], {}).setdefault(e["containerID"], 0.0)
    per[e["command"]][e["containerID"]] += e["elapsed_ms"]
def pct(v, p):
    v = sorted(v); return v[min(len(v) - 1, int(round(p / 100 * (len(v) - 1))))]
out = []
for cmd in ("ADD", "DEL"):
    v = list(per.get(cmd, {}).values())
    out.append("%8.1f %8.1f" % (pct(v, 50), pct(v, 99)) if v else "%8s %8s" % ("-", "-"))
print("  ".join(out))
EOF
}
row() { printf '%-52s %s\n' "$1" "$2"; }

chain "$TMP/alone-self.conflist" alone "10.99.0.0/16" "$(netpol_conf "$TMP/st-self")"
# netpol-cni alone: a one-plugin list whose only plugin is netpol-cni in main mode
python3 - "$TMP/alone-self.conflist" <<'EOF'
import json, sys
c = json.load(open(sys.argv[1])); p = c["plugins"][1]
p.update({"driver": "bridge", "subnets": ["10.99.0.0/16"]}); c["plugins"] = [p]
json.dump(c, open(sys.argv[1], "w"))
EOF
sed "s#$TMP/st-self#$TMP/st-pd#; s#\"alone\"#\"alonepd\"#" "$TMP/alone-self.conflist" >"$TMP/alone-pd.conflist"
chain "$TMP/chain-self.conflist" chself "10.98.0.0/16" "$(netpol_conf "$TMP/st-self")"
chain "$TMP/chain-pd.conflist" chpd "10.97.0.0/16" "$(netpol_conf "$TMP/st-pd")"
chain "$TMP/chain-fw.conflist" chfw "10.96.0.0/16" '{ "type": "firewall", "backend": "iptables" }'

printf '%-52s %8s %8s  %8s %8s\n' "per container, ms" "ADD p50" "ADD p99" "DEL p50" "DEL p99"
leg alone-self "$TMP/alone-self.conflist" "$N_SELF" && row "netpol-cni alone, no policyd (applies itself)" "$(stats alone-self)"
leg chain-self "$TMP/chain-self.conflist" "$N_SELF" && {
	row "bridge + host-local + netpol-cni, no policyd" "$(stats chain-self)"
	row "  of which netpol-cni" "$(stats chain-self netpol-cni)"
}
if [ -x "$BUILD/policyd" ]; then
	mkdir -p "$TMP/st-pd"
	ip netns exec $NODE "$BUILD/policyd" --policy-dir "$TMP/cluster" --state-dir "$TMP/st-pd" \
		--node "$NODENAME" --metrics none >"$TMP/policyd.log" 2>&1 &
	PD_PID=$!
	for i in $(seq 600); do
		python3 -c "import socket,sys; s=socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.sendall(b'{\"cmd\":\"status\"}\n'); sys.exit(0 if b'true' in s.recv(65536) else 1)" \
			"$TMP/st-pd/policyd.sock" 2>/dev/null && break
		sleep 0.1
	done
	leg alone-pd "$TMP/alone-pd.conflist" "$N" && row "netpol-cni alone, policyd running" "$(stats alone-pd)"
	leg chain-pd "$TMP/chain-pd.conflist" "$N" && {
		row "bridge + host-local + netpol-cni, policyd running" "$(stats chain-pd)"
		row "  of which netpol-cni" "$(stats chain-pd netpol-cni)"
	}
	# what policyd's sync of each ADD and DEL cost (its own log: the plugin's sync requests)
	python3 - "$TMP/policyd.log" <<'EOF'
import re, sys
steps = ("merge", "build", "diff", "kernel", "conntrack", "total")
v = {k: [] for k in steps}
for line in open(sys.argv[1]):
    if "(sync request)" not in line:
        continue
    for k in steps:
        m = re.search(k + r" ([0-9.]+) ms", line)
        if m:
            v[k].append(float(m.group(1)))
def pct(a, p):
    a = sorted(a); return a[min(len(a) - 1, int(round(p / 100 * (len(a) - 1))))] if a else 0
if v["total"]:
    print("  policyd's syncs for them (%d), p50/p99 ms: %s" % (len(v["total"]), ", ".join(
        "%s %.1f/%.1f" % (k, pct(v[k], 50), pct(v[k], 99)) for k in steps)))
EOF
else
	row "netpol-cni with policyd" "(no $BUILD/policyd: not measured)"
fi
leg chain-fw "$TMP/chain-fw.conflist" "$N" && {
	row "bridge + host-local + firewall (reference)" "$(stats chain-fw)"
	row "  of which firewall" "$(stats chain-fw firewall)"
}

NV=/usr/lib/podman/netavark
if [ -x "$NV" ] && command -v podman >/dev/null; then
	mkdir -p "$TMP/nv/net"
	cat >"$TMP/nv/containers.conf" <<EOF
[network]
network_backend = "netavark"
network_config_dir = "$TMP/nv/net"
EOF
	CONTAINERS_CONF="$TMP/nv/containers.conf" nsenter --net=/run/netns/$NODE podman \
		--root "$TMP/nv/storage" --runroot "$TMP/nv/run" --storage-driver vfs \
		network create --subnet 10.95.0.0/16 --disable-dns benchnv >/dev/null
	python3 - "$TMP" "$N" "$T" "$NODE" "$NV" <<'EOF'
import json, subprocess, sys, time
tmp, n, t, node, nv = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
net = json.load(open(tmp + "/nv/net/benchnv.json"))
times = {"setup": [], "teardown": []}
for cmd in ("setup", "teardown"):
    for i in range(1, n + 1):
        opts = {"container_id": "nv%d" % i, "container_name": "nv%d" % i, "port_mappings": None,
                "dns_servers": None,
                "networks": {"benchnv": {"static_ips": ["10.95.%d.%d" % (i // 250, i % 250 + 2)],
                                         "interface_name": "eth0"}},
                "network_info": {"benchnv": net}}
        f = "%s/nv/opts%d.json" % (tmp, i)
        json.dump(opts, open(f, "w"))
        t0 = time.monotonic()
        p = subprocess.run(["ip", "netns", "exec", node, nv, "-f", f, cmd, "/run/netns/%sc%d" % (t, i)],
                           capture_output=True)
        # ip netns exec is not part of netavark's cost: measured separately below
        times[cmd].append((time.monotonic() - t0) * 1000)
        if p.returncode:
            print("netavark %s failed: %s" % (cmd, p.stderr.decode()[:200])); sys.exit(1)
t0 = time.monotonic()
for i in range(20):
    subprocess.run(["ip", "netns", "exec", node, "true"])
base = (time.monotonic() - t0) * 1000 / 20
def pct(v, p):
    v = sorted(v); return v[min(len(v) - 1, int(round(p / 100 * (len(v) - 1))))] - base
print("%-52s %8.1f %8.1f  %8.1f %8.1f" % ("netavark setup / teardown (direct exec)", pct(times["setup"], 50),
      pct(times["setup"], 99), pct(times["teardown"], 50), pct(times["teardown"], 99)))
EOF
else
	row "netavark" "(not installed: not measured)"
fi
