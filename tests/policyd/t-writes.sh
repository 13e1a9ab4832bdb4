#!/bin/sh
# Every way a policy file gets written reaches the kernel, proven by real connections: rename
# into place, in-place truncate + write, editor leftovers (swap files, vim's 4913 probe, a
# backup "~" holding other content) ignored while vim's rename-and-recreate save is followed,
# a ConfigMap-style "..data" symlink swap (the changed key has no event of its own), the
# directory removed (the last good state stays, /readyz says why) and recreated, and 500 files
# in one burst applied in a handful of transactions (counted by /metrics); removing them all at
# once is a mass delete: held until SIGHUP.
[ -n "$BASH_VERSION" ] || exec bash "$0" "$@"
set -u
. "$(dirname "$0")/lib.sh"
pd_setup
DENY=$(policy np x) OPEN=$(policy np x '[{namespaceSelector: {}}]')
check "policyd starts" pd_start

echo "$DENY" | put "$PD_DIR/np-x.yaml"
check "rename into place: deny" expect_conn y/a x/b 0
echo "$OPEN" >"$PD_DIR/np-x.yaml"
check "in-place truncate + write: open" expect_conn y/a x/b 1

# editor leftovers with other content must not count; the file itself still opens
echo "$DENY" >"$PD_DIR/.np-x.yaml.swp"
echo "$DENY" >"$PD_DIR/4913"
policy np-backup x >"$PD_DIR/np-x.yaml~"
echo "$DENY" >"$PD_DIR/.hidden.yaml"
sleep 0.5
check "swap file, 4913, backup~, dotfile ignored: still open" expect_conn y/a x/b 1
rm -f "$PD_DIR/.np-x.yaml.swp" "$PD_DIR/4913" "$PD_DIR/np-x.yaml~" "$PD_DIR/.hidden.yaml"
# vim's save with backupcopy=auto: rename the file to a backup, write a new one, drop the backup
mv "$PD_DIR/np-x.yaml" "$PD_DIR/np-x.yaml~" && echo "$DENY" >"$PD_DIR/np-x.yaml" &&
	rm "$PD_DIR/np-x.yaml~"
check "vim-style save (rename away, recreate): deny" expect_conn y/a x/b 0

# ConfigMap volume: visible names are symlinks through ..data -> ..TIMESTAMP/
CM=$NP_TMP/cm
mkdir -p "$CM/..t1" && echo "$DENY" >"$CM/..t1/np-x.yaml"
ln -s ..t1 "$CM/..data" && ln -s ..data/np-x.yaml "$CM/np-x.yaml"
rm "$PD_DIR/np-x.yaml"
mv "$PD_DIR"/* "$CM/" # the base inventory joins the ConfigMap's visible names
check "restart on a ConfigMap-style directory" sh -c "kill -TERM $PD_PID; wait $PD_PID 2>/dev/null; true"
PD_PID=""
rm -rf "$PD_DIR" && ln -s "$CM" "$PD_DIR"
check "  policyd starts on it" pd_start
check "  deny from the ConfigMap" expect_conn y/a x/b 0
mkdir "$CM/..t2" && echo "$OPEN" >"$CM/..t2/np-x.yaml"
ln -s ..t2 "$CM/..data_tmp" && mv -T "$CM/..data_tmp" "$CM/..data" && rm -rf "$CM/..t1"
check "..data swap (no event names the changed key): open" expect_conn y/a x/b 1
pd_stop TERM
rm "$PD_DIR" && mkdir "$PD_DIR" && cp -L "$CM"/*.yaml "$PD_DIR/"
check "restart on a plain directory again" pd_start

# the directory removed: nothing changes in the kernel, /readyz says why; recreated: applied
echo "$DENY" | put "$PD_DIR/np-x.yaml"
check "deny before the directory goes" expect_conn y/a x/b 0
SAVE=$NP_TMP/save && mkdir "$SAVE" && cp "$PD_DIR"/*.yaml "$SAVE/"
rm -rf "$PD_DIR"
sleep 0.5
check "directory removed: still denied (last good state)" expect_conn y/a x/b 0
np_node curl -s http://127.0.0.1:9753/readyz >"$NP_TMP/ready.out"; cat "$NP_TMP/ready.out"
check "  /readyz says the directory is missing" grep -q "missing" "$NP_TMP/ready.out"
mkdir "$PD_DIR" && cp "$SAVE"/*.yaml "$PD_DIR/" && echo "$OPEN" | put "$PD_DIR/np-x.yaml"
check "directory recreated with an opening policy: open" expect_conn y/a x/b 1

# 500 files in one burst: a handful of transactions
STAGE=$NP_TMP/stage && mkdir "$STAGE"
for i in $(seq 1 499); do
	printf 'apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: p%s\n  namespace: z\nspec:\n  podSelector:\n    matchLabels: {pod: none-%s}\n  policyTypes: [Ingress]\n' $i $i >"$STAGE/burst-$i.yaml"
done
policy zdeny z >"$STAGE/burst-500.yaml"
check "metrics before the burst" pd_metrics "$NP_TMP/m0"
T0=$(metric "$NP_TMP/m0" "netpol_transactions_total{}")
cp "$STAGE"/*.yaml "$PD_DIR/"
check "500 files: z isolated (y/a -> z/a blocked)" expect_conn y/a z/a 0
wait_policies() { # N
	local i
	for i in $(seq 100); do
		pd_ctl '{"cmd":"status"}' | grep -q "\"policies\":$1," && return 0
		sleep 0.1
	done
	pd_ctl '{"cmd":"status"}' >&2; return 1
}
check "  all 501 policies in the model" wait_policies 501
check "metrics after the burst" pd_metrics "$NP_TMP/m1"
T1=$(metric "$NP_TMP/m1" "netpol_transactions_total{}")
echo "    transactions for the burst: $((T1 - T0))"
check "  in a handful of transactions (1 <= $((T1 - T0)) <= 10)" [ $((T1 - T0)) -le 10 -a $((T1 - T0)) -ge 1 ]

# removing them all at once removes most objects: held until SIGHUP
rm "$PD_DIR"/burst-*.yaml
sleep 1
check "mass delete held: z stays isolated" expect_conn y/a z/a 0
np_node curl -s http://127.0.0.1:9753/readyz >"$NP_TMP/ready.out"; cat "$NP_TMP/ready.out"
check "  /readyz says the mass-delete guard holds objects" grep -q "mass-delete" "$NP_TMP/ready.out"
kill -HUP "$PD_PID"
check "SIGHUP applies the deletion: z open" expect_conn y/a z/a 1
check "  all back to one policy" wait_policies 1
pd_finish
