#!/bin/sh
# policyd's page in a real browser, on the 9-pod harness: x/a-from-b admits only x/b to x/a:80;
# after x/c -> x/a:80 is dropped and x/b -> x/a:80 connects, headless Chromium (Debian's, driven
# over --remote-debugging-pipe by tests/tools/cdp.py, Python stdlib only) loads /ui/ from
# policyd's HTTP address and finds, in the rendered DOM, a row for each naming both pods, the
# verdict and the policy; the heatmap cell x/c -> x/a says dropped and observed; a click on the
# dropped row shows the explain chain naming the policy, the nft chain and its live counter;
# the map draws the dropped edge red with its counts in text; the policy panel counts the
# policy's hits; hostile text in the URL shows as text; once x/a's isolation is deleted from the
# kernel behind policyd's back and x/c connects, the heatmap flags that cell as a mismatch; the
# browser logs no error and asks nothing of any other address. Each view's screenshot goes to $NP_TMP/shots (UI_SHOTS=DIR to
# keep them, as enforcer/policyd/ui-shots/ holds). The JSON endpoints validate against the flow
# schema; anything outside /ui/ and /api/v1/ is 404, a POST 405; every answer carries the CSP.
[ -n "$BASH_VERSION" ] || exec bash "$0" "$@"
set -u
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/flows.sh"
[ -x /usr/lib/chromium/chromium ] || { echo "needs chromium (tests/install-deps.sh)"; exit 2; }
T0=$(date +%s.%N)
pd_setup
{ a_from_b '[{port: 80}]'; c_no_egress; } >"$PD_DIR/flows-policies.yaml" # y/c: never hit
# no owner flag, monitor or periodic resync: the last part deletes x/a's isolation from the
# kernel behind policyd's back, and nothing may repair it before the page shows the mismatch
check "policyd starts, collecting" pd_start --no-owner --no-monitor --resync 0
URL=http://127.0.0.1:9753

check "x/c -> x/a:80 is dropped" expect_conn x/c x/a 0
check "x/b -> x/a:80 connects" expect_conn x/b x/a 1
check "y/a -> x/a:80 is dropped too" expect_conn y/a x/a 0
check "z/b -> y/c:80 connects (no policy isolates either)" expect_conn z/b y/c 1
check "  policyd recorded the drop" flows_wait \
	'select(.verdict == "DROPPED" and .source.pod_name == "c" and .destination.pod_name == "a")'
check "  and the connection" flows_wait \
	'select(.verdict == "FORWARDED" and .source.pod_name == "b" and .destination.pod_name == "a")'

# ---- HTTP: the JSON, its schema, what is refused ----
get() { np_node curl -s --max-time 10 "$@"; }
code() { np_node curl -s -o /dev/null -w '%{http_code}' --max-time 10 "$@"; }
get "$URL/api/v1/flows" >"$NP_TMP/api-flows.json"
jq -c '.flows[]' "$NP_TMP/api-flows.json" >"$NP_TMP/api-flows.jsonl"
check "/api/v1/flows: every record validates against the flow schema" \
	flows_valid "$NP_TMP/api-flows.jsonl"
flows_json "$NP_TMP/cli-flows.jsonl"
check "  the same records as netpol flows -o json prints" \
	[ "$(jq -cS 'del(.netpol.folded)' "$NP_TMP/api-flows.jsonl" | sort | md5sum)" = \
	  "$(jq -cS 'del(.netpol.folded)' "$NP_TMP/cli-flows.jsonl" | sort | md5sum)" ]
get "$URL/api/v1/flows?verdict=DROPPED&to-pod=x/a" >"$NP_TMP/api-drops.json"
check "  ?verdict=DROPPED&to-pod=x/a: only drops to x/a, x/c's among them" jq -e \
	'(.flows | length) > 0 and all(.flows[]; .verdict == "DROPPED" and .destination.pod_name == "a")
	 and any(.flows[]; .source.pod_name == "c")' "$NP_TMP/api-drops.json"
NEXT=$(jq .next_seq "$NP_TMP/api-flows.json")
# page through the ring two records at a time from the first: the same records, none skipped
page_all() {
	local c=1 n=0
	while [ "$c" -lt "$NEXT" ] && [ $n -lt 100 ]; do
		get "$URL/api/v1/flows?since=$c&limit=2" >"$NP_TMP/page.json" || return 1
		jq -r ".flows[].netpol.seq | select(. < $NEXT)" "$NP_TMP/page.json"
		c=$(jq .next_seq "$NP_TMP/page.json")
		n=$((n + 1))
	done
}
check "  ?since=1&limit=2, then since=next_seq: every record in order, none skipped" \
	[ "$(page_all | tr '\n' ' ')" = \
	  "$(jq -r '.flows[] | select(.netpol.seq < '"$NEXT"') | .netpol.seq' "$NP_TMP/api-flows.json" | tr '\n' ' ')" ]
check "  ?since=next_seq: nothing new yet" jq -e '.flows == []' \
	<(get "$URL/api/v1/flows?since=$NEXT&verdict=DROPPED&from-pod=y/c")
get "$URL/api/v1/reach?namespace=x&port=80" >"$NP_TMP/api-reach.json"
check "/api/v1/reach?namespace=x: the evaluator's x/c -> x/a is 0, observed dropped" jq -e \
	'(.pods | index("x/c")) as $i | (.pods | index("x/a")) as $j |
	 .matrix[$i][$j] == 0 and .observed[$i][$j].dropped > 0 and .mismatches == []' \
	"$NP_TMP/api-reach.json"
check "  the same matrix as netpol reach --json over the same directory" \
	[ "$(jq -c '{probe, matrix}' <(np_node "$NETPOL" reach "$PD_DIR" --json) | jq -c '.matrix')" = \
	  "$(get "$URL/api/v1/reach?port=80" | jq -c .matrix)" ]
get "$URL/api/v1/explain?from=x/c&to=x/a&port=80/TCP" >"$NP_TMP/api-explain.json"
check "/api/v1/explain: DROPPED at x/a's ingress by x/a-from-b, its drop point's counter" jq -e \
	'.verdict == "DROPPED" and .ingress.isolating == ["x/a-from-b"] and
	 .ingress.nft.chain == "ing-x/a" and .ingress.nft.counter.packets > 0' "$NP_TMP/api-explain.json"
check "  the same verdict as netpol explain --json" \
	[ "$(jq -cS 'del(.ingress.nft, .egress.nft, .counters, .generation)' "$NP_TMP/api-explain.json")" = \
	  "$(np_node "$NETPOL" explain "$PD_DIR" --from x/c --to x/a --port 80/TCP --json | jq -cS .)" ]
check "/api/v1/policies: x/a-from-b selects x/a, counted hits, not never-hit" jq -e \
	'.policies[] | select(.name == "a-from-b") | .pods == ["x/a"] and .hits.ingress > 0 and
	 .never_hit == false' <(get "$URL/api/v1/policies")
check "a POST gets 405" [ "$(code -X POST "$URL/api/v1/flows")" = 405 ]
check "a DELETE gets 405" [ "$(code -X DELETE "$URL/ui/")" = 405 ]
for p in /etc/passwd /ui /ui/../metrics2 /ui/nope.js /api/v1/nope /api/v2/flows /api/v1/flows/x; do
	check "GET $p gets 404" [ "$(code --path-as-is "$URL$p")" = 404 ]
done
check "a bad filter gets 400 with the reason in JSON" jq -e '.error | test("verdict")' \
	<(get "$URL/api/v1/flows?verdict=MAYBE")
check "a filter that is not UTF-8 gets 400 (found by fuzz_http: it aborted policyd)" \
	[ "$(code "$URL/api/v1/flows?verdict=DROP%DCED")" = 400 ]
check "  and policyd still answers" [ "$(code "$URL/healthz")" = 200 ]
np_node curl -s -D "$NP_TMP/headers" -o /dev/null "$URL/ui/"
check "/ui/ carries Content-Security-Policy: default-src 'self'" \
	grep -qi "^Content-Security-Policy: default-src 'self';" "$NP_TMP/headers"
check "  and is HTML" grep -qi '^Content-Type: text/html' "$NP_TMP/headers"
check "a script is served as JavaScript" \
	[ "$(np_node curl -s -o /dev/null -w '%{content_type}' "$URL/ui/app.js")" = \
	  "text/javascript; charset=utf-8" ]

# ---- a label value holding <script> never reaches the page: the parser refuses it ----
sed -e 's/name: b$/name: evil/' -e 's/pod: b$/pod: "<script>alert(1)<\/script>"/' \
	"$PD_DIR/pod-x-b.yaml" >"$PD_DIR/pod-x-evil.yaml"
check "a pod with label value <script> is refused, named in policyd's log" \
	pd_wait_for grep -q 'invalid label value "<script>' "$PD_LOG"
check "  and appears in no answer" \
	sh -c "! ip netns exec $NP_NODE curl -s $URL/api/v1/policies $URL/api/v1/reach | grep -q script"
rm -f "$PD_DIR/pod-x-evil.yaml"

# ---- the page in a real browser ----
SHOTS=${UI_SHOTS:-$NP_TMP/shots}
T1=$(date +%s.%N)
cat >"$NP_TMP/break.sh" <<EOF
ip netns exec $NP_NODE nft delete element inet netpol ing4 "{ $(np_pod_addr x/a 4) }" || exit 1
echo "$(np_pod_ns x/c) $(np_pod_addr x/a 4) tcp 80" >"$NP_TMP/p-break.in"
"$NP_AGENT" probe --timeout-ms 400 "$NP_TMP/p-break.in"
EOF
/usr/bin/python3 "$NP_SRC/tests/tools/uipage.py" "$NP_NODE" "$URL" "$SHOTS" "$NP_TMP" \
	"$NP_TMP/break.sh" &
UIPID=$!
PD_PIDS="$PD_PIDS $UIPID" # stopped on exit (it stops its browser by pid)
wait "$UIPID"
rc=$?
[ "$rc" = 0 ] || { PD_FAILS=$((PD_FAILS + 1)); echo "FAIL the page (see above)"; }
T2=$(date +%s.%N)
for s in flows why reach map policies narrow mismatch; do
	check "screenshot $s.png written (a PNG)" \
		sh -c "head -c 8 '$SHOTS/$s.png' | od -An -c | grep -q 'P   N   G'"
done
awk -v a="$T0" -v b="$T1" -v c="$T2" 'BEGIN { printf "    browser %.1f s; whole test %.1f s\n", c - b, c - a }' 
pd_finish
