#!/bin/sh
# Input errors (exit 2, file:line:col) and a batch the kernel rejects (exit 1) change nothing,
# and a kernel error names the policy that produced the rejected message. Two ways to get a
# rejection: a hidden test flag that adds a rule jumping to a missing chain (attributed like the
# policy chain it lands in), and a table another live process owns (NFT_TABLE_F_OWNER: EPERM).
# Each time the kernel must still hold the last good ruleset.
. "$(dirname "$0")/nsenv.sh"
N=np-$$-fail
NSES="$N"
fail=0
# the ruleset, without the ownership marks (flags owner / # progname) a live owner adds
listing() { ip netns exec $N nft list ruleset | sed -e 's/ # progname.*//' -e '/^[[:space:]]*flags /d'; }
ip netns add $N || exit 1
case_assemble "$SRC/tests/data/cases/default-deny-ingress/1" "$TMP/a" >/dev/null || exit 1
case_assemble "$SRC/tests/data/cases/extra-ipblock-except/1" "$TMP/b" >/dev/null || exit 1

ip netns exec $N "$NETPOL" apply "$TMP/a" >/dev/null || { echo "apply A failed"; exit 1; }
listing >"$TMP/before"

# 0. input errors: exit 2, the kernel is not touched
cp -r "$TMP/b" "$TMP/bad"; cp "$SRC/tests/data/bad/bad-cidr/policy.yaml" "$TMP/bad/zz-bad.yaml"
ip netns exec $N "$NETPOL" apply "$TMP/bad" >"$TMP/out" 2>&1
rc=$?
[ $rc = 2 ] || { echo "input errors: expected exit 2, got $rc"; cat "$TMP/out"; fail=1; }
grep -q 'zz-bad.yaml:10:15: error: invalid CIDR' "$TMP/out" || { echo "input errors: no file:line:col record"; cat "$TMP/out"; fail=1; }
listing >"$TMP/after"
cmp -s "$TMP/before" "$TMP/after" || { echo "an input error changed the ruleset"; diff "$TMP/before" "$TMP/after" | head; fail=1; }

# 1. injected bad rule on top of a real change (A -> B)
ip netns exec $N "$NETPOL" apply --inject-error "$TMP/b" >"$TMP/out" 2>&1
rc=$?
cat "$TMP/out"
[ $rc = 1 ] || { echo "expected exit 1, got $rc"; fail=1; }
grep -q "policy x/from-24-except-28 ingress rule 0 (rule in chain pol-x/from-24-except-28-in" "$TMP/out" ||
	{ echo "the error does not name the policy and chain"; fail=1; }
grep -q "kernel said: No such file or directory" "$TMP/out" || { echo "the kernel's reason is missing"; fail=1; }
grep -q "nothing was changed" "$TMP/out" || { echo "no 'nothing was changed'"; fail=1; }
listing >"$TMP/after"
cmp -s "$TMP/before" "$TMP/after" || { echo "the ruleset changed:"; diff "$TMP/before" "$TMP/after" | head; fail=1; }

# 2. the kernel's dry run (--check) sees the same error and commits nothing either
ip netns exec $N "$NETPOL" apply --check --inject-error "$TMP/b" >"$TMP/out" 2>&1
[ $? = 1 ] && grep -q "kernel said" "$TMP/out" || { echo "--check did not report the error"; cat "$TMP/out"; fail=1; }
ip netns exec $N "$NETPOL" apply --check "$TMP/b" >"$TMP/out" 2>&1 || { echo "--check of a good batch failed"; cat "$TMP/out"; fail=1; }
listing >"$TMP/after"
cmp -s "$TMP/before" "$TMP/after" || { echo "--check changed the ruleset"; fail=1; }

# 3. another live process owns the table: EPERM, nothing changed
ip netns exec $N "$NETPOL" apply --hold-ms 4000 "$TMP/a" >"$TMP/holder" 2>&1 &
HOLDER=$!
for i in 1 2 3 4 5 6 7 8 9 10; do grep -q "^netpol: " "$TMP/holder" 2>/dev/null && break; sleep 0.2; done
ip netns exec $N "$NETPOL" apply "$TMP/b" >"$TMP/out" 2>&1
rc=$?
cat "$TMP/out"
[ $rc = 1 ] || { echo "expected exit 1 while another process owns the table, got $rc"; fail=1; }
grep -q "create table netpol: kernel said: Operation not permitted" "$TMP/out" || { echo "EPERM not reported against the table"; fail=1; }
listing >"$TMP/after"
cmp -s "$TMP/before" "$TMP/after" || { echo "the ruleset changed under another owner"; fail=1; }
wait $HOLDER; HOLDER=""
# the owner is gone, the table persists and can be re-claimed
ip netns exec $N "$NETPOL" apply "$TMP/b" >"$TMP/out" 2>&1 || { echo "re-claiming after the owner exited failed"; cat "$TMP/out"; fail=1; }
exit $fail
