#!/bin/sh
# run.sh BIN: every known-bad input must give exactly the line and the exit
# status its .err file holds (tests/golden-bad/gen.py made both):
#   hpx/NAME.hpx   hpinspect NAME.hpx
#   obj/NAME.o     hpdiff ../base/old.o NAME.o
#   image/NAME     hpbuild --target NAME ../base/old.o ../base/new.o -o OUT,
#                  which must not leave OUT behind
# Each tool runs in the case's folder, so the messages name the file as given.
set -eu
BIN=$(cd "${1:-bin}" && pwd)
cd "$(dirname "$0")"
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
pass=0 failed=0
for err in hpx/*.err obj/*.err image/*.err; do
	kind=${err%%/*}
	name=$(basename "$err" .err)
	case $kind in
	hpx) set -- "$BIN/hpinspect" "$name.hpx" ;;
	obj) set -- "$BIN/hpdiff" ../base/old.o "$name.o" ;;
	image) set -- "$BIN/hpbuild" --target "$name" ../base/old.o ../base/new.o -o "$T/out.hpx" ;;
	esac
	rc=0
	(cd "$kind" && "$@") > "$T/stdout" 2> "$T/stderr" || rc=$?
	printf 'exit %d\n' $rc >> "$T/stderr"
	if ! cmp -s "$T/stderr" "$err"; then
		echo "FAIL $kind/$name: expected"
		sed 's/^/    /' "$err"
		echo "  got"
		sed 's/^/    /' "$T/stderr"
		failed=$((failed + 1))
	elif [ -e "$T/out.hpx" ]; then
		echo "FAIL $kind/$name: hpbuild failed but left its output"
		rm -f "$T/out.hpx"
		failed=$((failed + 1))
	else
		pass=$((pass + 1))
	fi
done
echo "golden-bad: $pass passed, $failed failed"
[ $failed -eq 0 ]
