#!/bin/sh
# Bad input keeps the last good state, per file: a file with an error keeps its previous
# policy enforcing (probed) while another file's change still applies; /readyz fails and names
# the file, line, column and JSON Pointer; /metrics counts it and says since when; the held
# file's last good content survives a restart (state directory copy); a half-written file is
# held until it is whole; fixing the file applies it and /readyz is 200 again.
[ -n "$BASH_VERSION" ] || exec bash "$0" "$@"
set -u
. "$(dirname "$0")/lib.sh"
pd_setup
check "policyd starts" pd_start
policy np x | put "$PD_DIR/np-x.yaml"
check "deny in x" expect_conn y/a x/b 0

# an opening edit with an error: port 70000
{ policy np x; printf '  ingress:\n  - ports:\n    - port: 70000\n'; } | put "$PD_DIR/np-x.yaml"
policy np y | put "$PD_DIR/np-y.yaml" # another file changes meanwhile
check "other file's change applies: x/a -> y/b blocked" expect_conn x/a y/b 0
sleep 0.3
check "bad file: its previous policy keeps enforcing (y/a -> x/b blocked)" expect_conn y/a x/b 0
readyz() { np_node curl -s -o "$NP_TMP/ready.out" -w '%{http_code}' http://127.0.0.1:9753/readyz; }
CODE=$(readyz); sed 's/^/    /' "$NP_TMP/ready.out"
check "/readyz is 503" [ "$CODE" = 503 ]
check "  and names the file, line:col and JSON Pointer" \
	grep -q "np-x.yaml:11:[0-9]*: error: .*/spec/ingress/0/ports/0/port" "$NP_TMP/ready.out"
check "the log has the same error" grep -q "np-x.yaml:11:[0-9]*: error" "$PD_LOG"
check "metrics" pd_metrics "$NP_TMP/m"
check "  netpol_config_errors 1" [ "$(metric "$NP_TMP/m" 'netpol_config_errors{}')" = 1 ]
SINCE=$(metric "$NP_TMP/m" 'netpol_config_held_since_seconds{file="np-x.yaml"}')
check "  netpol_config_held_since_seconds names the file ($SINCE)" \
	[ -n "$SINCE" ] && [ "${SINCE%%.*}" -gt 1700000000 ]
check "  netpol_policies{state=held} 1" [ "$(metric "$NP_TMP/m" 'netpol_policies{state="held"}')" = 1 ]

check "restart while the file is bad" pd_stop TERM
check "  the last good copy is in the state directory" grep -q "name: np" "$PD_STATE/lkg/np-x.yaml"
check "  policyd starts" pd_start
sleep 0.5
check "  the held file's last good policy still enforces after the restart" expect_conn y/a x/b 0
check "  status lists it as held with its last good content enforced" \
	sh -c "$PDTOOL ctl $PD_STATE/policyd.sock '{\"cmd\":\"status\"}' | grep -q '\"file\":\"np-x.yaml\".*\"last_good_enforced\":true'"

# half-written: the first lines of an opening policy only
policy np x '[{namespaceSelector: {}}]' >"$NP_TMP/open.yaml"
head -c 120 "$NP_TMP/open.yaml" >"$PD_DIR/np-x.yaml"
sleep 0.3
check "half-written file: still denied" expect_conn y/a x/b 0
cat "$NP_TMP/open.yaml" >"$PD_DIR/np-x.yaml"
check "the file made whole (fixed): open" expect_conn y/a x/b 1
CODE=$(readyz)
check "/readyz 200 again" [ "$CODE" = 200 ]
check "metrics: no config errors" pd_metrics "$NP_TMP/m2"
check "  netpol_config_errors 0" [ "$(metric "$NP_TMP/m2" 'netpol_config_errors{}')" = 0 ]

# a transaction the kernel rejects (a test-only bad rule in every batch): logged against the
# policy, retried once as a full replace, and the previous ruleset stays
pd_stop TERM
policy np x | put "$PD_DIR/np-x.yaml"
check "back to deny (by hand)" sh -c "ip netns exec $NP_NODE $NETPOL apply $PD_DIR >/dev/null"
check "  y/a -> x/b denied" expect_conn y/a x/b 0
cp "$NP_TMP/open.yaml" "$PD_DIR/np-x.yaml"
ip netns exec "$NP_NODE" "$POLICYD" --policy-dir "$PD_DIR" --state-dir "$PD_STATE" --metrics none --inject-error \
	>"$NP_TMP/reject.log" 2>&1 &
REJ=$!
sleep 2
kill -TERM "$REJ"; wait "$REJ" 2>/dev/null
sed -n '1,6p' "$NP_TMP/reject.log" | cut -c1-220 | sed 's/^/    /'
check "kernel rejection logged against the policy" grep -q "kernel: policy x/np" "$NP_TMP/reject.log"
check "  retried once as a full replace" grep -q "retrying as a full replace" "$NP_TMP/reject.log"
check "  the previous ruleset stays: y/a -> x/b still denied" expect_conn y/a x/b 0
pd_finish
