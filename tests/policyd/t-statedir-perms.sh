#!/bin/sh
# The state directory as a trust boundary (enforcer/lib/statedir.h): policyd, netpol (net,
# apply/status/render with --state-dir, flush) and netpol-cni refuse, with an error naming the
# path and a non-zero exit, a state directory that is group- or world-writable, that belongs to
# another user, that sits in a directory others can write without the sticky bit, or that holds
# a record others can write; each starts with it fixed. What policyd creates there is 0700 and
# 0600. A record naming its pod with names no Pod object could have (a quote, a space: they name
# chains and set elements of the ruleset's text) is left out with a warning, the others merged;
# netpol-cni and netpol net attach refuse such names when they would write one. Everything runs inside a network namespace this test creates: a check that wrongly
# passed would let a program go on to program a kernel, and that kernel is a throwaway one.
[ -n "$BASH_VERSION" ] || exec bash "$0" "$@"
set -u
. "$(dirname "$0")/lib.sh"
np_require_root
CNI=$NP_BUILD/netpol-cni
NS=np-$$-sd
PID=
trap '[ -n "$PID" ] && kill -KILL "$PID" 2>/dev/null; ip netns del "$NS" 2>/dev/null; rm -rf "$T"' EXIT
trap "exit 2" INT TERM HUP
ip netns add "$NS" && ip -n "$NS" link set lo up || exit 1
T=$(mktemp -d /tmp/np-$$.XXXXXX)
S=$T/state P=$T/policies
mkdir -p "$P" "$S/endpoints/net1"
chmod 0700 "$S" "$S/endpoints" "$S/endpoints/net1"
echo '{}' >"$S/endpoints/net1/rec.json"
chmod 0600 "$S/endpoints/net1/rec.json"
in_ns() { ip netns exec "$NS" "$@"; }

# refused WHO CMD...: CMD exits non-zero and its output names the problem; it is kept in $T/out
refused() {
	local who=$1; shift
	if "$@" >"$T/out" 2>&1; then
		echo "    $who: exit 0"; return 1
	fi
	grep -Eq "writable by others|belongs to another user" "$T/out" || { sed 's/^/    /' "$T/out"; return 1; }
}
cni() { # cni COMMAND STATE: netpol-cni with a minimal configuration
	printf '{"cniVersion":"1.1.0","name":"n","type":"netpol-cni","policyDir":"%s","stateDir":"%s"}' "$P" "$2" |
		in_ns env CNI_COMMAND="$1" CNI_CONTAINERID=c1 CNI_NETNS=/run/netns/$NS CNI_IFNAME=eth0 CNI_PATH=/ "$CNI"
}
pd_once() { in_ns timeout 10 "$POLICYD" --policy-dir "$P" --state-dir "$1" --metrics none; }
every_program() { # every_program DESCRIPTION STATE: each program refuses STATE
	check "$1: policyd refuses it" refused policyd pd_once "$2"
	check "$1:   naming the path" grep -q "$3" "$T/out"
	check "$1: netpol net refuses it" refused "netpol net" in_ns "$NETPOL" net ls --state-dir "$2"
	check "$1: netpol status refuses it" refused "netpol status" in_ns "$NETPOL" status "$P" --state-dir "$2"
	check "$1: netpol-cni ADD refuses it (code 104)" cni_code ADD "$2" 104
	check "$1: netpol-cni STATUS says not ready (code 50)" cni_code STATUS "$2" 50
}
cni_code() { [ "$(cni "$1" "$2" | jq -r .code)" = "$3" ]; }

chmod 0777 "$S"
every_program "world-writable state directory" "$S" "$S (mode 0777"
cni ADD "$S" | jq -r .details | sed 's/^/    netpol-cni: /'
chmod 0770 "$S"
every_program "group-writable state directory" "$S" "$S (mode 0770"
chmod 0700 "$S"
chmod 0666 "$S/endpoints/net1/rec.json"
every_program "a record others can write" "$S" "rec.json (mode 0666"
chmod 0600 "$S/endpoints/net1/rec.json"
chmod 0777 "$T"
every_program "a parent others can write, not sticky" "$S" "$T (mode 0777"
chmod 1777 "$T"
check "a sticky parent others can write (as /tmp): netpol net accepts it" in_ns "$NETPOL" net ls --state-dir "$S"
chmod 0700 "$T"
chown 65534 "$S"
every_program "a state directory of another user" "$S" "owner uid 65534"
chown 0 "$S"

# records naming pods no Pod object could be
R=$T/records
mkdir -p -m 0700 "$R" "$R/endpoints" "$R/endpoints/n"
rec() { # rec ID NS NAME HOST_IF
	printf '{"network":"n","id":"%s","driver":"bridge","netns":"/run/netns/p","ifname":"eth0","host_ifname":"%s","addresses":["10.9.0.%s/24"],"pod":{"namespace":"%s","name":"%s"},"labels":{"app":"a"}}' \
		"$1" "$4" "${#1}" "$2" "$3" >"$R/endpoints/n/$1.json"
}
rec good default web veth1
rec badname default 'we\"b' veth2
rec badns 'Bad NS' db veth3
rec badif default api 'veth\"x'
chmod 0600 "$R"/endpoints/n/*.json
echo '{"apiVersion":"networking.k8s.io/v1","kind":"NetworkPolicy","metadata":{"name":"p","namespace":"default"},"spec":{"podSelector":{}}}' >"$P/np.json"
in_ns "$NETPOL" render "$P" --state-dir "$R" >"$T/render.out" 2>"$T/render.err"
check "netpol render with bad records exits 0" test $? = 0
sed 's/^/    /' "$T/render.err"
check "  each bad record is named in a warning" test "$(grep -c 'its pod is left out' "$T/render.err")" = 3
check "  the good one is enforced" grep -q 'ing-default/web ' "$T/render.out"
check "  no bad name reaches the text" test -z "$(grep -E 'we.b|veth.x|Bad NS|default/api' "$T/render.out")"
check "  and every line's quotes pair up" test -z "$(awk -F'"' 'NF % 2 == 0' "$T/render.out")"
rm -f "$P/np.json"
cni_args() { # cni_args CNI_ARGS: an ADD with them; prints the error code
	printf '{"cniVersion":"1.1.0","name":"n","type":"netpol-cni","policyDir":"%s","stateDir":"%s"}' "$P" "$S" |
		in_ns env CNI_COMMAND=ADD CNI_CONTAINERID=c1 CNI_NETNS=/run/netns/$NS CNI_IFNAME=eth0 \
		CNI_PATH=/ CNI_ARGS="$1" "$CNI" | jq -r .code
}
check "netpol-cni refuses K8S_POD_NAME with a quote (code 4)" test "$(cni_args 'K8S_POD_NAME=we"b')" = 4
check "  and K8S_POD_NAMESPACE that is no namespace name (code 4)" test "$(cni_args 'K8S_POD_NAMESPACE=Bad NS')" = 4
in_ns "$NETPOL" net attach n1 --netns "$NS" --pod 'default/we"b' --state-dir "$S" >"$T/attach.out" 2>&1
check "netpol net attach refuses --pod with such a name" test $? != 0
check "  saying why" grep -q "bad --pod 'default/we\"b': name may contain only" "$T/attach.out"

# fixed: policyd starts; what it creates is 0700 and 0600
rm -rf "$S/endpoints"
check "fixed: netpol net accepts it" in_ns "$NETPOL" net ls --state-dir "$S"
echo "apiVersion: v1
kind: Namespace
metadata: {name: x}" >"$P/ns.yaml"
# not through in_ns: a function run in the background is a subshell, and its PID is not policyd's
ip netns exec "$NS" "$POLICYD" --policy-dir "$P" --state-dir "$T/new" --metrics none \
	>"$T/pd.log" 2>&1 &
PID=$!
check "fixed: policyd starts and syncs" pd_wait_for grep -q "first sync done" "$T/pd.log"
modes=$(cd "$T/new" && find . -printf '%m %y %p\n' | sort -k3)
kill -TERM "$PID"; wait "$PID"; PID=
echo "$modes" | sed 's/^/    /'
has() { printf '%s\n' "$1" | grep -Eq -- "$2"; }
check "  its state directory and lkg/ are 0700" has "$modes" '^700 d \.$'
check "  lkg/ is 0700" has "$modes" '^700 d ./lkg$'
check "  its files are 0600 (last good copies, lock, socket)" \
	test -z "$(printf '%s\n' "$modes" | grep -Ev '^700 d|^600 [fs]')"
check "  the control socket among them" has "$modes" '^600 s ./policyd.sock$'
pd_finish
