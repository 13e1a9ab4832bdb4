#!/bin/sh
# The evaluator against the network-policy-api conformance suite: for every step of every case
# in tests/data/admin-cases (the upstream ClusterNetworkPolicy tests, stateful steps in their order,
# and the admin-extra-* cases), `netpol check` must accept the step's inventory and
# `netpol explain` must give each probe's expected verdict (exit 0 allowed, 1 dropped) over
# IPv4 and IPv6. Exit 1 on any mismatch.
# `make check` asks explain about every probe once, over one of its step's families in turn
# (IPv4, IPv6, IPv4, ...: each a process start under the sanitizers, and the verdicts of all
# of them over both families are also measured by packets in tests/kernel/t-admin-conformance.sh);
# NETPOL_FULL=1 (`make check-full`) asks about every probe over every family.
# Usage: t-admin-cases.sh [CASE-NAME-PATTERN]
SRC=${NETPOL_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
NETPOL=${NETPOL:-$SRC/build/netpol}
CASES=$SRC/tests/data/admin-cases
pattern=${1:-}

[ -x "$NETPOL" ] || { echo "no netpol binary at $NETPOL"; exit 2; }
. "$SRC/tests/lib/cases.sh"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/netpol-admin-cases.XXXXXX") || exit 2
trap 'rm -rf "$tmp"' EXIT
trap 'exit 2' INT TERM HUP

n_cases=0 n_subtests=0 n_steps=0 n_probes=0 n_failed=0 failed="" turn=0
for case_dir in "$CASES"/*/; do
	case_dir=${case_dir%/}
	name=$(basename "$case_dir")
	case "$name" in _*) continue ;; esac
	[ -n "$pattern" ] && case "$name" in *$pattern*) ;; *) continue ;; esac
	n_cases=$((n_cases + 1))
	ok=1 probes=0 last=""
	for step in $(ls "$case_dir" | grep -E '^[0-9]+$' | sort -n); do
		sdir=$case_dir/$step
		inv=$tmp/inv.$name.$step
		n_steps=$((n_steps + 1))
		title=$(head -1 "$sdir/expect")
		[ "$title" != "$last" ] && n_subtests=$((n_subtests + 1))
		last=$title
		case_assemble "$sdir" "$inv" || exit 2
		if ! "$NETPOL" check "$inv" >"$tmp/check.out" 2>&1; then
			echo "FAIL $name step $step: netpol check rejects the inventory:"
			sed 's/^/    /' "$tmp/check.out" | head -10
			ok=0
			continue
		fi
		fams=$(sed -n 's/^families:[ \t]*//p' "$sdir/expect")
		while read -r kw from to proto port want; do
			[ "$kw" = probe ] || continue
			set -- ${fams:-4 6}
			if [ -z "${NETPOL_FULL:-}" ]; then
				shift $((turn % $#)); set -- "$1"
				turn=$((turn + 1))
			fi
			for fam in "$@"; do
				n_probes=$((n_probes + 1)) probes=$((probes + 1))
				"$NETPOL" explain "$inv" --from "$from" --to "$to" --port "$port/$proto" \
					--family "$fam" >"$tmp/explain.out" 2>&1
				rc=$? got=0
				[ $rc = 0 ] && got=1
				if [ $rc -gt 1 ] || [ "$got" != "$want" ]; then
					ok=0
					echo "FAIL $name step $step: $from -> $to $proto/$port IPv$fam: expected $want, netpol explain (exit $rc):"
					sed 's/^/    /' "$tmp/explain.out"
				fi
			done
		done <"$sdir/expect"
	done
	if [ $ok = 1 ]; then echo "PASS $name ($probes probes)"; else
		n_failed=$((n_failed + 1)); failed="$failed $name"; fi
done
echo "admin cases: $n_cases ($n_failed failed), subtests: $n_subtests, steps: $n_steps, probes: $n_probes"
[ -n "$failed" ] && echo "failed:$failed"
[ $n_cases -gt 0 ] && [ $n_probes -gt 0 ] && [ $n_failed -eq 0 ]
