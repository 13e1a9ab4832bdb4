#!/bin/sh
# The recipe gallery's reach tables, by real packets: every `### \`FILE\`` section of
# policies/README.md names the recipe files it applies ("Reach with `a.yaml` and `b.yaml`") and
# holds a table of which pod reaches which destination on which port. This reads those tables
# from the README itself, builds the cluster of tests/data/recipes (five pods in four
# namespaces on a node's bridge, and the outside addresses `internet` and `metadata` in a netns
# of their own, routed through the node), and for each section applies the cluster and the
# recipes with `netpol apply` in the node (status must find it in sync), then opens every
# cell's connection over IPv4 and IPv6 at once (TCP connect, UDP echo). Every cell must do what
# the table says, and the evaluator must say the same: `netpol reach` for the pods, `netpol
# explain` for the outside addresses. Before any policy every cell connects, so a ✗ can only
# come from the recipe. Every file in policies/recipes must have a section, and `netpol check`
# must accept each inventory and the recipe folder as a whole.
[ -n "$BASH_VERSION" ] || exec bash "$0" "$@"
set -u
. "$(dirname "$0")/../lib/topo.sh"
RECIPES="$NP_SRC/policies/recipes"
README="$NP_SRC/policies/README.md"
DATA="$NP_SRC/tests/data/recipes"
np_topo_load "$DATA/topology"
export NP_SERVE_PORTS=53,80
# a blocked probe waits 400 ms: every path is one bridge or one routed hop away, and the
# baseline shows each of them connecting before any policy
export NP_TIMEOUT_MS=${NP_TIMEOUT_MS:-400}

# The outside: one netns behind the node (a veth, 10.201.0.0/24 and fd00:201::/64), holding
# the test's stand-ins for an internet address and the cloud metadata service on its lo. They
# exist only in this netns; the node routes them there.
EXT="$NP_PFX-ext"
declare -A EXT_A4=([internet]=192.0.2.80 [metadata]=169.254.169.254)
declare -A EXT_A6=([internet]=2001:db8::80 [metadata]=fd00:ec2::254)
declare -A SHORT2POD=()
for p in $NP_PODS; do SHORT2POD[$(np_pod_short "$p")]=$p; done

# parse_readme OUT: the README's sections as lines "R N FILE" (section N is recipe FILE),
# "A N FILE..." (the files its table is measured with) and "C N FROM TO PORT PROTO 1|0|?" (one
# per cell; a header cell is "NAME PORT[/PROTO]", TCP unless named).
parse_readme() {
	awk '
	function trim(s) { sub(/^[ \t]+/, "", s); sub(/[ \t]+$/, "", s); return s }
	/^### `[^`]+\.yaml`/ {
		match($0, /`[^`]+`/); n++; intable = 0
		print "R", n, substr($0, RSTART + 1, RLENGTH - 2); next
	}
	n && /^Reach with / {
		s = $0; files = ""
		while (match(s, /`[^`]+\.yaml`/)) {
			files = files " " substr(s, RSTART + 1, RLENGTH - 2); s = substr(s, RSTART + RLENGTH)
		}
		print "A", n files; next
	}
	n && /^\|/ {
		line = $0; sub(/^\|/, "", line); sub(/\|[ \t]*$/, "", line)
		nc = split(line, cell, "|")
		for (i = 1; i <= nc; i++) cell[i] = trim(cell[i])
		if (!intable) { intable = 1; for (i = 2; i <= nc; i++) col[i] = cell[i]; ncol = nc; next }
		if (cell[1] ~ /^-+$/) next
		if (nc != ncol) { print "E", n, "row " cell[1] " has " nc " cells, the header " ncol; next }
		for (i = 2; i <= nc; i++) {
			split(col[i], h, " "); port = h[2]; proto = "TCP"
			if (port ~ /\//) { proto = substr(port, index(port, "/") + 1); port = substr(port, 1, index(port, "/") - 1) }
			v = cell[i] == "✓" ? 1 : cell[i] == "✗" ? 0 : "?"
			print "C", n, cell[1], h[1], port, toupper(proto), v
		}
		next
	}
	{ intable = 0 }' "$README"
}

# NS[NAME]: the netns a pod's probes start in; ADDR[NAME FAMILY]: a pod's or outside name's
# address (computed once: the probe and evaluator lists are built without a subshell per cell)
declare -A NS=() ADDR=()
for p in $NP_PODS; do
	s=$(np_pod_short "$p"); NS[$s]=$(np_pod_ns "$p")
	ADDR[$s 4]=$(np_pod_addr "$p" 4); ADDR[$s 6]=$(np_pod_addr "$p" 6)
done
for s in internet metadata; do ADDR[$s 4]=${EXT_A4[$s]} ADDR[$s 6]=${EXT_A6[$s]}; done
known() { [ -n "${ADDR[$1 4]:-}" ]; }

# check_readme PARSED: every recipe file has a section whose table is complete and names only
# known pods and files; prints what is wrong, returns 1 then
check_readme() {
	local bad=0 f n rec files name
	awk '$1 == "E" { $1 = ""; print "README, section" $0 }' "$1" | grep . && bad=1
	for f in "$RECIPES"/*.yaml; do
		grep -q "^R [0-9]* ${f##*/}$" "$1" || { echo "README: no section for recipes/${f##*/}"; bad=1; }
	done
	while read -r _ n rec; do
		files=$(awk -v n="$n" '$1 == "A" && $2 == n { $1 = $2 = ""; print }' "$1")
		[ -n "$files" ] || { echo "README, $rec: no \"Reach with\" line"; bad=1; continue; }
		case " $files " in *" $rec "*) ;; *) echo "README, $rec: its table is not measured with it"; bad=1 ;; esac
		for f in $files; do [ -f "$RECIPES/$f" ] || { echo "README, $rec: no recipes/$f"; bad=1; }; done
		[ "$(awk -v n="$n" '$1 == "C" && $2 == n' "$1" | wc -l)" -gt 0 ] || { echo "README, $rec: no table"; bad=1; }
	done < <(awk '$1 == "R"' "$1")
	while read -r _ n from to port proto want; do
		for name in "$from" "$to"; do known "$name" || { echo "README, section $n: unknown name $name"; bad=1; }; done
		[ "$want" != "?" ] || { echo "README, section $n: $from -> $to $port/$proto is neither ✓ nor ✗"; bad=1; }
	done < <(awk '$1 == "C"' "$1")
	return $bad
}

ext_up() {
	local i
	ip netns add "$EXT" || return 1
	ip -n "$EXT" link set lo up
	ip netns exec "$EXT" sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0
	np_node ip link add veth-ext type veth peer name eth0 netns "$EXT" || return 1
	np_node ip addr add 10.201.0.1/24 dev veth-ext
	np_node ip addr add fd00:201::1/64 dev veth-ext nodad
	np_node ip link set veth-ext up
	ip -n "$EXT" addr add 10.201.0.2/24 dev eth0
	ip -n "$EXT" addr add fd00:201::2/64 dev eth0 nodad
	ip -n "$EXT" link set eth0 up
	ip -n "$EXT" route add default via 10.201.0.1
	ip -n "$EXT" -6 route add default via fd00:201::1
	for i in internet metadata; do
		ip -n "$EXT" addr add "${EXT_A4[$i]}/32" dev lo
		ip -n "$EXT" addr add "${EXT_A6[$i]}/128" dev lo
		np_node ip route add "${EXT_A4[$i]}/32" via 10.201.0.2
		np_node ip -6 route add "${EXT_A6[$i]}/128" via fd00:201::2
	done
	np_node sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
	ip netns exec "$EXT" "$NP_AGENT" serve --ports 80 >"$NP_TMP/serve-ext.log" 2>&1 &
	NP_SERVER_PIDS="$NP_SERVER_PIDS $!"
	for i in $(seq 100); do grep -q ready "$NP_TMP/serve-ext.log" && return 0; sleep 0.05; done
	echo "server in $EXT did not start"; return 1
}
recipes_down() { np_topo_down; ip netns del "$EXT" 2>/dev/null; return 0; }

# expand CELLS META: CELLS lines "FROM TO PORT PROTO WANT", META the same per family:
# "FROM TO PORT PROTO FAMILY WANT", IPv4 and IPv6 of each cell
expand() {
	awk '{ print $1, $2, $3, $4, 4, $5; print $1, $2, $3, $4, 6, $5 }' "$1" >"$2"
}

# probe META OUT: every line of META at once in one np_agent run; OUT is META with the result
# appended (1 connected, 0 not)
probe() {
	local from to port proto fam want
	while read -r from to port proto fam want; do
		echo "${NS[$from]} ${ADDR[$to $fam]} ${proto,,} $port"
	done <"$1" >"$NP_TMP/probe.in"
	"$NP_AGENT" probe --timeout-ms "$NP_TIMEOUT_MS" "$NP_TMP/probe.in" >"$NP_TMP/probe.out" || return 1
	[ "$(wc -l <"$NP_TMP/probe.out")" = "$(wc -l <"$1")" ] || return 1
	awk '{print $NF}' "$NP_TMP/probe.out" | paste -d' ' "$1" - >"$2"
}

# evaluate DIR MEASURED OUT: MEASURED with the evaluator's verdict appended: `netpol reach` for
# a pod destination (one table per port, protocol and family), `netpol explain` (exit 0
# allowed, 1 dropped) for an outside address. The netpol runs are started together.
evaluate() {
	local dir=$1 from to port proto fam want got pids="" i=0 v
	declare -A V=()
	rm -f "$NP_TMP"/eval.*
	while read -r port proto fam; do
		i=$((i + 1))
		np_reach "$dir" "$proto" "$port" "$fam" |
			awk -v k="$port $proto $fam" '{ print $1, $2, k, $3 }' >"$NP_TMP/eval.reach$i" &
		pids="$pids $!"
	done < <(awk '{print $3, $4, $5}' "$2" | sort -u)
	while read -r from to port proto fam want got; do
		[ -z "${SHORT2POD[$to]:-}" ] || continue
		{
			"$NETPOL" explain "$dir" --from "${SHORT2POD[$from]}" --to "${ADDR[$to $fam]}" \
				--port "$port/$proto" >/dev/null 2>&1
			echo "$from $to $port $proto $fam $?"
		} >"$NP_TMP/eval.explain-$from-$to-$port-$proto-$fam" &
		pids="$pids $!"
	done <"$2"
	wait $pids
	while read -r from to port proto fam v; do # reach: ns/pod names; explain: 0 allowed
		if [ -n "${NP_TOPO_SHORT[$from]:-}" ]; then
			V["${NP_TOPO_SHORT[$from]} ${NP_TOPO_SHORT[$to]:-?} $port $proto $fam"]=$v
		else
			case $v in 0) v=1 ;; 1) v=0 ;; *) v="?" ;; esac
			V["$from $to $port $proto $fam"]=$v
		fi
	done < <(cat "$NP_TMP"/eval.reach* "$NP_TMP"/eval.explain-* 2>/dev/null)
	while read -r from to port proto fam want got; do
		echo "$from $to $port $proto $fam $want $got ${V[$from $to $port $proto $fam]:-?}"
	done <"$2" >"$3"
}

mark() { if [ "$1" = 1 ]; then printf '✓'; elif [ "$1" = 0 ]; then printf '✗'; else printf '%s' "$1"; fi; }

np_require_root
np_require_netpol apply reach explain
for f in "$README" "$DATA/cluster.yaml" "$DATA/topology"; do [ -f "$f" ] || { echo "missing $f"; exit 2; }; done
np_start_node apply reach
trap recipes_down EXIT
ext_up || { echo "outside netns setup failed"; exit 1; }

parse_readme >"$NP_TMP/readme.parsed"
check_readme "$NP_TMP/readme.parsed" || exit 1
"$NETPOL" check "$RECIPES" >"$NP_TMP/check.out" 2>&1 ||
	{ echo "netpol check policies/recipes failed:"; cat "$NP_TMP/check.out"; exit 1; }
echo "policies/recipes: $(tail -n1 "$NP_TMP/check.out")"

# Baseline, before netpol touches the node: every cell of every table connects.
awk '$1 == "C" { print $3, $4, $5, $6, 1 }' "$NP_TMP/readme.parsed" | sort -u >"$NP_TMP/all.cells"
expand "$NP_TMP/all.cells" "$NP_TMP/all.meta"
probe "$NP_TMP/all.meta" "$NP_TMP/baseline" || { echo "prober failed"; exit 1; }
closed=$(awk '$7 != 1' "$NP_TMP/baseline")
if [ -n "$closed" ]; then echo "without any policy, these do not connect:"; echo "$closed"; exit 1; fi
echo "baseline without netpol: all $(wc -l <"$NP_TMP/baseline") probes connect"

fail=0 nprobes=0 nrec=0
while read -r _ n rec; do
	nrec=$((nrec + 1))
	files=$(awk -v n="$n" '$1 == "A" && $2 == n { $1 = $2 = ""; print }' "$NP_TMP/readme.parsed")
	inv="$NP_TMP/inv-$n"; mkdir -p "$inv"; cp "$DATA/cluster.yaml" "$inv/"
	for f in $files; do cp "$RECIPES/$f" "$inv/"; done
	label="$rec (with$(printf ' %s' $files))"
	if ! "$NETPOL" check "$inv" >"$NP_TMP/check.out" 2>&1; then
		echo "FAIL $label: netpol check:"; sed 's/^/    /' "$NP_TMP/check.out"; fail=1; continue
	fi
	np_node "$NETPOL" flush >/dev/null 2>&1
	np_apply_in_sync "$inv" "$label" || { fail=1; continue; }
	awk -v n="$n" '$1 == "C" && $2 == n { print $3, $4, $5, $6, $7 }' "$NP_TMP/readme.parsed" >"$NP_TMP/cells"
	expand "$NP_TMP/cells" "$NP_TMP/meta"
	probe "$NP_TMP/meta" "$NP_TMP/measured" || { echo "FAIL $label: prober failed"; fail=1; continue; }
	evaluate "$inv" "$NP_TMP/measured" "$NP_TMP/judged"
	nprobes=$((nprobes + $(wc -l <"$NP_TMP/judged")))
	# FROM TO PORT PROTO FAMILY WANT GOT EVAL
	bad=$(awk '$6 != $7 || $6 != $8' "$NP_TMP/judged")
	if [ -z "$bad" ]; then
		echo "ok   $label: $(wc -l <"$NP_TMP/cells") cells x IPv4, IPv6 as the table says; netpol reach and explain agree"
		continue
	fi
	fail=1
	echo "FAIL $label: $(echo "$bad" | wc -l) of $(wc -l <"$NP_TMP/judged") probes differ:"
	while read -r from to port proto fam want got ev; do
		echo "    $from -> $to $port/$proto IPv$fam: table $(mark "$want"), packets $(mark "$got"), netpol $(mark "$ev")"
	done <<<"$bad"
done < <(awk '$1 == "R"' "$NP_TMP/readme.parsed")
np_node "$NETPOL" flush >/dev/null 2>&1
echo "recipes: $nrec tables, $nprobes probes (each a connection and the evaluator's verdict)"
[ "$nrec" -gt 0 ] || { echo "no recipe sections in $README"; exit 1; }
exit $fail
