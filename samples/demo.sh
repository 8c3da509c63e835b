#!/bin/sh
# samples/demo.sh BIN: the main job on the bundled samples. Each sample is a
# bug and its fix (old.c, new.c); build both with gcc -O2 and show what hpdiff
# says changed and why.
set -eu
BIN=${1:-bin}
here=$(cd "$(dirname "$0")" && pwd)
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT INT TERM
FLAGS="-O2 -g -ffunction-sections -fdata-sections"
for dir in "$here"/*/; do
	name=$(basename "$dir")
	[ -f "$dir/expect" ] || continue
	echo "== $name: $(sed -n 's/^# //p' "$dir/expect" | head -n 1)"
	if [ -f "$dir/old.c" ]; then
		pairs="old.c"
	else
		pairs=$(cd "$dir/old" && ls *.c)
	fi
	for f in $pairs; do
		if [ "$f" = old.c ]; then old=$dir/old.c new=$dir/new.c stem=$name
		else old=$dir/old/$f new=$dir/new/$f stem=$name-${f%.c}; fi
		gcc $FLAGS -c "$old" -o "$T/$stem.old.o"
		gcc $FLAGS -c "$new" -o "$T/$stem.new.o"
		[ "$f" = old.c ] || echo "   $f:"
		rc=0
		"$BIN/hpdiff" "$T/$stem.old.o" "$T/$stem.new.o" | sed 's/^/   /' || rc=$?
	done
	echo
done
