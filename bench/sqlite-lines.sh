#!/usr/bin/env bash
# bench/sqlite-lines.sh BIN [CACHE]: one line inserted near the top of a function
# of the SQLite amalgamation, which moves every later line of the 270k-line file
# and with them every __LINE__ (SQLITE_CORRUPT_BKPT, SQLITE_MISUSE_BKPT ...
# pass one to their error functions). hpdiff must report only the functions
# whose behaviour changed (docs/targets.md: peers report 109-137).
#
# The change: in sqlite3_status64() (line ~25143), after "wsdStatInit;", the
# NULL check SQLITE_ENABLE_API_ARMOR would add:
#   if( pCurrent==0 || pHighwater==0 ) return SQLITE_MISUSE_BKPT;
# as a line of its own (src/lines). The truth comes from the same statement
# appended to the line before it (src/sameline): it moves no line, so hpdiff
# there needs no line-number reasoning, and the two sets must be equal.
# Prints Markdown rows; objects are cached with sqlite-prep.sh's (run it first).
set -euo pipefail
BIN=$(cd "${1:-bin}" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
C=$(cd "${2:-$here/../.cache/bench}" && pwd)
N=${BENCH_RUNS:-11}
[ -f "$C/src/old/sqlite3.c" ] || { echo "sqlite-lines.sh: run bench/sqlite-prep.sh first" >&2; exit 1; }
. "$here/measure.sh"

anchor='  wsdStatInit;'
stmt='if( pCurrent==0 || pHighwater==0 ) return SQLITE_MISUSE_BKPT;'
first=$(grep -n '^SQLITE_API int sqlite3_status64($' "$C/src/old/sqlite3.c" | tail -n 1 | cut -d: -f1) # the definition, after the declaration
line=$(awk -v from="$first" -v a="$anchor" 'NR > from && $0 == a { print NR; exit }' "$C/src/old/sqlite3.c")
[ -n "$line" ] || { echo "sqlite-lines.sh: anchor not found in sqlite3_status64" >&2; exit 1; }
for v in lines sameline; do
	mkdir -p "$C/src/$v"
	if [ ! -f "$C/src/$v/sqlite3.c" ] || [ "$C/src/old/sqlite3.c" -nt "$C/src/$v/sqlite3.c" ]; then
		if [ $v = lines ]; then
			awk -v n="$line" -v s="  $stmt" '{ print } NR == n { print s }' "$C/src/old/sqlite3.c"
		else
			awk -v n="$line" -v s=" $stmt" '{ print $0 (NR == n ? s : "") }' "$C/src/old/sqlite3.c"
		fi > "$C/src/$v/sqlite3.c.tmp"
		mv "$C/src/$v/sqlite3.c.tmp" "$C/src/$v/sqlite3.c"
	fi
done
compile() # compile VARIANT FLAVOR
{
	local v=$1 fl=$2 extra=()
	[ "$fl" = fs ] && extra=(-ffunction-sections -fdata-sections)
	[ -f "$C/$v-$fl.o" ] && [ "$C/$v-$fl.o" -nt "$C/src/$v/sqlite3.c" ] && return 0
	(cd "$C/src/$v" && gcc -O2 -g "${extra[@]}" -ffile-prefix-map="$C/src/$v=/hpbench/sqlite" \
		-c sqlite3.c -o "$C/$v-$fl.o.tmp") && mv "$C/$v-$fl.o.tmp" "$C/$v-$fl.o"
}
export -f compile
export C
printf '%s\n' "lines fs" "sameline fs" "lines nofs" "sameline nofs" |
	xargs -P 2 -L 1 bash -c 'compile "$0" "$1"' >&2

set_of() { "$BIN/hpdiff" "$1" "$2" | awk '$1 ~ /^(CHANGED|NEW|REMOVED)$/ { print $1, $3 }' | sort | tr '\n' ' '; }
for fl in fs nofs; do
	got=$(set_of "$C/old-$fl.o" "$C/lines-$fl.o")
	truth=$(set_of "$C/old-$fl.o" "$C/sameline-$fl.o")
	nline=$("$BIN/hpdiff" --json "$C/old-$fl.o" "$C/lines-$fl.o" |
		python3 -c 'import json,sys; print(json.load(sys.stdin)["summary"]["line_only"])')
	n=$(echo "$got" | wc -w); n=$((n / 2))
	verdict=$([ "$got" = "$truth" ] && echo exact || echo "WRONG: truth is ${truth% }")
	names=$(echo "$got" | awk '{ for (i = 2; i <= NF; i += 2) printf "%s%s", (i > 2 ? ", " : ""), $i }')
	echo "| hpdiff SQLite -$fl, one line inserted: functions reported | $n ($names), $nline more line-only | same statement, no line moved: $(($(echo "$truth" | wc -w) / 2)) | $verdict |"
	bench_pair_rows "hpdiff SQLite -$fl, one line inserted" "$N" "$C/old-$fl.o" "$C/lines-$fl.o" \
		"$BIN/hpdiff" "$C/old-$fl.o" "$C/lines-$fl.o"
	[ "$got" = "$truth" ] || exit 1
done
