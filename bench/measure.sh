# bench/measure.sh: measuring helpers for bench/run.sh. Source it (bash); it only defines functions.
#
# Every measurement runs the command twice first, untimed (BENCH_WARMUP), so that its input files are
# in the page cache, then N more times. Wall time is the median of those N runs, taken with bash's
# $EPOCHREALTIME around the command (so it includes one fork and exec, about 1 ms, for the command and
# for the baseline alike). Peak RSS is GNU time's %M (ru_maxrss of the child, in KB) from one more run;
# for mmap readers it includes the file pages they touched.
#
# The baseline for a differ is bench/readall (readall.c): map both objects and load every byte, nothing
# else. A differ's time and memory are printed as multiples of it. Example (bench/run.sh):
#
#   . bench/measure.sh
#   C=.cache/bench
#   bench_table_header
#   bench_pair_rows "hpdiff, -fs, 1x" 11 "$C/old-fs.o" "$C/new-fs.o" bin/hpdiff "$C/old-fs.o" "$C/new-fs.o"
#   BENCH_OK_RC=3 bench_pair_rows "hpdiff, same file" 11 "$C/old-fs.o" "$C/old-fs.o" \
#           bin/hpdiff "$C/old-fs.o" "$C/old-fs.o"
#
# prints rows like these (numbers illustrative)
#   | what | value | baseline | ratio |
#   |---|---|---|---|
#   | hpdiff, -fs, 1x: wall time, median of 11 | 41.3 ms | 2.9 ms (read both files) | 14.2x |
#   | hpdiff, -fs, 1x: peak RSS | 31.0 MB | 21.2 MB (read both files) | 1.46x |
#
# Settings (environment):
#   BENCH_OK_RC   exit codes that count as success for the measured command (default "0"; hpdiff
#                 exits 3 when nothing changed). Any other code stops the measurement with an error.
#   BENCH_WARMUP  untimed runs before the N timed ones (default 2).
#   BENCH_CACHE   where readall is built (default .cache/bench at the top of the repository).
# Functions return 1 and print "measure.sh: ..." on stderr when something fails; results go to stdout.

bench_here_=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

# bench_readall: print the path of the readall binary, building it first if it is missing or older
# than readall.c.
bench_readall()
{
	local dir=${BENCH_CACHE:-$bench_here_/../.cache/bench}
	local bin=$dir/readall
	if [ ! -x "$bin" ] || [ "$bench_here_/readall.c" -nt "$bin" ]; then
		if ! mkdir -p "$dir" ||
			! cc -O2 -std=c11 -D_DEFAULT_SOURCE -Wall -Wextra -Werror -o "$bin.tmp" \
				"$bench_here_/readall.c" ||
			! mv "$bin.tmp" "$bin"; then
			echo "measure.sh: cannot build $bin" >&2
			return 1
		fi
	fi
	echo "$bin"
}

# bench_run_ok_ RC: succeed if RC is one of BENCH_OK_RC.
bench_run_ok_()
{
	local ok
	for ok in ${BENCH_OK_RC:-0}; do
		[ "$1" = "$ok" ] && return 0
	done
	return 1
}

# bench_median_time N CMD...: print the median wall time of N runs of CMD, in seconds (e.g. 0.041327).
# CMD's output is discarded. Fails if CMD exits with a code not in BENCH_OK_RC.
bench_median_time()
{
	local n=$1 i t0 t1 rc us=()
	shift
	for ((i = -${BENCH_WARMUP:-2}; i < n; i++)); do
		t0=$EPOCHREALTIME
		"$@" >/dev/null 2>&1
		rc=$?
		t1=$EPOCHREALTIME
		if ! bench_run_ok_ "$rc"; then
			echo "measure.sh: '$*' exited $rc (expected ${BENCH_OK_RC:-0})" >&2
			return 1
		fi
		# Negative i are warm-up runs. EPOCHREALTIME is seconds.microseconds (6 digits): subtract as integers.
		((i >= 0)) && us+=($((10#${t1/[.,]/} - 10#${t0/[.,]/})))
	done
	printf '%s\n' "${us[@]}" | sort -n | awk '
		{ v[NR] = $1 }
		END {
			if (NR == 0)
				exit 1
			m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
			printf "%.6f\n", m / 1e6
		}'
}

# bench_peak_rss CMD...: print CMD's peak resident set size in KB (GNU time %M).
bench_peak_rss()
{
	local out rc
	out=$(mktemp) || return 1
	/usr/bin/time -f %M -o "$out" "$@" >/dev/null 2>&1
	rc=$?
	if ! bench_run_ok_ "$rc"; then
		echo "measure.sh: '$*' exited $rc (expected ${BENCH_OK_RC:-0})" >&2
		rm -f "$out"
		return 1
	fi
	# GNU time writes "Command exited with non-zero status N" before the value in that case.
	tail -n 1 "$out"
	rm -f "$out"
}

# bench_baseline_time N FILE...: median time to read FILE... fully (readall), in seconds.
bench_baseline_time()
{
	local n=$1 bin
	shift
	bin=$(bench_readall) || return 1
	BENCH_OK_RC=0 bench_median_time "$n" "$bin" "$@"
}

# bench_baseline_rss FILE...: peak RSS of reading FILE... fully (readall), in KB.
bench_baseline_rss()
{
	local bin
	bin=$(bench_readall) || return 1
	BENCH_OK_RC=0 bench_peak_rss "$bin" "$@"
}

# bench_table_header: print the header of the results table (Markdown).
bench_table_header()
{
	echo "| what | value | baseline | ratio |"
	echo "|---|---|---|---|"
}

# bench_row WHAT VALUE BASELINE UNIT [BASELINE_NOTE]: print one table row.
# UNIT is "s" (shown in ms below 1 s) or "KB" (shown in MB). The ratio is VALUE / BASELINE.
bench_row()
{
	awk -v what="$1" -v v="$2" -v b="$3" -v unit="$4" -v note="${5:-}" '
		function show(x)
		{
			if (unit == "s")
				return (x < 1) ? sprintf("%.1f ms", x * 1000) : sprintf("%.2f s", x)
			if (unit == "KB")
				return sprintf("%.1f MB", x / 1024)
			return x " " unit
		}
		BEGIN {
			ratio = (b > 0) ? sprintf((v / b < 10) ? "%.2fx" : "%.1fx", v / b) : "n/a"
			printf "| %s | %s | %s%s | %s |\n", what, show(v), show(b), (note == "" ? "" : " (" note ")"), ratio
		}'
}

# bench_pair_rows WHAT N OLD.o NEW.o CMD...: measure CMD (which should read OLD.o and NEW.o) and print
# two rows: its median wall time over N runs and its peak RSS, each against readall OLD.o NEW.o.
bench_pair_rows()
{
	local what=$1 n=$2 old=$3 new=$4 t bt rss brss
	shift 4
	bt=$(bench_baseline_time "$n" "$old" "$new") || return 1
	t=$(bench_median_time "$n" "$@") || return 1
	brss=$(bench_baseline_rss "$old" "$new") || return 1
	rss=$(bench_peak_rss "$@") || return 1
	bench_row "$what: wall time, median of $n" "$t" "$bt" s "read both files"
	bench_row "$what: peak RSS" "$rss" "$brss" KB "read both files"
}
