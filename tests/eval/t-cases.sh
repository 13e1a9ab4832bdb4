#!/bin/sh
# The evaluator matches upstream: for every step of every case in tests/data/cases (the upstream
# Kubernetes netpol e2e It()s and the extra-* cases), assemble the step's inventory (_base
# files, replaced or extended by the step's files), run `netpol reach` for each probe block of
# its `expect` and each IP family it lists, and compare with the expected matrix, byte for byte
# (comments and trailing blanks aside). Exit 1 on any mismatch.
# Usage: t-cases.sh [CASE-NAME-PATTERN]
SRC=${NETPOL_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
NETPOL=${NETPOL:-$SRC/build/netpol}
CASES=$SRC/tests/data/cases
pattern=${1:-}

# a missing binary is a broken build, never a skip
[ -x "$NETPOL" ] || { echo "no netpol binary at $NETPOL"; exit 2; }
. "$SRC/tests/lib/cases.sh"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/netpol-cases.XXXXXX") || exit 2
trap 'rm -rf "$tmp"' EXIT
trap 'exit 2' INT TERM HUP # so the EXIT trap runs on a signal too (dash)

n_cases=0 n_steps=0 n_probes=0 n_skipped=0 n_failed=0 failed=""

for case_dir in "$CASES"/*/; do
	case_dir=${case_dir%/}
	name=$(basename "$case_dir")
	case "$name" in _*) continue ;; esac
	[ -n "$pattern" ] && case "$name" in *$pattern*) ;; *) continue ;; esac
	n_cases=$((n_cases + 1))
	if [ -f "$case_dir/README" ] && ! ls "$case_dir"/*/expect >/dev/null 2>&1; then
		n_skipped=$((n_skipped + 1))
		echo "SKIP $name: $(grep '^skipped:' "$case_dir/README" | sed 's/^skipped: //')"
		continue
	fi
	case_ok=1 case_probes=0
	for step in $(ls "$case_dir" | sort -n); do
		sdir=$case_dir/$step
		[ -f "$sdir/expect" ] || continue
		n_steps=$((n_steps + 1))
		inv=$tmp/inv.$name.$step
		parts=$tmp/exp.$name.$step
		case_assemble "$sdir" "$inv" || exit 2
		if ! case_split_expect "$sdir/expect" "$parts"; then
			echo "FAIL $name step $step: malformed expect"
			case_ok=0
			continue
		fi
		families=$(cat "$parts/families" 2>/dev/null)
		[ -n "$families" ] || families=4
		for probe in "$parts"/probe.*; do
			read -r proto port <"$probe"
			tail -n +2 "$probe" >"$probe.want"
			for fam in $families; do
				n_probes=$((n_probes + 1))
				case_probes=$((case_probes + 1))
				"$NETPOL" reach "$inv" --protocol "$proto" --port "$port" --family "$fam" \
					>"$probe.got" 2>"$probe.err"
				rc=$?
				if [ $rc -ne 0 ] || ! cmp -s "$probe.want" "$probe.got"; then
					case_ok=0
					echo "FAIL $name step $step: probe $proto $port IPv$fam (exit $rc)"
					echo "  expected (upstream) vs netpol reach:"
					diff "$probe.want" "$probe.got" | sed 's/^/    /'
					sed 's/^/    stderr: /' "$probe.err"
				fi
			done
		done
	done
	if [ $case_ok -eq 1 ]; then
		echo "PASS $name ($case_probes probes)"
	else
		n_failed=$((n_failed + 1))
		failed="$failed $name"
	fi
done

echo "cases: $n_cases ($n_skipped skipped, $n_failed failed), steps: $n_steps, probes: $n_probes"
[ -n "$failed" ] && echo "failed:$failed"
[ $n_cases -gt 0 ] && [ $n_probes -gt 0 ] && [ $n_failed -eq 0 ]
