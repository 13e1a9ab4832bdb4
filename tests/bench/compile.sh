#!/bin/sh
# Compile benchmark (issue 2): generates a cluster (default 10,000 pods in 100 namespaces,
# 1,000 policies, 10 nodes; build/tests/gen_cluster) into a temporary directory, then times
#   netpol render DIR            parse + compile + render, every pod local (worst case)
#   netpol render DIR --node N   the same for one node of the cluster
#   netpol check DIR             parse + validate + lint
# RUNS times each (min and median of wall time) and measures peak RSS with /usr/bin/time, then
# splits render into load / build / emit (build/tests/compile_phases).
# Prints one line per figure with its target; figures are reported, not asserted.
# Env: NETPOL_BUILD (build dir), NETPOL, RUNS (5), PODS, NAMESPACES, POLICIES, NODES, SEED,
# ADMIN=N adds N admin-tier policies of 25 rules (gen_cluster --admin).
#      KEEP=1 keeps the generated directory.
SRC=${NETPOL_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
BUILD=${NETPOL_BUILD:-build}
case "$BUILD" in /*) ;; *) BUILD="$SRC/$BUILD" ;; esac
NETPOL=${NETPOL:-$BUILD/netpol}
GEN=${GEN:-$BUILD/tests/gen_cluster}
PHASES=$BUILD/tests/compile_phases
RUNS=${RUNS:-5}
PODS=${PODS:-10000} NAMESPACES=${NAMESPACES:-100} POLICIES=${POLICIES:-1000}
NODES=${NODES:-10} SEED=${SEED:-1}
for x in "$NETPOL" "$GEN"; do
	[ -x "$x" ] || { echo "compile.sh: missing $x (run make all tests-built)" >&2; exit 2; }
done
tmp=$(mktemp -d "/tmp/np-$$-bench.XXXXXX") || exit 2
[ "${KEEP:-0}" = 1 ] || trap 'rm -rf "$tmp"' EXIT
trap 'exit 2' INT TERM HUP

"$GEN" "$tmp/cluster" --pods "$PODS" --namespaces "$NAMESPACES" --policies "$POLICIES" \
	--nodes "$NODES" --seed "$SEED" --admin "${ADMIN:-0}" || exit 2
echo "cluster: $PODS pods, $NAMESPACES namespaces, $POLICIES policies, ${ADMIN:-0} admin policies, $NODES nodes, seed $SEED;" \
	"$(du -sk "$tmp/cluster" | cut -f1) KiB of kubectl-style JSON in $(ls "$tmp/cluster" | wc -l) files"

now_ns() { date +%s%N; }

# bench LABEL TARGET_MS TARGET_MB CMD...: RUNS timed runs, then one run under /usr/bin/time
bench() {
	label=$1 tms=$2 tmb=$3; shift 3
	times=""
	i=0
	while [ $i -lt "$RUNS" ]; do
		t0=$(now_ns)
		"$@" >/dev/null 2>"$tmp/err"
		rc=$?
		t1=$(now_ns)
		# check exits 1 on warnings only; anything above means the input or the tool is broken
		if [ $rc -gt 1 ]; then
			echo "compile.sh: '$*' exited $rc:" >&2; head -5 "$tmp/err" >&2; exit 1
		fi
		times="$times $(( (t1 - t0) / 1000000 ))"
		i=$((i + 1))
	done
	sorted=$(printf '%s\n' $times | sort -n)
	min=$(printf '%s\n' "$sorted" | head -n 1)
	med=$(printf '%s\n' "$sorted" | sed -n "$(( (RUNS + 1) / 2 ))p")
	verdict=$([ "$min" -lt "$tms" ] && echo met || echo MISSED)
	echo "$label: time min $min ms, median $med ms over $RUNS runs (target < $tms ms: $verdict)"
	if [ -x /usr/bin/time ]; then
		/usr/bin/time -f '%M' -o "$tmp/rss" "$@" >/dev/null 2>&1
		kb=$(tail -n 1 "$tmp/rss")
		mb=$(( (kb + 1023) / 1024 ))
		verdict=$([ "$mb" -lt "$tmb" ] && echo met || echo MISSED)
		echo "$label: peak RSS $mb MB (target < $tmb MB: $verdict)"
	else
		echo "$label: peak RSS not measured (/usr/bin/time missing: sh tests/install-deps.sh)"
	fi
}

bench "render (all pods local)" 100 64 "$NETPOL" render "$tmp/cluster"
bench "render --node node-00" 100 64 "$NETPOL" render "$tmp/cluster" --node node-00
bench "check" 100 64 "$NETPOL" check "$tmp/cluster"
# which pass the time goes to (in-process, without the CLI's output)
if [ -x "$PHASES" ]; then
	echo "render (all pods local) $("$PHASES" "$tmp/cluster" --runs "$RUNS")"
	echo "render --node node-00 $("$PHASES" "$tmp/cluster" --node node-00 --runs "$RUNS")"
fi
"$NETPOL" render "$tmp/cluster" >"$tmp/out.nft" 2>/dev/null
echo "render output: $(wc -c <"$tmp/out.nft") bytes, $(grep -c '^	chain ' "$tmp/out.nft") chains," \
	"$(grep -c '^	set \|^	map ' "$tmp/out.nft") sets and maps"
[ "${KEEP:-0}" = 1 ] && echo "kept: $tmp/cluster"
exit 0
