#!/bin/sh
# Installs the Debian 12 packages netpol needs to build, test and demo, only when one is missing.
# clang and libclang-rt-14-dev (libFuzzer's runtime, only recommended by clang) build the fuzz
# targets (tests/fuzz).
set -e
PKGS="build-essential pkg-config libnftnl-dev libmnl-dev libjansson-dev libyaml-dev libcmocka-dev \
libnetfilter-conntrack-dev nftables iproute2 socat iperf3 iptables \
containernetworking-plugins time jq python3 libmicrohttpd-dev python3-prometheus-client curl \
podman runc busybox-static netavark clang libclang-rt-14-dev libcurl4-openssl-dev etcd-server \
etcd-client chromium"

# Debian's etcd-server enables its unit on install, which would start an etcd on the root
# namespace's 127.0.0.1:2379 at the next boot; the tests start their own members inside the
# namespaces they create and nothing else may run one. Disabled whenever it is found enabled
# (the package's upgrades enable it again).
etcd_unit_off() {
	[ "$(id -u)" = 0 ] || return 0
	dpkg-query -W -f='${Status}' etcd-server 2>/dev/null | grep -q "ok installed" || return 0
	if [ -e /etc/systemd/system/multi-user.target.wants/etcd.service ] ||
	   ls /etc/rc[2-5].d/S*etcd >/dev/null 2>&1; then
		command -v systemctl >/dev/null && systemctl disable etcd >/dev/null 2>&1 || true
		command -v update-rc.d >/dev/null && update-rc.d etcd disable >/dev/null 2>&1 || true
		echo "install-deps: etcd's own unit disabled (tests start their members in namespaces)"
	fi
}

missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
if [ -z "$missing" ]; then
	etcd_unit_off
	exit 0
fi
if [ "$(id -u)" != 0 ]; then
	echo "install-deps: missing packages:$missing (run as root to install them)" >&2
	exit 1
fi
echo "install-deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends $missing >/dev/null
etcd_unit_off
