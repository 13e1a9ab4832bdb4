#!/bin/sh
# make fuzz: every fuzz target for FUZZ_SECONDS (default 60) each, one after the other (one
# process each: the machine is shared), from a scratch copy of its corpus; prints each one's executions, speed,
# coverage (edges: cov, features: ft) and corpus growth, then a table. Crashes, leaks and
# timeouts land in BUILD/artifacts/TARGET/ and fail the run. FUZZ_TARGETS picks targets
# (default: all); FUZZ_MERGE=1 merges what a campaign found back into tests/fuzz/corpus/
# (-merge=1 -use_counters=0 keeps only inputs that reach a new edge). Needs the fuzz build (make fuzz does it):
#   make BUILD=build/fuzz FUZZ=1 fuzz-built
[ -n "$BASH_VERSION" ] || exec bash "$0" "$@"
set -u
cd "$(dirname "$0")/../.."
BUILD=${NETPOL_FUZZ_BUILD:-build/fuzz}
SECONDS_EACH=${FUZZ_SECONDS:-60}
TARGETS=${FUZZ_TARGETS:-policy cni endpoint ctl http etcd}
D=tests/fuzz/dict
declare -A DICTS=([policy]="json yaml k8s" [cni]="json cni" [endpoint]="json endpoint k8s"
	[ctl]="json ctl" [http]="http" [etcd]="json etcd endpoint")
WORK=$BUILD/fuzz-work
mkdir -p "$WORK"
failed=0
table=""
for t in $TARGETS; do
	bin=$BUILD/tests/fuzz/fuzz_$t
	[ -x "$bin" ] || { echo "missing $bin (make BUILD=$BUILD FUZZ=1 fuzz-built)"; exit 2; }
	rm -rf "$WORK/$t" && cp -r "tests/fuzz/corpus/$t" "$WORK/$t"
	for p in ${DICTS[$t]}; do cat "$D/$p.dict"; done >"$WORK/$t.dict"
	art=$BUILD/artifacts/$t
	mkdir -p "$art"
	before=$(ls "$WORK/$t" | wc -l)
	echo "== fuzz_$t: $SECONDS_EACH s, corpus of $before"
	"$bin" -max_total_time="$SECONDS_EACH" -print_final_stats=1 -timeout=20 -rss_limit_mb=2048 \
		-max_len=65536 -dict="$WORK/$t.dict" -artifact_prefix="$art/" \
		"$WORK/$t" >"$WORK/$t.log" 2>&1
	rc=$?
	stat() { sed -n "s/^stat::$1: *//p" "$WORK/$t.log"; }
	execs=$(stat number_of_executed_units) speed=$(stat average_exec_per_sec)
	last=$(grep -E '^#[0-9]+.*(DONE|pulse|NEW|REDUCE) +cov:' "$WORK/$t.log" | tail -n 1)
	init=$(grep -E '^#[0-9]+.*INITED +cov:' "$WORK/$t.log" | head -n 1)
	cov=$(echo "$last" | sed -n 's/.*cov: \([0-9]*\).*/\1/p')
	ft=$(echo "$last" | sed -n 's/.*ft: \([0-9]*\).*/\1/p')
	cov0=$(echo "$init" | sed -n 's/.*cov: \([0-9]*\).*/\1/p')
	after=$(ls "$WORK/$t" | wc -l)
	crashes=$(ls "$art" | wc -l)
	echo "   $execs executions ($speed/s), coverage $cov0 -> $cov edges ($ft features), corpus $before -> $after, $crashes artifact(s)"
	table="$table$(printf '%-14s %12s %8s %12s %8s %14s %9s' "fuzz_$t" "$execs" "$speed" "${cov0:-?} -> ${cov:-?}" "${ft:-?}" "$before -> $after" "$crashes")\n"
	if [ "$rc" != 0 ] || [ "$crashes" != 0 ]; then
		failed=1
		echo "   FAILED (exit $rc): $art"
		grep -E 'ERROR|property failed|SUMMARY' "$WORK/$t.log" | head -n 5 | sed 's/^/   /'
	fi
	if [ -n "${FUZZ_MERGE:-}" ]; then
		"$bin" -merge=1 -use_counters=0 -max_len=65536 -rss_limit_mb=2048 "tests/fuzz/corpus/$t" "$WORK/$t" \
			>"$WORK/$t.merge.log" 2>&1 &&
			echo "   merged: tests/fuzz/corpus/$t has $(ls "tests/fuzz/corpus/$t" | wc -l) files"
	fi
done
printf '\n%-14s %12s %8s %12s %8s %14s %9s\n' target executions exec/s coverage features corpus artifacts
printf "$table"
exit $failed
