#!/bin/sh
# What a local client cannot do to policyd. The control socket: another user (nobody) is
# refused by its credentials, also once the socket file is chmod 0666 (before that the mode
# bits refuse it), and the refusal is logged and counted; a 1 MB request line is answered with
# an error and its connection closed, and the next client is served; 1,000 idle connections
# are held while policy changes are enforced in their usual time (event -> enforced measured
# before and during, printed); at the connection cap the connection idle longest gives way to a
# new one, and idle connections are closed after --control-idle. The HTTP endpoint: while a
# flood of /metrics clients and a slowloris (a request trickled a byte a second) run, changes
# are still enforced promptly (printed); the slowloris gets 8 connections from its address (the
# rest are cut at once) and each is cut within the 30 s lifetime; a silent connection is
# closed after the 10 s idle timeout; a 64 KiB request header is refused; afterwards /metrics
# answers again.
[ -n "$BASH_VERSION" ] || exec bash "$0" "$@"
set -u
. "$(dirname "$0")/lib.sh"
LIMITS="/usr/bin/python3 $NP_SRC/tests/tools/limits.py"
pd_setup
pd_flip_pair
SOCK=$PD_STATE/policyd.sock
# every address of 127/8 is loopback: the HTTP clients come from different ones, so the
# per-address limit of one does not meet another's
check "policyd starts (HTTP on every address of its netns)" pd_start --metrics 0.0.0.0:9753
has() { printf '%s\n' "$1" | grep -Eq -- "$2"; } # has TEXT REGEX
lacks() { ! has "$@"; }
status_field() { pd_ctl '{"cmd":"status"}' | jq -r ".$1"; }
latency() { $LIMITS latency "$SOCK" "$PD_DIR/np-x.yaml" "$NP_TMP/a.yaml" "$NP_TMP/b.yaml" "${1:-10}"; }
median() { sed -n 's/.*median \([0-9.]*\).*/\1/p' "$1"; }

# ---- the control socket: credentials ----
# nobody must reach the socket to show the credentials check: the directories are made
# traversable (not writable: policyd refuses a state directory others can write)
chmod 0711 "$NP_TMP" "$PD_STATE"
as_nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }
# it reads before it writes: policyd's answer comes at once, the connection closes after it
ask_as_nobody() { as_nobody socat -t 3 -u "UNIX-CONNECT:$SOCK" - 2>&1; }
out=$(ask_as_nobody)
echo "    nobody, socket 0600: $out"
check "nobody is refused by the socket's mode (0600)" has "$out" 'Permission denied'
chmod 0666 "$SOCK"
out=$(ask_as_nobody)
echo "    nobody, socket 0666: $out"
check "nobody is refused by its credentials once the socket is 0666" \
	has "$out" 'permission denied: the control socket serves root'
check "  and gets no status" lacks "$out" generation
check "  the refusal is counted" [ "$(status_field control.refused_peer)" = 1 ]
check "  and logged with the uid" grep -q "refused a connection of uid 65534" "$PD_LOG"
check "root is still served" [ "$(status_field ok)" = true ]

# ---- a 1 MB line ----
$LIMITS long-line "$SOCK" 1048576 >"$NP_TMP/long.out"
sed 's/^/    /' "$NP_TMP/long.out"
check "a 1 MB line is answered with an error" grep -q 'request line longer than 65536 bytes' "$NP_TMP/long.out"
check "  and its connection closed" grep -q '^closed$' "$NP_TMP/long.out"
check "  the next client is served" [ "$(status_field ok)" = true ]
check "  counted" [ "$(status_field control.closed_long_line)" = 1 ]

# ---- 1,000 idle connections during syncs ----
latency 10 >"$NP_TMP/lat0.out" || echo "latency failed"
echo "    no client held:        $(cat "$NP_TMP/lat0.out")"
pd_bg $LIMITS hold "$SOCK" 1000 "$NP_TMP/stop-hold" "$NP_TMP/hold.out"
check "1,000 connections open" pd_wait_for test -e "$NP_TMP/hold.out.ready"
check "  policyd holds them all (1,001 with this request)" [ "$(status_field control.clients)" = 1001 ]
latency 10 >"$NP_TMP/lat1.out" || echo "latency failed"
echo "    1,000 clients held:    $(cat "$NP_TMP/lat1.out")"
m0=$(median "$NP_TMP/lat0.out") m1=$(median "$NP_TMP/lat1.out")
# "its usual time": within 3 times the median without them, plus 50 ms for a loaded machine
check "  changes enforced in their usual time (median $m1 ms vs $m0 ms)" \
	awk -v a="$m1" -v b="$m0" 'BEGIN { exit !(a != "" && a <= 3 * b + 50) }'
touch "$NP_TMP/stop-hold"
check "  none of them was closed by policyd" pd_wait_for grep -q "held 1000 closed 0" "$NP_TMP/hold.out"

# ---- the cap and the idle timeout ----
pd_stop TERM
check "policyd restarts with 50 clients at most and a 2 s idle timeout" \
	pd_start --control-clients 50 --control-idle 2s
chmod 0711 "$PD_STATE"
rm -f "$NP_TMP/stop-hold" "$NP_TMP/hold.out"*
pd_bg $LIMITS hold "$SOCK" 60 "$NP_TMP/stop-hold" "$NP_TMP/hold.out"
pd_wait_for test -e "$NP_TMP/hold.out.ready"
check "  60 connections: a new one is still served" [ "$(status_field ok)" = true ]
check "  the 11 idle longest gave way (10 for the holder's last ones, 1 for that request)" \
	[ "$(status_field control.closed_evicted)" = 11 ]
sleep 3.5
touch "$NP_TMP/stop-hold"
check "  after 2 s idle every held connection is closed" \
	pd_wait_for grep -q "held 60 closed 60" "$NP_TMP/hold.out"
check "  counted as idle" [ "$(status_field control.closed_idle)" -ge 49 ]
pd_stop TERM
check "policyd restarts with the defaults" pd_start --metrics 0.0.0.0:9753

# ---- HTTP: a flood and a slowloris during syncs ----
big=$(np_node $LIMITS http-big 127.0.0.1 9753 127.0.0.5 65536)
echo "    a 64 KiB header: $big"
check "a 64 KiB request header is refused" has "$big" ' 4[0-9][0-9] |^closed$'
H=$NP_TMP/http
np_node $LIMITS http-idle 127.0.0.1 9753 127.0.0.4 "$H.idle" &
PD_PIDS="$PD_PIDS $!"
T0=$(date +%s)
sleep 0.5
np_node $LIMITS slowloris 127.0.0.1 9753 127.0.0.1 12 "$NP_TMP/stop-http" "$H.slow" &
PD_PIDS="$PD_PIDS $!"
sleep 1 # the slowloris has its connections before the flood takes the rest
np_node $LIMITS http-flood 127.0.0.1 9753 127.0.0.3 40 "$NP_TMP/stop-http" "$H.flood" &
PD_PIDS="$PD_PIDS $!"
sleep 2
latency 10 >"$NP_TMP/lat2.out" || echo "latency failed"
echo "    HTTP flood + slowloris: $(cat "$NP_TMP/lat2.out")"
m2=$(median "$NP_TMP/lat2.out")
check "  changes enforced promptly (median $m2 ms vs $m0 ms)" \
	awk -v a="$m2" -v b="$m0" 'BEGIN { exit !(a != "" && a <= 3 * b + 50) }'
# the slowloris is cut by the lifetime (30 s after it opened); the idle client after 10 s
while [ "$(( $(date +%s) - T0 ))" -lt 34 ] && ! [ -s "$H.slow" ]; do sleep 1; done
touch "$NP_TMP/stop-http"
for f in "$H.idle" "$H.slow" "$H.flood"; do pd_wait_for test -s "$f"; done
sed 's/^/    /' "$H.idle" "$H.slow" "$H.flood"
check "the flood was served (requests answered)" grep -Eq "ok [1-9]" "$H.flood"
check "the slowloris got 8 connections, the other 4 cut at once" \
	grep -q "connections 12 cut_at_once 4 " "$H.slow"
check "  every one of them cut within its 30 s lifetime" \
	awk '{ for (i = 1; i < NF; i++) if ($i == "longest_s") exit !($(i + 1) <= 33) }' "$H.slow"
check "a silent connection is closed after the 10 s idle timeout" \
	awk '{ exit !($2 >= 9 && $2 <= 13) }' "$H.idle"
check "/metrics answers again" pd_metrics "$NP_TMP/m"
check "  and counts the control clients" grep -q "^netpol_control_clients" "$NP_TMP/m"
check "the last change is enforced by packets (z/a -> x/a denied)" expect_conn z/a x/a 0
check "SIGTERM exits 0 (no leak under ASan)" pd_stop TERM
pd_finish
