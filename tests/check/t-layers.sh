#!/bin/sh
# The layer rule, checked on the sources: each folder may include only headers of the layers
# below it (DESIGN: cli/policyd/cni -> lib -> rules, netsetup -> util; rules and netsetup know
# nothing of each other, the programs nothing of each other). The Makefile compiles each folder
# with only its layer's include path, so a violation also fails the build; this says which
# file and which header, and also catches an include by relative path ("../rules/x.h"), which
# the compiler would follow.
cd "$(dirname "$0")/../.." || exit 2
# folder: the folders its files may include from (its own first)
allowed() {
	case "$1" in
	util) echo "util" ;;
	rules) echo "rules util" ;;
	netsetup) echo "netsetup util" ;;
	enforcer/lib) echo "enforcer/lib rules netsetup util" ;;
	enforcer/cli | enforcer/policyd | enforcer/cni) echo "$1 enforcer/lib rules netsetup util" ;;
	esac
}
LAYERS="util rules netsetup enforcer/lib enforcer/cli enforcer/policyd enforcer/cni"
bad=0 files=0 incs=0
for layer in $LAYERS; do
	ok_dirs=$(allowed "$layer")
	for f in "$layer"/*.c "$layer"/*.h; do
		[ -e "$f" ] || continue
		files=$((files + 1))
		for h in $(sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"]*\)".*/\1/p' "$f"); do
			incs=$((incs + 1))
			case "$h" in */*)
				echo "$f: includes \"$h\" by path; include by name, from a layer below"
				bad=$((bad + 1)); continue ;;
			esac
			found=""
			for d in $ok_dirs; do [ -e "$d/$h" ] && { found=$d; break; }; done
			[ -n "$found" ] && continue
			owner=""
			for d in $LAYERS; do [ -e "$d/$h" ] && owner="$owner $d"; done
			echo "$f: includes \"$h\" from${owner:- nowhere}; $layer may include only from: $ok_dirs"
			bad=$((bad + 1))
		done
	done
done
echo "$files files, $incs project includes checked, $bad violations"
[ "$bad" = 0 ] && [ "$files" -gt 0 ]
