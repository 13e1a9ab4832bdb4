#!/bin/sh
# Files written with util/atomicio.h survive SIGKILL whole. A writer rewrites one file over
# and over with atomic_write_file (the writer of IPAM leases, network definitions, endpoint
# records and policyd's last-good copies), alternating two contents of different sizes (512
# and 768 KiB, numbered lines); it is killed with SIGKILL at a random instant, 200 times, a new
# writer each time. After every kill the file is exactly one of the two contents (cmp), never
# torn, mixed or empty, and nothing else is left in its directory but at most one hidden
# temporary ".f.XXXXXX", from the write the kill interrupted (every reader of the state
# directory skips dotfiles; no later write touches it; the test removes it). The kills must
# land mid-write often (a temporary left) and both contents must be seen, or the run proved
# nothing. A control writer that writes in place (truncate + write) must be caught torn: the
# check can fail.
case ${NETPOL_BUILD:-build} in
/*) W=$NETPOL_BUILD/tests/atomic_writer ;;
*) W=${NETPOL_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}/${NETPOL_BUILD:-build}/tests/atomic_writer ;;
esac
[ -x "$W" ] || { echo "no atomic_writer at $W (make tests-built)"; exit 2; }
D=$(mktemp -d /tmp/netpol-atomic.XXXXXX) || exit 2
SERVER="" pid=""
trap 'for p in $pid $SERVER; do kill -KILL "$p" 2>/dev/null; done; rm -rf "$D"' EXIT
trap 'exit 2' INT TERM HUP
mkdir "$D/dir"
F=$D/dir/f
"$W" print a >"$D/a" && "$W" print b >"$D/b" || exit 2
KILLS=${KILLS:-200}
fail=0
# The writers are forked by one `atomic_writer serve` (a sanitizer build takes a few hundred
# ms to start under load; a fork, a millisecond); this script kills them.
mkfifo "$D/cmd" "$D/reply" || exit 2
"$W" serve "$F" <"$D/cmd" >"$D/reply" &
SERVER=$!
exec 3>"$D/cmd" 4<"$D/reply"

# rounds START N: N writers started with START and killed; counts whole (the file is one of
# the two contents after the kill), torn, a, b, midwrite (a temporary was left), extra (more
# than that was left)
rounds() {
	whole=0 torn=0 a=0 b=0 midwrite=0 extra=0
	"$W" write "$F" a || exit 2
	for ms in $(awk -v n="$2" -v seed="$$" 'BEGIN { srand(seed); for (i = 0; i < n; i++)
		printf "%d\n", 2 + rand() * 40 }'); do
		# the server forks a writer and replies its pid after ms: then it dies
		echo "$1 $ms" >&3 && read -r pid <&4 || { echo "FAIL: the writer server died"; exit 1; }
		kill -KILL "$pid"
		echo reap >&3 && read -r how <&4
		[ "$how" = killed ] || { echo "FAIL: writer $pid was not killed but $how"; exit 1; }
		if cmp -s "$F" "$D/a"; then
			whole=$((whole + 1)) a=$((a + 1))
		elif cmp -s "$F" "$D/b"; then
			whole=$((whole + 1)) b=$((b + 1))
		else
			torn=$((torn + 1))
			[ "$1" = start ] && echo "FAIL: after kill $((whole + torn)) the file is neither content ($(wc -c <"$F") bytes)"
		fi
		set -- "$1" "$D/dir"/.f.*
		[ $# -le 2 ] || { extra=$((extra + 1)); echo "FAIL: $(($# - 1)) temporaries after a kill"; }
		[ -e "$2" ] && midwrite=$((midwrite + 1)) && rm -f "$D/dir"/.f.*
		set -- "$1" "$D/dir"/*
		[ $# = 2 ] && [ "$2" = "$F" ] || { extra=$((extra + 1)); echo "FAIL: left after a kill: $*"; }
		[ -e "$F" ] || "$W" write "$F" a # only the control can lose it
	done
}

start=$(date +%s)
rounds start "$KILLS"
echo "atomic: $KILLS kills: $whole whole ($a A, $b B), $torn torn, $midwrite mid-write (a temporary left), $extra left more"
[ "$whole" = "$KILLS" ] && [ "$torn" = 0 ] || { echo "FAIL: a kill left a torn file"; fail=1; }
[ "$extra" = 0 ] || { echo "FAIL: a kill left more than the one temporary"; fail=1; }
[ "$a" -gt 0 ] && [ "$b" -gt 0 ] || { echo "FAIL: one content never seen: the writer did not write"; fail=1; }
[ "$midwrite" -ge $((KILLS / 10)) ] ||
	{ echo "FAIL: only $midwrite of $KILLS kills landed mid-write: the test proved little"; fail=1; }

rounds start-unsafe 20
echo "control, written in place: 20 kills: $torn torn"
[ "$torn" -gt 0 ] || { echo "FAIL: the control was never caught torn: the check cannot fail"; fail=1; }
exec 3>&- 4<&-
wait "$SERVER" || { echo "FAIL: the writer server exited $?"; fail=1; }
SERVER=""
echo "$(($(date +%s) - start)) s"
[ $fail = 0 ] && echo "all passed"
exit $fail
