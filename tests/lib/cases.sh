# tests/lib/cases.sh — shell helpers for consumers of tests/data/cases (sourced, never run).
# Used by tests/eval/, tests/kernel/ and tests/lib/conformance.sh; meant for any harness that
# replays the cases.

# case_assemble STEPDIR OUTDIR: writes the step's inventory into OUTDIR (created): every _base
# file, replaced by a step file of the same name, plus the step's other files (not `expect`).
case_assemble() {
	_base=$(dirname "$(dirname "$1")")/_base
	mkdir -p "$2" || return 1
	cp "$_base"/* "$2"/ || return 1
	for _f in "$1"/*; do
		[ "$(basename "$_f")" = expect ] || cp "$_f" "$2"/ || return 1
	done
}

# case_split_expect EXPECT OUTDIR: splits an expect file into OUTDIR/families (the family list)
# and OUTDIR/probe.N per probe block (first line "PROTO PORT", then the matrix lines, exactly
# as `netpol reach` prints them). Comments and trailing blanks are dropped. Returns 1 on a
# malformed file.
case_split_expect() {
	mkdir -p "$2" || return 1
	awk -v out="$2" '
		{ sub(/#.*/, ""); sub(/[ \t]+$/, "") }
		/^$/ { next }
		/^families:/ { sub(/^families:[ \t]*/, ""); print > (out "/families"); next }
		/^probe / { n++; f = out "/probe." n; print $2, $3 > f; next }
		n == 0 { print "expect: line outside a probe block: " $0 > "/dev/stderr"; bad = 1; next }
		{ print >> f }
		END { exit bad }
	' "$1"
}
