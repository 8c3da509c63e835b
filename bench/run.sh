#!/usr/bin/env bash
# bench/run.sh BIN: the benchmarks behind `make bench`. Prints one Markdown table.
#
# Inputs come from sqlite-prep.sh (downloaded and compiled once, cached in
# .cache/bench): the SQLite amalgamation before and after a one-function change,
# at 1x, 2x and 4x size. Each row is a number and, where a baseline exists in
# the same run, a ratio to it: reading both files for the differ, and the best
# peer measured on this machine (DESIGN.md section 9) where one is known.
set -euo pipefail
BIN=$(cd "${1:-bin}" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
C=${BENCH_CACHE:-$here/../.cache/bench}
export BENCH_CACHE=$C
N=${BENCH_RUNS:-11}

"$here/sqlite-prep.sh" "$C" >&2
. "$here/measure.sh"

# Correctness first: a fast wrong answer is worth nothing.
check_set()
{
	local old=$1 new=$2 got want
	got=$("$BIN/hpdiff" "$old" "$new" | awk '$1 ~ /^(CHANGED|NEW|REMOVED)$/ { print $1, $3 }' | sort | tr '\n' ' ')
	want=$("$here/truth.sh" "$old" "$new" | awk '{ print $1, $3 }' | sort | tr '\n' ' ')
	if [ "$got" != "$want" ]; then
		echo "bench: hpdiff $old $new reports '$got', the truth is '$want'" >&2
		return 1
	fi
	echo "$got"
}

bench_table_header
for scale in 1x 2x 4x; do
	sfx=$([ $scale = 1x ] && echo "" || echo "-$scale")
	old=$C/old-fs$sfx.o new=$C/new-fs$sfx.o
	set_=$(check_set "$old" "$new")
	mb=$(( $(stat -c %s "$old") / 1048576 ))
	echo "| hpdiff SQLite -fs $scale ($mb MB objects): reported set | ${set_% } | truth (byte compare) | exact |"
	bench_pair_rows "hpdiff SQLite -fs $scale" "$N" "$old" "$new" "$BIN/hpdiff" "$old" "$new"
done
# Against the bar of DESIGN.md section 9 (best peer measured here: 1.7 s, 62 MB).
t=$(bench_median_time "$N" "$BIN/hpdiff" "$C/old-fs.o" "$C/new-fs.o")
rss=$(bench_peak_rss "$BIN/hpdiff" "$C/old-fs.o" "$C/new-fs.o")
bench_row "hpdiff SQLite -fs 1x: wall time" "$t" 1.7 s "best peer, DESIGN.md 9"
bench_row "hpdiff SQLite -fs 1x: peak RSS" "$rss" $((62 * 1024)) KB "best peer, DESIGN.md 9"
BENCH_OK_RC=3 bench_pair_rows "hpdiff SQLite -fs 1x, old vs old" "$N" "$C/old-fs.o" "$C/old-fs.o" \
	"$BIN/hpdiff" "$C/old-fs.o" "$C/old-fs.o"
# hpbuild on the same pair: time, memory, and the patch against the raw bytes
# of the function it carries.
bench_pair_rows "hpbuild SQLite -fs 1x" "$N" "$C/old-fs.o" "$C/new-fs.o" \
	"$BIN/hpbuild" -q "$C/old-fs.o" "$C/new-fs.o" -o "$C/sqlite-fix.hpx"
"$BIN/hpbuild" -q "$C/old-fs.o" "$C/new-fs.o" -o "$C/sqlite-fix.hpx"
raw=$("$BIN/hpinspect" --json "$C/sqlite-fix.hpx" |
	python3 -c 'import json,sys; print(sum(f["new_size"] for f in json.load(sys.stdin)["functions"]))')
size=$(stat -c %s "$C/sqlite-fix.hpx")
echo "| hpbuild SQLite: .hpx size (unsigned), one function | $size bytes | $raw bytes of new code | $(awk -v a="$size" -v b="$raw" 'BEGIN { printf "%.1fx", a / b }') |"
# Applying: pause and wall time at 1/4/16/64 threads; verifying: CPU per check.
"$here/apply.sh" "$BIN" | tail -n +3
"$here/verify.sh" "$BIN" | tail -n +3
