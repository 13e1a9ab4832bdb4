#!/bin/sh
# The state directory full, then read-only: policyd keeps enforcing every change (a probe
# shows it), says what is wrong in its log, in /readyz (503) and in status (state_error), and
# once space returns (or the directory is writable again) saves its last good copies within
# seconds, says so, and is ready again; a restart then starts from the new copies. The state
# directory is a 1 MiB tmpfs mounted in a mount namespace this script creates for itself
# (unshare -m, private propagation): nothing is mounted in the machine's own namespace, and
# policyd, started from here inside the test's network namespace, sees the mount.
[ -n "$BASH_VERSION" ] || exec bash "$0" "$@"
if [ -z "${NP_PRIVATE_MOUNTS:-}" ]; then
	[ "$(id -u)" = 0 ] || { echo "needs root"; exit 77; }
	NP_PRIVATE_MOUNTS=1 exec unshare -m --propagation private bash "$0" "$@"
fi
set -u
. "$(dirname "$0")/lib.sh"
pd_setup
# the tmpfs goes before the temporary directory that holds its mount point is removed
trap '[ -n "$PD_PID" ] && pd_stop TERM; umount "$PD_STATE" 2>/dev/null; pd_down' EXIT
mkdir -m 0700 "$PD_STATE"
mount -t tmpfs -o size=1m,mode=0700 netpol-test-state "$PD_STATE" || { echo "tmpfs mount failed"; exit 1; }
echo "    $PD_STATE: $(findmnt -no SOURCE,FSTYPE,OPTIONS "$PD_STATE")"
policy np x '[{podSelector: {matchLabels: {pod: b}}}]' >"$PD_DIR/np-x.yaml"
check "policyd starts on the tmpfs state directory" pd_start
check "x/b -> x/a allowed" expect_conn x/b x/a 1
readyz() { np_node curl -s -o "$NP_TMP/readyz" -w '%{http_code}' http://127.0.0.1:9753/readyz; }
readyz_is() { [ "$(readyz)" = "$1" ]; }
status_field() { pd_ctl '{"cmd":"status"}' | jq -r ".$1"; }
lkg_is() { cmp -s "$PD_STATE/lkg/np-x.yaml" "$1"; }
lkg_is_not() { ! lkg_is "$1"; }
has() { printf '%s\n' "$1" | grep -Eq -- "$2"; }

# ---- full ----
dd if=/dev/zero of="$PD_STATE/fill" bs=64k 2>/dev/null
echo "    filled: $(df -h --output=avail "$PD_STATE" | tail -1 | tr -d ' ') left"
policy np x | put "$PD_DIR/np-x.yaml" # deny all ingress of x
cp "$PD_DIR/np-x.yaml" "$NP_TMP/deny.yaml"
check "full: the change is enforced (x/b -> x/a denied)" expect_conn x/b x/a 0
check "  the log says why the copies are not saved" \
	pd_wait_for grep -q "saving last good copies in $PD_STATE/lkg: No space left on device" "$PD_LOG"
check "  /readyz is 503" pd_wait_for readyz_is 503
sed 's/^/    readyz: /' "$NP_TMP/readyz"
check "  and names the state directory" grep -q "state directory: saving last good copies.*No space left" "$NP_TMP/readyz"
check "  status has state_error" has "$(status_field state_error)" 'No space left on device'
check "  status is not ready" test "$(status_field ready)" = false
check "  the last good copy on disk is still the previous one" lkg_is_not "$NP_TMP/deny.yaml"
rm -f "$PD_STATE/fill"
check "space back: the copies are saved (log)" pd_wait_for grep -q "last good copies saved again" "$PD_LOG"
check "  /readyz is 200" pd_wait_for readyz_is 200
check "  status has no state_error" test "$(status_field state_error)" = null
check "  the copy on disk is the enforced policy" lkg_is "$NP_TMP/deny.yaml"

# ---- read-only ----
mount -o remount,ro "$PD_STATE"
policy np x '[{podSelector: {matchLabels: {pod: b}}}]' | put "$PD_DIR/np-x.yaml"
cp "$PD_DIR/np-x.yaml" "$NP_TMP/allow.yaml"
check "read-only: the change is enforced (x/b -> x/a allowed)" expect_conn x/b x/a 1
check "  y/a -> x/a still denied" expect_conn y/a x/a 0
check "  the log says why" pd_wait_for grep -q "Read-only file system" "$PD_LOG"
check "  /readyz is 503" pd_wait_for readyz_is 503
mount -o remount,rw "$PD_STATE"
check "writable again: /readyz is 200" pd_wait_for readyz_is 200
check "  the copy on disk is the enforced policy" lkg_is "$NP_TMP/allow.yaml"
# a restart with the file now broken holds it at that copy: the saved one is what is enforced
echo "spec: [" >"$PD_DIR/np-x.yaml"
held_has() { has "$(status_field held)" "$1"; }
check "policyd stops" pd_stop TERM
check "a restart, np-x.yaml broken meanwhile" pd_start
check "  np-x.yaml is held at its saved copy" held_has np-x.yaml
check "  which is enforced: x/b -> x/a allowed" expect_conn x/b x/a 1
check "  y/a -> x/a denied" expect_conn y/a x/a 0
check "SIGTERM exits 0 (no leak under ASan)" pd_stop TERM
pd_finish
