#!/usr/bin/env bash
# bench/run.sh BIN: the benchmarks behind `make bench`. Prints one Markdown table.
#
# Inputs come from sqlite-prep.sh (downloaded and compiled once, cached in
# .cache/bench): the SQLite amalgamation before and after a one-function change,
# at 1x, 2x and 4x size, with and without -ffunction-sections -fdata-sections.
# Each row is a number and, where a baseline exists in the same run, a ratio to
# it: reading both files for hpdiff and hpbuild; the 1x run for the 2x and 4x
# runs (linear growth is 2.00x and 4.00x); the raw bytes of the changed function
# for the patch; the targets and the best peer measured on this machine
# (docs/targets.md); start-up for hpverify. Then the rows of
# bench/sqlite-lines.sh (one line inserted), the apply rows (bench/apply.sh), the
# agent's rows (bench/agent.sh), the preload library's (bench/preload.sh) and the
# signing rows (bench/verify.sh).
#
# BENCH_RUNS (default 11) timed runs per median; BENCH_CACHE as for sqlite-prep.sh.
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
	echo "${got% }"
}

# check_patch OLD NEW HPX: hpbuild writes HPX holding exactly the true set's functions.
check_patch()
{
	local got want
	"$BIN/hpbuild" -q "$1" "$2" -o "$3"
	got=$("$BIN/hpinspect" --json "$3" |
		python3 -c 'import json,sys; print(" ".join(sorted(f["name"] for f in json.load(sys.stdin)["functions"])))')
	want=$("$here/truth.sh" "$1" "$2" | awk '{ print $3 }' | sort | tr '\n' ' ')
	if [ "$got" != "${want% }" ]; then
		echo "bench: hpbuild $1 $2 replaces '$got', the truth is '${want% }'" >&2
		return 1
	fi
	echo "$got"
}

bench_table_header

# One tool on the -fs pairs at 1x, 2x, 4x: time and peak RSS against reading both
# files, and the 2x and 4x times against the 1x time.
scaled_rows()
{
	local tool=$1 scale sfx old new t bt rss brss t1= got
	for scale in 1x 2x 4x; do
		sfx=$([ $scale = 1x ] && echo "" || echo "-$scale")
		old=$C/old-fs$sfx.o new=$C/new-fs$sfx.o
		if [ "$tool" = hpdiff ]; then
			got=$(check_set "$old" "$new")
			echo "| hpdiff SQLite -fs $scale ($(($(stat -c %s "$old") / 1048576)) MB objects): reported set | $got | truth (byte compare) | exact |"
			set -- "$BIN/hpdiff" "$old" "$new"
		else
			got=$(check_patch "$old" "$new" "$C/fix-$scale.hpx")
			echo "| hpbuild SQLite -fs $scale: functions in the patch | $got | truth (byte compare) | exact |"
			set -- "$BIN/hpbuild" -q "$old" "$new" -o "$C/fix-$scale.hpx"
		fi
		bt=$(bench_baseline_time "$N" "$old" "$new")
		t=$(bench_median_time "$N" "$@")
		brss=$(bench_baseline_rss "$old" "$new")
		rss=$(bench_peak_rss "$@")
		bench_row "$tool SQLite -fs $scale: wall time, median of $N" "$t" "$bt" s "read both files"
		bench_row "$tool SQLite -fs $scale: peak RSS" "$rss" "$brss" KB "read both files"
		if [ -z "$t1" ]; then
			t1=$t
		else
			bench_row "$tool SQLite -fs $scale: wall time against 1x (linear: ${scale%x}.00x)" "$t" "$t1" s "1x"
		fi
	done
}
scaled_rows hpdiff
scaled_rows hpbuild

# Objects built without -ffunction-sections -fdata-sections: one .text for all code.
got=$(check_set "$C/old-nofs.o" "$C/new-nofs.o")
echo "| hpdiff SQLite without -fs 1x: reported set | $got | truth (byte compare) | exact |"
bench_pair_rows "hpdiff SQLite without -fs 1x" "$N" "$C/old-nofs.o" "$C/new-nofs.o" \
	"$BIN/hpdiff" "$C/old-nofs.o" "$C/new-nofs.o"
got=$(check_patch "$C/old-nofs.o" "$C/new-nofs.o" "$C/fix-nofs.hpx")
echo "| hpbuild SQLite without -fs 1x: functions in the patch | $got | truth (byte compare) | exact |"
bench_pair_rows "hpbuild SQLite without -fs 1x" "$N" "$C/old-nofs.o" "$C/new-nofs.o" \
	"$BIN/hpbuild" -q "$C/old-nofs.o" "$C/new-nofs.o" -o "$C/fix-nofs.hpx"

# One line inserted near the top of the file: every later __LINE__ moves; peers
# report 109-137 functions (docs/targets.md). A wrong set is a row that says so.
if ! out=$("$here/sqlite-lines.sh" "$BIN" "$C" 2>/dev/null); then
	out="$out
| hpdiff SQLite, one line inserted | n/a | bench/sqlite-lines.sh failed or found a wrong set | n/a |"
fi
echo "$out" | grep '^|'

# Against docs/targets.md (best peer measured here: 1.7 s, 62 MB).
t=$(bench_median_time "$N" "$BIN/hpdiff" "$C/old-fs.o" "$C/new-fs.o")
rss=$(bench_peak_rss "$BIN/hpdiff" "$C/old-fs.o" "$C/new-fs.o")
bench_row "hpdiff SQLite -fs 1x: wall time" "$t" 1.7 s "best peer, docs/targets.md"
bench_row "hpdiff SQLite -fs 1x: peak RSS" "$rss" $((62 * 1024)) KB "best peer, docs/targets.md"
bench_row "hpdiff SQLite -fs 1x: wall time" "$t" 0.1 s "target, docs/targets.md"
bench_row "hpdiff SQLite -fs 1x: peak RSS" "$rss" $((40 * 1024)) KB "target, docs/targets.md"
BENCH_OK_RC=3 bench_pair_rows "hpdiff SQLite -fs 1x, old vs old" "$N" "$C/old-fs.o" "$C/old-fs.o" \
	"$BIN/hpdiff" "$C/old-fs.o" "$C/old-fs.o"

# The patch against the raw bytes of the function it carries (old and new size).
for v in fs nofs; do
	hpx=$C/fix-$v.hpx
	[ $v = fs ] && hpx=$C/fix-1x.hpx
	read -r raw_old raw_new < <("$BIN/hpinspect" --json "$hpx" | python3 -c '
import json, sys
f = json.load(sys.stdin)["functions"]
print(sum(x["old_size"] for x in f), sum(x["new_size"] for x in f))')
	size=$(stat -c %s "$hpx")
	label=$([ $v = fs ] && echo "-fs" || echo "without -fs")
	awk -v l="$label" -v s="$size" -v o="$raw_old" -v n="$raw_new" 'BEGIN {
		printf "| hpbuild SQLite %s: .hpx size (unsigned), one function | %d bytes | %d bytes of new code (old: %d) | %.1fx |\n", l, s, n, o, s / n
	}'
done
[ -f "$C/bench-ed25519.pem" ] || openssl genpkey -algorithm ed25519 -out "$C/bench-ed25519.pem" 2>/dev/null
"$BIN/hpsign" "$C/fix-1x.hpx" --key "$C/bench-ed25519.pem" -o "$C/fix-1x-signed.hpx" &&
	awk -v s="$(stat -c %s "$C/fix-1x-signed.hpx")" 'BEGIN {
		printf "| hpbuild SQLite -fs: .hpx size signed (Ed25519), one function | %d bytes | 1024 bytes (target, docs/targets.md) | %.2fx |\n", s, s / 1024
	}' || echo "| hpbuild SQLite -fs: .hpx size signed | n/a | hpsign failed | n/a |"

# Applying: pause and wall time at 1/4/16/64 threads; verifying and signing: CPU per
# operation. Each needs more than the differ (ptrace rights; SoftHSM2), so a failure
# is a row, not the end of the table.
if out=$("$here/apply.sh" "$BIN" 2>&1); then
	echo "$out" | grep '^|' | tail -n +3
else
	echo "| hpapply rows | n/a | bench/apply.sh failed: $(echo "$out" | tail -n 1 | tr '|' '/') | n/a |"
fi
# The agent: exposure window from exec to patched, its CPU, the sweep over 1000 processes.
if out=$("$here/agent.sh" "$BIN" 2>&1); then
	echo "$out" | grep '^|'
else
	echo "| hpd rows | n/a | bench/agent.sh failed: $(echo "$out" | tail -n 1 | tr '|' '/') | n/a |"
fi
# The preload library: what it adds to each process's start, and the exposure window.
if out=$("$here/preload.sh" "$BIN" 2>&1); then
	echo "$out" | grep '^|'
else
	echo "| hotpatch-load rows | n/a | bench/preload.sh failed: $(echo "$out" | tail -n 1 | tr '|' '/') | n/a |"
fi
if out=$("$here/verify.sh" "$BIN" 2>&1); then
	echo "$out" | grep '^|' | tail -n +3
else
	echo "| hpverify rows | n/a | bench/verify.sh failed: $(echo "$out" | tail -n 1 | tr '|' '/') | n/a |"
fi
