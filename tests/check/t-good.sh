#!/bin/sh
# Clean input: exit 0, exact summary, --json is a JSON array on stdout; editor leftovers and
# other files are ignored; an unreadable directory exits 2.
: "${NETPOL:?}"
cd "${NETPOL_SRC:-.}/tests/data" || exit 2
fail=0
out=$("$NETPOL" check good 2>/dev/null); rc=$?
[ $rc -eq 0 ] || { echo "FAIL: good exit $rc"; fail=1; }
[ "$out" = "0 errors, 0 warnings; 3 namespaces, 4 pods, 3 policies" ] ||
	{ echo "FAIL: summary: $out"; fail=1; }
err=$("$NETPOL" check good 2>&1 >/dev/null)
printf '%s\n' "$err" | grep -qF "good/40-more.json:11:34: note: skipping kind ConfigMap" ||
	{ echo "FAIL: note for ConfigMap missing: $err"; fail=1; }
json=$("$NETPOL" check good --json 2>/dev/null)
case $json in "["*"]") ;; *) echo "FAIL: --json: $json"; fail=1 ;; esac
if command -v python3 >/dev/null; then
	printf '%s' "$json" | python3 -c '
import json, sys
recs = json.load(sys.stdin)
assert recs == [{"severity": "note", "file": "good/40-more.json", "line": 11, "column": 34,
                 "pointer": "/items/2/kind",
                 "message": "skipping kind ConfigMap (netpol reads NetworkPolicy, ClusterNetworkPolicy, "
                            "AdminNetworkPolicy, BaselineAdminNetworkPolicy, Namespace, Pod, Node)"}], recs
' || { echo "FAIL: --json content"; fail=1; }
fi

tmp=$(mktemp -d) || exit 2
trap 'rm -rf "$tmp"' EXIT
trap 'exit 2' INT TERM HUP # so the EXIT trap runs on a signal too (dash)
cp good/* "$tmp/"
for junk in .hidden.yaml policy.yaml~ '#policy.yaml#' .policy.yaml.swp notes.txt README; do
	printf '{{{ not: [valid\n' >"$tmp/$junk"
done
mkdir "$tmp/sub.yaml" # a directory named like a file: not recursive, skipped
out=$("$NETPOL" check "$tmp" 2>&1); rc=$?
[ $rc -eq 0 ] || { echo "FAIL: leftovers not ignored (exit $rc): $out"; fail=1; }

"$NETPOL" check "$tmp/does-not-exist" >/dev/null 2>&1; rc=$?
[ $rc -eq 2 ] || { echo "FAIL: missing dir exit $rc, want 2"; fail=1; }
out=$("$NETPOL" check "$tmp/does-not-exist" 2>&1)
printf '%s\n' "$out" | grep -q "cannot read directory" || { echo "FAIL: message: $out"; fail=1; }
"$NETPOL" check >/dev/null 2>&1; rc=$?
[ $rc -eq 2 ] || { echo "FAIL: usage exit $rc"; fail=1; }

# one bad file does not hide the good ones: the valid objects are still counted
printf 'kind: Pod\napiVersion: v1\nmetadata: {name: x, namespace: prod}\nspec: {hostNetwork: 3}\n' \
	>"$tmp/50-bad.yaml"
out=$("$NETPOL" check "$tmp" 2>/dev/null); rc=$?
[ $rc -eq 2 ] || { echo "FAIL: bad file exit $rc"; fail=1; }
[ "$out" = "1 error, 0 warnings; 3 namespaces, 4 pods, 3 policies" ] ||
	{ echo "FAIL: summary with one bad file: $out"; fail=1; }
exit $fail
