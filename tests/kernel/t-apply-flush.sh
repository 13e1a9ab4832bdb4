#!/bin/sh
# status and flush: in sync right after apply; drifted (naming the difference) after hand edits
# with nft; apply repairs; per-policy counters printed; flush removes both tables (and is fine
# when they are absent); a PERSIST table outlives its owner and a new process re-claims it.
# Another firewall's table in the same netns is left exactly as it was throughout.
. "$(dirname "$0")/nsenv.sh"
N=np-$$-flush
NSES="$N"
fail=0
ns() { ip netns exec $N "$@"; }
check() { # DESCRIPTION EXPECTED-RC PATTERN...
	d=$1 want=$2; shift 2
	ns "$NETPOL" status "$TMP/a" >"$TMP/st" 2>&1
	rc=$?
	[ $rc = "$want" ] || { echo "$d: status exit $rc, expected $want"; cat "$TMP/st"; fail=1; }
	for p in "$@"; do
		grep -q -- "$p" "$TMP/st" || { echo "$d: status lacks '$p':"; cat "$TMP/st"; fail=1; }
	done
}
ip netns add $N || exit 1
case_assemble "$SRC/tests/data/cases/extra-ipblock-except/1" "$TMP/a" >/dev/null || exit 1

# another firewall's table, which apply, status and flush must leave exactly as it is
ns nft -f - <<'NFT' || { echo "could not create the foreign table"; exit 1; }
table inet other {
	set s { type ipv4_addr; elements = { 10.200.0.11 } }
	chain c { type filter hook forward priority 0; policy accept; ip saddr @s counter drop; }
}
NFT
ns nft list table inet other >"$TMP/other.before"
other_intact() { # WHEN
	ns nft list table inet other >"$TMP/other.now" 2>&1 && cmp -s "$TMP/other.before" "$TMP/other.now" ||
		{ echo "$1: the foreign table inet other changed:"; diff "$TMP/other.before" "$TMP/other.now"; fail=1; }
}
check "before apply" 1 "table inet netpol: absent" "^drifted"
ns "$NETPOL" apply "$TMP/a" >/dev/null || { echo "apply failed"; exit 1; }
check "after apply" 0 "^in sync" "table bridge netpol-spoof: in sync" \
	"x/from-24-except-28 ingress: 0 packets, 0 bytes"
other_intact "after apply"

# hand edits: the table persists without an owner, so nft may change it
ns nft add element inet netpol ing4 '{ 10.9.9.9 : goto ing-x/a }' || { echo "nft add element failed"; fail=1; }
ns nft delete element bridge netpol-spoof pod-port '{ "veth-xb" }' || { echo "nft delete element failed"; fail=1; }
ns nft add rule inet netpol ing-x/a accept || { echo "nft add rule failed"; fail=1; }
check "after hand edits" 1 "^drifted" "set ing4: extra element 10.9.9.9 : goto ing-x/a" \
	'set pod-port: missing element "veth-xb"' "chain ing-x/a: rules differ (7 in the kernel, 6 expected)"
ns "$NETPOL" apply --stats "$TMP/a" >"$TMP/out" || { echo "repairing apply failed"; fail=1; }
grep -q "incremental" "$TMP/out" || { echo "repair was not incremental"; cat "$TMP/out"; fail=1; }
check "after repair" 0 "^in sync"

# flush: both our tables go, the foreign one stays; flushing again is fine
ns "$NETPOL" flush >/dev/null || { echo "flush failed"; fail=1; }
[ "$(ns nft list tables)" = "table inet other" ] || { echo "tables after flush:"; ns nft list tables; fail=1; }
other_intact "after flush"
ns "$NETPOL" flush >/dev/null || { echo "second flush failed"; fail=1; }
check "after flush" 1 "table inet netpol: absent"

# ownership: while an apply holds its socket, nobody else may edit; afterwards the table
# persists and a new process re-claims it
ns "$NETPOL" apply --hold-ms 3000 "$TMP/a" >"$TMP/holder" 2>&1 &
HOLDER=$!
for i in 1 2 3 4 5 6 7 8 9 10; do grep -q "^netpol: " "$TMP/holder" && break; sleep 0.2; done
ns nft list table inet netpol | grep -q "flags owner" || { echo "table not owned while held"; fail=1; }
if ns nft add element inet netpol ing4 '{ 10.9.9.8 : goto ing-x/a }' 2>"$TMP/err"; then
	echo "another process could edit an owned table"; fail=1
fi
grep -q "Operation not permitted" "$TMP/err" || { echo "expected EPERM:"; cat "$TMP/err"; fail=1; }
wait $HOLDER; HOLDER=""
ns nft list table inet netpol >/dev/null 2>&1 || { echo "the table did not outlive its owner"; fail=1; }
check "after the owner exited" 0 "^in sync"
ns "$NETPOL" apply --hold-ms 3000 "$TMP/a" >"$TMP/holder2" 2>&1 &
HOLDER=$!
for i in 1 2 3 4 5 6 7 8 9 10; do grep -q "^netpol: " "$TMP/holder2" && break; sleep 0.2; done
ns nft list table inet netpol | grep -q "flags owner" || { echo "a second process did not re-claim the table"; fail=1; }
wait $HOLDER; HOLDER=""
exit $fail
