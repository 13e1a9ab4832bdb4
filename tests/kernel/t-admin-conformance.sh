#!/bin/sh
# The admin tiers by real packets: every case under tests/data/admin-cases/ (the network-policy-api
# conformance suite, ClusterNetworkPolicy standard and experimental tests, plus our admin-extra-*
# cases) on the suite's own base: its five namespaces, the eight pods of its four StatefulSets
# (one dual-stack netns each behind the node's bridge) and centaur-1, a host-network pod on a
# second node (a netns on the same bridge, 10.200.0.2, the address of Node node-2). Steps are
# applied in order onto the running ruleset (incremental applies, as upstream patches objects in
# place); after each apply `netpol status` must find the kernel in sync, and every probe of the
# step's expect is sent over IPv4 and IPv6: TCP connect, UDP echo, SCTP INIT seen by a raw
# socket at the destination (this kernel has no SCTP sockets). After each case a directory
# without policies must open everything again.
# `make check` runs each test kind the two tiers share (EgressTCP, IngressNamedPort, Gress, ...)
# once, in the Admin and the Baseline tier in turn, and every case that has no such twin
# (Integration, PriorityField, the admin-extra-* cases): 18 of the 29 cases, every protocol,
# direction, peer kind and tier still by packets (tests/eval/t-admin-cases.sh asks the
# evaluator about all 29). NETPOL_FULL=1 (`make check-full`) runs all 29.
# Usage: t-admin-conformance.sh [CASE...]   (default: as above)
[ -n "$BASH_VERSION" ] || exec bash "$0" "$@"
set -u
. "$(dirname "$0")/../lib/topo.sh"
CASES_DIR="$NP_SRC/tests/data/admin-cases"
. "$NP_SRC/tests/lib/cases.sh"

np_topo_load "$CASES_DIR/_base/topology"
NP_SERVE_PORTS=80,8080,5353,53,34345,34346,34347,34348,34349,34350
np_start_node apply status flush
# A blocked probe waits NP_TIMEOUT_MS, 400 ms unless set (the prober's default is 1 s): every
# pair is on one bridge, the baseline below shows every path connecting before any policy, and
# a probe run sends the allowed and the blocked pairs of a step together.
export NP_TIMEOUT_MS=${NP_TIMEOUT_MS:-400}

declare -A PROBES MISS
for k in 4 6 s; do PROBES[$k]=0 MISS[$k]=0; done
ncases=0 nsteps=0 failed_cases="" apply_fail=0 status_fail=0 reopen_fail=0

# expect -> lines "FROM TO PROTO PORT FAMILY WANT"
expand() {
	awk '$1 == "families:" { fams = ""; for (i = 2; i <= NF; i++) fams = fams " " $i }
	     $1 == "probe" { n = split(fams ? fams : " 4 6", F, " ")
		for (f = 1; f <= n; f++) print $2, $3, $4, $5, F[f], $6 }' "$1"
}

run_step() { # step_dir label
	local sd=$1 label=$2 inv="$NP_TMP/inv" rc=0
	rm -rf "$inv"
	case_assemble "$sd" "$inv" || { echo "  $label: cannot assemble the inventory"; return 1; }
	nsteps=$((nsteps + 1))
	np_apply_in_sync "$inv" "$label"
	case $? in
	1) apply_fail=$((apply_fail + 1)); return 1 ;;
	2) status_fail=$((status_fail + 1)); rc=1 ;;
	esac
	expand "$sd/expect" >"$NP_TMP/want.lst"
	np_probe_pairs "$NP_TMP/want.lst" "$NP_TMP/got.lst" || { echo "  $label: prober failed"; return 1; }
	while read -r from to proto port fam want got; do
		k=$fam; [ "$proto" = SCTP ] && k=s
		PROBES[$k]=$((PROBES[$k] + 1))
		if [ "$want" != "$got" ]; then
			MISS[$k]=$((MISS[$k] + 1)); rc=1
			echo "  $label: $from -> $to $proto/$port IPv$fam: expected $want, measured $got"
		fi
	done <"$NP_TMP/got.lst"
	return $rc
}

# Baseline, before netpol has touched the node: every probe any case makes connects.
for c in "$CASES_DIR"/*/*/expect; do expand "$c"; done | awk '{ $6 = 1; print }' | sort -u >"$NP_TMP/all.lst"
np_probe_pairs "$NP_TMP/all.lst" "$NP_TMP/all.got" || { echo "prober failed"; exit 1; }
closed=$(awk '$7 != 1' "$NP_TMP/all.got" | wc -l)
if [ "$closed" != 0 ]; then
	echo "baseline without netpol: $closed of $(wc -l <"$NP_TMP/all.got") probes failed:"
	awk '$7 != 1' "$NP_TMP/all.got" | head; exit 1
fi
echo "baseline without netpol: all $(wc -l <"$NP_TMP/all.got") distinct probes connect"

if [ $# -gt 0 ]; then cases="$*"; else cases=$(ls "$CASES_DIR" | grep -v '^_' | sort); fi
if [ $# -eq 0 ] && [ -z "${NETPOL_FULL:-}" ]; then
	all=$cases cases="" turn=0
	for c in $all; do
		case $c in
		CNPAdminTier*)
			k=${c#CNPAdminTier}
			if [ -d "$CASES_DIR/CNPBaselineTier$k" ]; then
				[ $((turn % 2)) = 0 ] || c=CNPBaselineTier$k
				turn=$((turn + 1))
			fi ;;
		CNPBaselineTier*) [ -d "$CASES_DIR/CNPAdminTier${c#CNPBaselineTier}" ] && continue ;;
		esac
		cases="$cases $c"
	done
fi
start=$(date +%s)
for c in $cases; do
	[ -d "$CASES_DIR/$c" ] || continue
	steps=$(ls "$CASES_DIR/$c" | grep -E '^[0-9]+$' | sort -n)
	ncases=$((ncases + 1)) ok=1
	np_node "$NETPOL" flush >/dev/null 2>&1
	for s in $steps; do run_step "$CASES_DIR/$c/$s" "$c/$s" || ok=0; done
	# no policies left: everything opens again
	rm -rf "$NP_TMP/inv"; mkdir -p "$NP_TMP/inv"; cp "$CASES_DIR/_base"/*.yaml "$NP_TMP/inv"/
	awk '{ $6 = 1; print }' "$NP_TMP/want.lst" >"$NP_TMP/open.want"
	if np_apply "$NP_TMP/inv" && np_probe_pairs "$NP_TMP/open.want" "$NP_TMP/open.lst" &&
		[ "$(awk '$7 != 1' "$NP_TMP/open.lst" | wc -l)" = 0 ]; then :; else
		echo "  $c: not reopened after removing its policies"; reopen_fail=$((reopen_fail + 1)); ok=0
	fi
	if [ $ok = 1 ]; then echo "PASS $c ($(echo $steps | wc -w) steps)"; else
		echo "FAIL $c"; failed_cases="$failed_cases $c"; fi
done
np_node "$NETPOL" flush >/dev/null 2>&1

echo
echo "admin tiers by real packets: $ncases cases, $nsteps steps, $(( $(date +%s) - start ))s"
printf '  %-6s %8s %12s\n' class probes mismatches
for k in 4 6 s; do
	case $k in 4) n=IPv4 ;; 6) n=IPv6 ;; s) n=SCTP ;; esac
	printf '  %-6s %8d %12d\n' "$n" "${PROBES[$k]}" "${MISS[$k]}"
done
echo "  (IPv4/IPv6 = TCP+UDP connections; SCTP = INIT packets over both families)"
echo "  apply failures: $apply_fail, not in sync after apply: $status_fail, not reopened: $reopen_fail"
if [ -n "$failed_cases" ]; then echo "failed cases:$failed_cases"; exit 1; fi
[ "$ncases" -gt 0 ] || { echo "no cases found"; exit 1; }
exit 0
