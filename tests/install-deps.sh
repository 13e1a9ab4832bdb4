#!/bin/sh
# Installs the Debian 12 packages netpol needs to build, test and demo, only when one is missing.
# clang and libclang-rt-14-dev (libFuzzer's runtime, only recommended by clang) build the fuzz
# targets (tests/fuzz).
set -e
PKGS="build-essential pkg-config libnftnl-dev libmnl-dev libjansson-dev libyaml-dev libcmocka-dev \
libnetfilter-conntrack-dev nftables iproute2 socat iperf3 iptables \
containernetworking-plugins time jq python3 libmicrohttpd-dev python3-prometheus-client curl \
podman runc busybox-static netavark clang libclang-rt-14-dev"
missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ]; then
	echo "install-deps: missing packages:$missing (run as root to install them)" >&2
	exit 1
fi
echo "install-deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends $missing >/dev/null
