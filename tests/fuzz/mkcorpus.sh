#!/bin/sh
# Seeds the fuzz corpora (tests/fuzz/corpus/TARGET/) from the tests' own inputs, then keeps
# only the seeds that add coverage (libFuzzer's -merge=1 into the existing corpus, so what a
# campaign found stays; -use_counters=0: a new edge counts, not a new hit count of one, which
# keeps the corpus to a few hundred files). Run after adding test data the corpus lacks; the files it keeps are
# committed. Needs the fuzz build: make BUILD=build/fuzz FUZZ=1 fuzz-built.
#   policy    every test policy directory as one multi-document YAML (the _base cluster of a
#             conformance case with each step; golden, good, lint and recipe directories), each
#             bad input and JSON file alone, and each multi-step case as step N "#%%" step N+1
# The other targets' seeds are written by hand into their corpus (corpus/TARGET/seed-*): CNI
# configurations and prevResults as tests/cni writes them, endpoint records and network
# definitions as netsetup writes them, control requests, HTTP requests.
[ -n "$BASH_VERSION" ] || exec bash "$0" "$@"
set -eu
cd "$(dirname "$0")/../.."
BIN=${NETPOL_FUZZ_BUILD:-build/fuzz}/tests/fuzz
SEEDS=$(mktemp -d /tmp/netpol-seeds.XXXXXX)
trap 'rm -rf "$SEEDS"' EXIT
D=tests/data
seed() { mkdir -p "$SEEDS/$1"; cat >"$(mktemp "$SEEDS/$1/seed.XXXXXX")"; }

# yamlcat FILE...: the files as one YAML stream (JSON documents are YAML too)
yamlcat() { local f; for f in "$@"; do echo '---'; cat "$f"; echo; done; }

# step DIR BASE: a case step as the loader would see the assembled directory
step() {
	local f files=""
	for f in "$2"/*.yaml; do [ -e "$1/$(basename "$f")" ] || files="$files $f"; done
	yamlcat $files $(ls "$1"/*.yaml "$1"/*.json 2>/dev/null || true)
}

for c in "$D"/cases/*/ "$D"/admin-cases/*/; do
	case "$c" in */_*) continue ;; esac
	base=$(dirname "$c")/_base
	prev=""
	for s in "$c"*/; do
		[ -e "$s/expect" ] || continue
		step "$s" "$base" | seed policy
		[ -n "$prev" ] && { step "$prev" "$base"; printf '\n#%%%%\n'; step "$s" "$base"; } | seed policy
		prev=$s
	done
done
for d in "$D"/golden/*/in "$D"/good "$D"/lint "$D"/lint-admin "$D"/recipes "$D"/permissive-admin \
	policies/demo policies/recipes; do
	[ -d "$d" ] && yamlcat $(ls "$d"/*.yaml "$d"/*.yml "$d"/*.json 2>/dev/null) | seed policy
done
for f in $(find "$D"/bad "$D"/good "$D"/golden -name '*.json' -o -path '*/bad/*.yaml'); do
	seed policy <"$f"
done

for t in policy; do
	mkdir -p tests/fuzz/corpus/$t
	before=$(ls tests/fuzz/corpus/$t | wc -l)
	echo "$t: merging $(ls "$SEEDS/$t" | wc -l) seeds"
	"$BIN/fuzz_$t" -merge=1 -use_counters=0 -max_len=65536 -rss_limit_mb=4096 tests/fuzz/corpus/$t "$SEEDS/$t" \
		>"$SEEDS/$t.log" 2>&1 || { tail -n 20 "$SEEDS/$t.log"; exit 1; }
	echo "$t: $(ls "$SEEDS/$t" | wc -l) seeds, corpus $before -> $(ls tests/fuzz/corpus/$t | wc -l) files"
done
