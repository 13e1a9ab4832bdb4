#!/bin/sh
# A real libcni client: podman 4.3 with its CNI backend runs netpol-cni chained after the
# conflist `podman network create` writes (bridge + host-local, portmap, firewall, tuning).
# podman passes only K8S_POD_NAME (the container name), so the config's "namespace" names the
# pods' namespace, and labels come from Pod objects of those names in the policy directory.
# A policy lets only app=client into app=server: the client container fetches a page from the
# server, a container without that label cannot connect, and `podman rm` removes the endpoint.
# Everything is private: podman runs under nsenter in a node netns of this test, with its own
# containers.conf, storage (vfs), run and tmp dirs, network config dir and host-local dataDir;
# containers run busybox from a --rootfs directory with runc. (libcni's result cache,
# /var/lib/cni/results, cannot be moved in podman 4.3; its entries go on DEL.)
[ -n "$BASH_VERSION" ] || exec bash "$0" "$@"
. "$(dirname "$0")/../lib/netns.sh"
. "$(dirname "$0")/lib.sh"
for c in podman runc busybox nsenter; do
	command -v $c >/dev/null || { echo "needs $c (tests/install-deps.sh installs podman runc busybox-static)"; exit 2; }
done

P="$STATE/podman"
mkdir -p "$P/net.d" "$P/tmp" "$P/rootfs/bin"
cat >"$P/containers.conf" <<EOF
[network]
network_backend = "cni"
cni_plugin_dirs = ["$STATE/bin", "/usr/lib/cni"]
network_config_dir = "$P/net.d"
[containers]
default_ulimits = ["nofile=4096:4096", "nproc=4096:4096"]
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "$P/events.log"
tmp_dir = "$P/tmp"
EOF
export CONTAINERS_CONF="$P/containers.conf"
cp "$(command -v busybox)" "$P/rootfs/bin/"
chroot "$P/rootfs" /bin/busybox --install -s /bin
mkdir -p "$P/rootfs/etc" "$P/rootfs/proc" "$P/rootfs/sys" "$P/rootfs/dev" "$P/rootfs/tmp" "$P/rootfs/run"

cni_node_up
pm() { nsenter --net="/run/netns/$NODE" podman --root "$P/storage" --runroot "$P/runroot" \
	--storage-driver vfs "$@"; }
podman_cleanup() {
	pm rm -a -f -t 0 >/dev/null 2>&1
	pm network rm -f npnet >/dev/null 2>&1
	cleanup
}
trap podman_cleanup EXIT

check "podman uses the CNI backend" [ "$(pm info --format '{{.Host.NetworkBackend}}' 2>&1)" = cni ]
pm network create --subnet 10.99.9.0/24 --disable-dns npnet >/dev/null
f="$P/net.d/npnet.conflist"
check "podman wrote its conflist" [ -s "$f" ]
# our plugin last; leases private; no masquerade
jq --arg pol "$POL" --arg nps "$NPS" --arg ipam "$STATE/ipam" '
	.plugins[0].ipMasq = false | .plugins[0].ipam.dataDir = $ipam |
	.plugins += [{type: "netpol-cni", policyDir: $pol, stateDir: $nps, namespace: "podman",
		capabilities: {"io.kubernetes.cri.pod-annotations": true}}]' "$f" >"$f.new" && mv "$f.new" "$f"
check "conflist is 0.4.0, as podman 4.3 writes it" [ "$(jq -r .cniVersion "$f")" = 0.4.0 ]

cat >"$POL/podman.yaml" <<'EOF'
apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: Namespace
  metadata: {name: podman}
- apiVersion: v1
  kind: Pod
  metadata: {name: server, namespace: podman, labels: {app: server}}
  spec: {containers: [{name: httpd, image: busybox}]}
- apiVersion: v1
  kind: Pod
  metadata: {name: client, namespace: podman, labels: {app: client}}
  spec: {containers: [{name: wget, image: busybox}]}
- apiVersion: networking.k8s.io/v1
  kind: NetworkPolicy
  metadata: {name: server-from-client, namespace: podman}
  spec:
    podSelector: {matchLabels: {app: server}}
    ingress: [{from: [{podSelector: {matchLabels: {app: client}}}], ports: [{port: 8080}]}]
EOF

out=$(pm run -d --name server --network npnet --ip 10.99.9.50 --rootfs "$P/rootfs" \
	/bin/sh -c 'echo hello-from-server > /tmp/index.html; httpd -f -p 8080 -h /tmp & sleep 600' 2>&1)
check "podman run server (ADD through netpol-cni)" pm container exists server
[ "$(pm inspect -f '{{.State.Running}}' server 2>/dev/null)" = true ] || echo "  podman said: $out"
rec="$NPS/endpoints/npnet/$(pm inspect -f '{{.Id}}' server 2>/dev/null)-eth0.json"
check "server's endpoint recorded as pod podman/server" [ "$(jq -r '.pod.namespace + "/" + .pod.name + " " + .addresses[0]' "$rec" 2>/dev/null)" = "podman/server 10.99.9.50/24" ]
check "server is isolated in the kernel" sh -c "ip netns exec $NODE nft list map inet netpol ing4 | grep -q 10.99.9.50"
sleep 0.5 # httpd starting
got=$(pm run --rm --name client --network npnet --rootfs "$P/rootfs" \
	/bin/sh -c 'timeout 5 wget -q -O- http://10.99.9.50:8080/index.html' 2>&1)
check "client (app=client) fetches the page: '$got'" [ "$got" = hello-from-server ]
got=$(pm run --rm --name intruder --network npnet --rootfs "$P/rootfs" \
	/bin/sh -c 'timeout 3 wget -q -O- http://10.99.9.50:8080/index.html || echo blocked' 2>&1)
check "intruder (no Pod object, no labels) cannot connect: '$(echo $got)'" \
	sh -c "printf '%s' '$got' | grep -q blocked && ! printf '%s' '$got' | grep -q hello"
check "the short-lived containers' records are gone (podman ran DEL)" \
	[ "$(ls "$NPS/endpoints/npnet/" | wc -l)" = 1 ]
pm rm -f -t 0 server >/dev/null 2>&1
check "podman rm removes the endpoint record" [ ! -e "$rec" ]
check "...and the server's dispatch entry" sh -c "! ip netns exec $NODE nft list map inet netpol ing4 | grep -q 10.99.9.50"
finish
