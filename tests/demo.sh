#!/bin/sh
# make demo: netpol on a throwaway node. Builds a node netns with a bridge and 9 dual-stack pod
# netns (namespaces x, y, z x pods a, b, c), runs TCP/UDP servers on 80 and 81 in every pod,
# and prints the reachability measured by real connections beside `netpol reach`'s prediction:
# first with no policies, then after `netpol apply` of the example policies. Everything it
# creates is removed on exit.
#   NP_DEMO_DIR=DIR   the inventory to apply (default policies/demo; it must hold the Namespace
#                     and Pod objects of the 9-pod layout as well as the policies)
[ -n "$BASH_VERSION" ] || exec bash "$0" "$@"
set -u
cd "$(dirname "$0")/.." || exit 2
export NETPOL_SRC="$PWD"
. tests/lib/topo.sh

if [ "$(id -u)" != 0 ]; then echo "make demo needs root (it creates network namespaces)"; exit 1; fi
# `make demo` builds the programs only; the traffic helper is a test tool, built here if needed
[ -x "$NP_AGENT" ] || make -s --no-print-directory "${NP_AGENT#"$PWD"/}" >/dev/null
for b in "$NETPOL" "$NP_AGENT"; do
	[ -x "$b" ] || { echo "missing $b: run 'make all build/tests/np_agent' first"; exit 1; }
done
is_policy() { grep -qs 'kind: *NetworkPolicy\|"kind": *"NetworkPolicy"' "$@"; }

trap np_topo_down EXIT
trap "exit 2" INT TERM HUP # so the EXIT trap cleans up on signals too
np_topo_up || { echo "could not build the topology"; exit 1; }
np_servers_start || exit 1

DEMO=${NP_DEMO_DIR:-policies/demo}
if [ ! -d "$DEMO" ] || ! is_policy "$DEMO"/*; then
	fb=tests/data/cases/ports/1
	echo "(no example policies in $DEMO yet: using tests/data/cases/_base with the policies of $fb)"
	DEMO="$NP_TMP/demo"
	mkdir -p "$DEMO"
	cp tests/data/cases/_base/* "$DEMO/"
	find "$fb" -maxdepth 1 -type f ! -name expect -exec cp {} "$DEMO/" \;
fi

BLOCKS="TCP:80:4 TCP:80:6 TCP:81:4 TCP:81:6 UDP:80:4 UDP:80:6 UDP:81:4 UDP:81:6"
bold() { if [ -t 1 ]; then printf '\033[1m%s\033[0m\n' "$*"; else printf '%s\n' "$*"; fi; }

# show INVENTORY TITLE: measure every block, print TCP 80 IPv4 side by side, then a summary
show() {
	local inv=$1 spec p port f open agree total_dis=0
	bold "== $2"
	np_probe_blocks "$NP_TMP/m" $BLOCKS || { echo "prober failed"; return 1; }
	: >"$NP_TMP/r"
	for spec in $BLOCKS; do
		IFS=: read -r p port f <<<"$spec"
		np_reach "$inv" "$p" "$port" "$f" | awk -v s="$p $port $f" '{print s, $0}' >>"$NP_TMP/r"
	done
	echo "TCP port 80 over IPv4 (rows: from, columns: to; 1 = connects, 0 = blocked)"
	paste -d'|' <(np_matrix "$NP_TMP/m" TCP 80 4) <(np_matrix "$NP_TMP/r" TCP 80 4) |
		awk -F'|' 'NR == 1 { printf "  %-41s   %s\n", "measured by real connections", "predicted by netpol reach" }
			{ printf "  %-41s   %s\n", $1, $2 }'
	echo
	printf '  %-14s %8s %8s %s\n' flow open blocked "measured vs predicted"
	for spec in $BLOCKS; do
		IFS=: read -r p port f <<<"$spec"
		open=$(awk -v p="$p" -v o="$port" -v f="$f" 'toupper($1) == p && $2 == o && $3 == f && $6 == 1' "$NP_TMP/m" | wc -l)
		agree=$(join <(awk -v p="$p" -v o="$port" -v f="$f" 'toupper($1) == p && $2 == o && $3 == f {print $4"-"$5, $6}' "$NP_TMP/m" | sort) \
			<(awk -v p="$p" -v o="$port" -v f="$f" '$1 == p && $2 == o && $3 == f {print $4"-"$5, $6}' "$NP_TMP/r" | sort) |
			awk '$2 == $3' | wc -l)
		[ "$agree" = 81 ] || total_dis=$((total_dis + 81 - agree))
		printf '  %-14s %8d %8d %s\n' "$p $port IPv$f" "$open" $((81 - open)) \
			"$([ "$agree" = 81 ] && echo "agree on all 81 pairs" || echo "DISAGREE on $((81 - agree)) pairs")"
	done
	echo
	return $((total_dis > 0))
}

nopol="$NP_TMP/no-policies"
mkdir -p "$nopol"
for f in "$DEMO"/*; do
	[ -f "$f" ] || continue
	is_policy "$f" || cp "$f" "$nopol/"
done

rc=0
bold "netpol demo: node netns $NP_NODE, bridge br0, pods x/a ... z/c (10.200.0.N, fd00:200::N)"
echo
np_apply "$nopol" || exit 1
show "$nopol" "1. no NetworkPolicy: every pod reaches every pod" || rc=1

bold "== 2. netpol apply $DEMO"
for f in "$DEMO"/*; do
	is_policy "$f" || continue
	# the NetworkPolicy documents of a YAML file, as namespace/name
	awk -v f="$(basename "$f")" '
		function flush() { if (kind == "NetworkPolicy") printf "   %-28s (%s)\n", ns "/" name, f
				   kind = name = ""; ns = "default" }
		BEGIN { ns = "default" }
		/^---/ { flush(); next }
		/^kind:/ { kind = $2 }
		/^  name:/ { name = $2; gsub(/["\047]/, "", name) }
		/^  namespace:/ { ns = $2; gsub(/["\047]/, "", ns) }
		END { flush() }' "$f"
done
echo "   (netpol explain DIR --from NS/POD --to NS/POD --port 80/TCP says which rule decides a flow)"
np_apply "$DEMO" || exit 1
echo
show "$DEMO" "3. with the example policies" || rc=1

# why: the evaluator's reasons for one blocked and one allowed flow of the measured matrix
# (the allowed one is a flow some policy rule admits, not one nobody isolates)
blocked=$(awk '$1 == "TCP" && $2 == 80 && $3 == 4 && $6 == 0 { print $4, $5; exit }' "$NP_TMP/m")
allowed=""
while read -r p port f from to v; do
	[ "$p $port $f $v" = "TCP 80 4 1" ] && [ "$from" != "$to" ] || continue
	"$NETPOL" explain "$DEMO" --from "$from" --to "$to" --port 80/TCP | grep -q "allowed by" &&
		{ allowed="$from $to"; break; }
done <"$NP_TMP/m"
for pair in "$blocked" "$allowed"; do
	[ -n "$pair" ] || continue
	set -- $pair
	bold "== why? netpol explain $DEMO --from $1 --to $2 --port 80/TCP"
	"$NETPOL" explain "$DEMO" --from "$1" --to "$2" --port 80/TCP | sed 's/^/   /'
	echo
done
# policyd: the same directory, watched; a file written into it is enforced at once
POLICYD="$NP_BUILD/policyd"
open_pair=""  # a flow that connects because nobody isolates its destination for ingress
while read -r p port f from to v; do
	[ "$p $port $f $v" = "TCP 80 4 1" ] && [ "$from" != "$to" ] || continue
	"$NETPOL" explain "$DEMO" --from "$from" --to "$to" --port 80/TCP |
		grep -q "ingress at $to: not isolated" && { open_pair="$from $to"; break; }
done <"$NP_TMP/m"
if [ -x "$POLICYD" ] && [ -n "$open_pair" ]; then
	set -- $open_pair
	from=$1 to=$2 ns=${2%%/*}
	pdir="$NP_TMP/watched" pstate="$NP_TMP/pd-state"
	cp -r "$DEMO" "$pdir"
	bold "== 4. policyd --policy-dir DIR: write a file, and it is enforced"
	ip netns exec "$NP_NODE" "$POLICYD" --policy-dir "$pdir" --state-dir "$pstate" \
		--metrics none 2>"$NP_TMP/policyd.log" &
	pd=$!
	for i in $(seq 100); do grep -q "ready" "$NP_TMP/policyd.log" && break; sleep 0.05; done
	probe1() { echo "$(np_pod_ns "$from") $(np_pod_addr "$to" 4) tcp 80" >"$NP_TMP/p1.in"
		"$NP_AGENT" probe --timeout-ms 300 "$NP_TMP/p1.in" | awk '{print $NF}'; }
	echo "   $from -> $to TCP 80: $(probe1) (1 = connects); policyd adopted the applied tables"
	printf 'apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: demo-deny, namespace: %s}\nspec: {podSelector: {}, policyTypes: [Ingress]}\n' \
		"$ns" >"$pdir/.deny.tmp"
	echo "   mv deny.yaml into the directory (deny all ingress in namespace $ns)"
	mv "$pdir/.deny.tmp" "$pdir/deny.yaml"
	for i in $(seq 50); do [ "$(probe1)" = 0 ] && break; sleep 0.05; done
	echo "   $from -> $to TCP 80: $(probe1)"
	rm "$pdir/deny.yaml"
	echo "   rm deny.yaml"
	for i in $(seq 50); do [ "$(probe1)" = 1 ] && break; sleep 0.05; done
	echo "   $from -> $to TCP 80: $(probe1)"
	kill -TERM "$pd"; wait "$pd"
	echo "   policyd's log (one line per sync):"
	sed 's/^/     /' "$NP_TMP/policyd.log"
	echo
fi
np_node "$NETPOL" flush >/dev/null 2>&1
if [ $rc = 0 ]; then bold "the kernel enforced exactly what netpol reach predicted"; else
	bold "MISMATCH between the kernel and netpol reach (see above)"; fi
echo "(the namespaces are removed now)"
exit $rc
