# tests/lib/conformance.sh — the conformance harness by real packets (sourced after
# tests/lib/topo.sh, never run): every case under tests/data/cases is applied with `netpol
# apply` in the topology's node netns and every `probe PROTO PORT` block of its `expect` is
# checked over all 81 pod pairs with real connections (TCP connect, UDP echo, SCTP INIT seen
# by a raw socket at the destination), once per family of its `families:` line. `netpol reach`
# must agree with what the packets did, and `netpol status` must find the kernel in sync with
# the directory after every apply. Steps of one case are applied in order onto the running
# ruleset (incremental changes); the case then applies a directory without policies, which
# must open everything again, and `netpol flush` starts the next case from nothing.
#
# conf_main [CASE...] runs it and exits (no case named: every other case in name order, and
# the two whose kind that stride leaves out; NETPOL_FULL=1 or NP_ALL_CASES=1: every case).
# NP_EXTRA_INV=DIR adds DIR's files to every step's inventory. Used by
# tests/kernel/t-conformance.sh, tests/kernel/t-conformance-admin.sh (with a permissive
# admin-tier policy in every step) and tests/cni/t-conformance.sh (the pods built through
# the CNI chain: NP_LIB_EXTRA=tests/cni/topo.sh when sourcing topo.sh).
CASES_DIR="$NP_SRC/tests/data/cases"
. "$NP_SRC/tests/lib/cases.sh"

# Counters per class: 4 = IPv4 TCP/UDP, 6 = IPv6 TCP/UDP, s = SCTP (both families).
declare -A BLOCKS PAIRS MISS REACHMISS
for k in 4 6 s; do BLOCKS[$k]=0 PAIRS[$k]=0 MISS[$k]=0 REACHMISS[$k]=0; done
ncases=0 nsteps=0 failed_cases="" apply_fail=0 reopen_fail=0 reach_missing=0 status_fail=0

cls() { if [ "$1" = SCTP ]; then echo s; else echo "$2"; fi; }

# expect FILE -> lines "PROTO PORT FAMILY FROM TO 0|1" for every family of its families: line
expand_expect() {
	awk -v pods="$NP_PODS" '
	BEGIN { fams = "4 6" }
	/^#/ || NF == 0 { next }
	$1 == "families:" { fams = ""; for (i = 2; i <= NF; i++) fams = fams (i > 2 ? " " : "") $i; next }
	$1 == "probe" { proto = toupper($2); port = $3; ncol = 0; next }
	ncol == 0 && $1 ~ /\// { for (i = 1; i <= NF; i++) col[i] = $i; ncol = NF; next }
	$1 ~ /\// && ncol > 0 {
		nf = split(fams, F, " ")
		for (i = 2; i <= NF; i++)
			for (f = 1; f <= nf; f++)
				print proto, port, F[f], $1, col[i - 1], $i
	}' "$1"
}

# show_block RESULTS EXPECTED PROTO PORT FAMILY: the two matrices side by side
show_block() {
	paste -d'|' <(np_matrix "$2" "$3" "$4" "$5") <(np_matrix "$1" "$3" "$4" "$5") |
		awk -F'|' 'NR == 1 { printf "      %-42s   %s\n", "expected", "measured" }
			{ printf "      %-42s   %s\n", $1, $2 }'
}

run_step() { # step_dir label
	local sd=$1 label=$2 inv="$NP_TMP/inv" specs="" spec key proto port fam k bad rbad rc=0
	rm -rf "$inv"
	case_assemble "$sd" "$inv" || { echo "  $label: cannot assemble the inventory"; return 1; }
	[ -z "${NP_EXTRA_INV:-}" ] || cp "$NP_EXTRA_INV"/* "$inv"/ || return 1
	nsteps=$((nsteps + 1))
	np_apply_in_sync "$inv" "$label"
	case $? in
	1) apply_fail=$((apply_fail + 1)); return 1 ;;
	2) status_fail=$((status_fail + 1)); rc=1 ;;
	esac
	expand_expect "$sd/expect" >"$NP_TMP/expect.lst"
	specs=$(awk '{print $1 ":" $2 ":" $3}' "$NP_TMP/expect.lst" | sort -u)
	[ -n "$specs" ] || { echo "  $label: no probe blocks in expect"; return 1; }
	np_probe_blocks "$NP_TMP/measured.lst" $specs || { echo "  $label: prober failed"; return 1; }
	for spec in $specs; do
		IFS=: read -r proto port fam <<<"$spec"
		k=$(cls "$proto" "$fam")
		BLOCKS[$k]=$((BLOCKS[$k] + 1)); PAIRS[$k]=$((PAIRS[$k] + 81))
		key="$proto $port $fam"
		# packets vs expect
		bad=$(join -j1 \
			<(awk -v k="$key" '$1" "$2" "$3 == k {print $4"-"$5, $6}' "$NP_TMP/expect.lst" | sort) \
			<(awk -v k="$key" 'toupper($1)" "$2" "$3 == k {print $4"-"$5, $6}' "$NP_TMP/measured.lst" | sort) |
			awk '$2 != $3' | wc -l)
		if [ "$(awk -v k="$key" 'toupper($1)" "$2" "$3 == k' "$NP_TMP/measured.lst" | wc -l)" != 81 ]; then
			bad=81
		fi
		if [ "$bad" != 0 ]; then
			MISS[$k]=$((MISS[$k] + bad)); rc=1
			echo "  $label: $proto $port IPv$fam: $bad of 81 pairs differ from expect"
			awk '{ $1 = toupper($1); print }' "$NP_TMP/measured.lst" >"$NP_TMP/measured.up"
			show_block "$NP_TMP/measured.up" "$NP_TMP/expect.lst" "$proto" "$port" "$fam"
		fi
		# the evaluator vs the packets
		np_reach "$inv" "$proto" "$port" "$fam" | sort >"$NP_TMP/reach.lst"
		if [ "$(wc -l <"$NP_TMP/reach.lst")" != 81 ]; then
			reach_missing=$((reach_missing + 1)); rc=1
			echo "  $label: $proto $port IPv$fam: could not read 81 pairs from netpol reach:"
			sed 's/^/      /' "$NP_TMP/reach.err" | head -5
			continue
		fi
		rbad=$(join -j1 <(awk '{print $1"-"$2, $3}' "$NP_TMP/reach.lst") \
			<(awk -v k="$key" 'toupper($1)" "$2" "$3 == k {print $4"-"$5, $6}' "$NP_TMP/measured.lst" | sort) |
			awk '$2 != $3' | wc -l)
		if [ "$rbad" != 0 ]; then
			REACHMISS[$k]=$((REACHMISS[$k] + rbad)); rc=1
			echo "  $label: $proto $port IPv$fam: netpol reach disagrees with the packets on $rbad pairs:"
			awk '{print "x", "x", "x", $1, $2, $3}' "$NP_TMP/reach.lst" >"$NP_TMP/reach.m"
			awk -v k="$key" 'toupper($1)" "$2" "$3 == k {print "x", "x", "x", $4, $5, $6}' \
				"$NP_TMP/measured.lst" >"$NP_TMP/meas.m"
			paste -d'|' <(np_matrix "$NP_TMP/reach.m" x x x) <(np_matrix "$NP_TMP/meas.m" x x x) |
				awk -F'|' 'NR == 1 { printf "      %-42s   %s\n", "netpol reach", "measured" }
					{ printf "      %-42s   %s\n", $1, $2 }'
		fi
	done
	return $rc
}

# After a case: a directory without policies must open every pair again (TCP 80, both families).
reopen_check() {
	local inv="$NP_TMP/inv"
	np_base_inventory "$inv"
	np_apply "$inv" || { echo "  apply of the policy-free inventory FAILED"; return 1; }
	np_probe_blocks "$NP_TMP/open.lst" TCP:80:4 TCP:80:6 || return 1
	local closed
	closed=$(awk '$6 != 1' "$NP_TMP/open.lst" | wc -l)
	[ "$closed" = 0 ] || { echo "  after removing every policy, $closed pairs are still blocked"; return 1; }
}

conf_main() {
	local c s steps ok k n closed start cases base_blocks
	np_start_node apply reach
	# A blocked probe waits NP_TIMEOUT_MS, 400 ms unless set (the prober's default is 1 s): every
	# pair is on one bridge, the baseline below shows every path connecting before any policy,
	# and a probe run sends the allowed and the blocked pairs of a step together.
	export NP_TIMEOUT_MS=${NP_TIMEOUT_MS:-400}

	# Baseline, before netpol has touched the node: every pod reaches every pod on every protocol,
	# port and family, so a 0 later can only come from the ruleset.
	base_blocks="TCP:80:4 TCP:80:6 TCP:81:4 TCP:81:6 UDP:80:4 UDP:80:6 UDP:81:4 UDP:81:6 SCTP:80:4 SCTP:80:6"
	np_probe_blocks "$NP_TMP/baseline.lst" $base_blocks || { echo "prober failed"; exit 1; }
	closed=$(awk '$6 != 1' "$NP_TMP/baseline.lst" | wc -l)
	if [ "$closed" != 0 ] || [ "$(wc -l <"$NP_TMP/baseline.lst")" != 810 ]; then
		echo "baseline without netpol: $closed of 810 probes failed:"; awk '$6 != 1' "$NP_TMP/baseline.lst" | head
		exit 1
	fi
	echo "baseline without netpol: all 810 probes connect (TCP/UDP 80,81 and SCTP 80, IPv4 and IPv6)"

	if [ $# -gt 0 ]; then cases="$*"; else cases=$(ls "$CASES_DIR" | grep -v '^_' | sort); fi
	if [ $# -eq 0 ] && [ -z "${NETPOL_FULL:-}${NP_ALL_CASES:-}" ]; then
		cases=$(for c in $cases; do [ -d "$CASES_DIR/$c" ] && echo "$c"; done | LC_ALL=C sort |
			awk 'NR % 2 == 1 || $0 == "extra-named-port-egress" || $0 == "extra-admin-tiers-demo"')
	fi
	start=$(date +%s)
	for c in $cases; do
		[ -d "$CASES_DIR/$c" ] || continue
		# a case with admin tiers of its own would see the extra ones change its verdicts
		case "${NP_EXTRA_INV:+x}$c" in xextra-admin-*) continue ;; esac
		steps=$(ls "$CASES_DIR/$c" | grep -E '^[0-9]+$' | sort -n)
		if [ -z "$steps" ]; then
			echo "SKIP $c: $(grep -h '^skipped' "$CASES_DIR/$c/README" 2>/dev/null || echo 'no steps')"
			continue
		fi
		ncases=$((ncases + 1))
		ok=1
		np_node "$NETPOL" flush >/dev/null 2>&1
		for s in $steps; do
			run_step "$CASES_DIR/$c/$s" "$c/$s" || ok=0
		done
		if ! reopen_check; then reopen_fail=$((reopen_fail + 1)); ok=0; fi
		if [ $ok = 1 ]; then echo "PASS $c ($(echo $steps | wc -w) steps)"; else
			echo "FAIL $c"; failed_cases="$failed_cases $c"; fi
	done
	np_node "$NETPOL" flush >/dev/null 2>&1

	echo
	echo "conformance by real packets: $ncases cases, $nsteps steps, $(( $(date +%s) - start ))s"
	printf '  %-6s %8s %10s %12s %18s\n' class blocks "pair probes" mismatches "reach disagrees"
	for k in 4 6 s; do
		case $k in 4) n=IPv4 ;; 6) n=IPv6 ;; s) n=SCTP ;; esac
		printf '  %-6s %8d %10d %12d %18d\n' "$n" "${BLOCKS[$k]}" "${PAIRS[$k]}" "${MISS[$k]}" "${REACHMISS[$k]}"
	done
	echo "  (IPv4/IPv6 = TCP+UDP connections; SCTP = INIT packets over both families)"
	echo "  apply failures: $apply_fail, not in sync after apply: $status_fail, unreadable reach tables: $reach_missing,"
	echo "  not reopened after removing policies: $reopen_fail"
	if [ -n "$failed_cases" ]; then echo "failed cases:$failed_cases"; exit 1; fi
	[ "$ncases" -gt 0 ] || { echo "no cases found"; exit 1; }
	exit 0
}
