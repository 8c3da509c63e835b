#!/usr/bin/env bash
# bench/preload.sh BIN: what libhotpatch-load.so costs a process, and what it
# buys (docs/preload.md).
#
# Rows: the time from before posix_spawn to main of a small program
# (bench/preload-probe.c), without the library and with it: no store at all;
# a store of 10 patches for another binary (what most processes see when the
# library is in /etc/ld.so.preload); a store of 10 patches for this binary,
# each replacing one of its functions, all applied before main. Medians over
# BENCH_PRELOAD_RUNS (300) starts of each, the configurations taking turns: of
# the wall time, and of the CPU time the process has used when main begins
# (exec, the dynamic linker, the constructors), which the waits of a loaded
# machine do not inflate. Then the exposure window: the starts in which
# any of the ten functions ran its old code first (0 is the target: patched
# before the program's first instruction). Target: under 1 ms added per
# process (docs/targets.md). Benchmarks print numbers; no test asserts them.
set -euo pipefail
BIN=$(cd "${1:-bin}" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
LIB=$(cd "$BIN/../lib" && pwd)/libhotpatch-load.so
N=${BENCH_PRELOAD_RUNS:-300}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
cd "$T"
export HOTPATCH_AUDIT=$T/audit.jsonl HOTPATCH_RUN_DIR=$T/run
F="-O2 -g -ffunction-sections -fdata-sections"
gcc $F -c "$here/preload-probe.c" -o old.o
gcc -Wl,--build-id -o probe old.o
# Another binary: the same code, another build-id.
gcc -Wl,--build-id=0x$(printf '%040d' 1) -o other old.o
gcc -O2 -DSPAWN -o spawn "$here/preload-probe.c"
mkdir -m 700 keys trusted
openssl genpkey -algorithm ed25519 -out keys/k.pem 2>/dev/null
openssl pkey -in keys/k.pem -pubout -out trusted/k.pem 2>/dev/null
for k in 0 1 2 3 4 5 6 7 8 9; do
	gcc $F -DFIX=$k -c "$here/preload-probe.c" -o new$k.o
	for b in probe other; do
		"$BIN/hpbuild" -q --target $b old.o new$k.o -o $b$k.hpx
		"$BIN/hpsign" $b$k.hpx --key keys/k.pem
		"$BIN/hpapply" -q --trust trusted --store "$T/store-$b" --install $b$k.hpx
	done
done

# As it would be installed: stripped (its debug information costs each
# process about 0.2 ms more here, to map).
strip -o "$T/libhotpatch-load.so" "$LIB"
"./spawn" "$N" "$T/libhotpatch-load.so" "$T/probe" none=- empty="$T/no-store" \
	other="$T/store-other" patches="$T/store-probe" > result.txt
awk -v n="$N" '
	{ med[$1] = $2; p90[$1] = $3; cpu[$1] = $4; old[$1] = $5 }
	END {
		printf "| start to main, without the library, median of %d | %.0f us | - | n/a |\n", n, med["none"]
		printf "| CPU used before main, without the library, median | %.0f us | - | n/a |\n", cpu["none"]
		split("empty other patches", c, " ")
		what["empty"] = "no store"
		what["other"] = "10 stored patches for another binary"
		what["patches"] = "10 stored patches for this binary, all applied"
		for (i = 1; i <= 3; i++) {
			k = c[i]; d = med[k] - med["none"]
			printf "| hotpatch-load, %s: start-up added, median | %.0f us | 1000 us (target) | %.2fx |\n", what[k], d, d / 1000
			d = cpu[k] - cpu["none"]
			printf "| hotpatch-load, %s: CPU added before main, median | %.0f us | 1000 us (target) | %.2fx |\n", what[k], d, d / 1000
		}
		printf "| hotpatch-load, 10 patches: starts that ran an old function first (exposure window) | %d of %d | 0 | %s |\n", old["patches"], n, old["patches"] ? "missed" : "exact"
	}' result.txt
echo "| libhotpatch-load.so size, stripped (as built, with -g) | $(stat -c %s "$T/libhotpatch-load.so") bytes ($(stat -c %s "$LIB")) | - | n/a |"
echo "| libhotpatch-load.so dependencies (readelf -d) | $(readelf -d "$LIB" | sed -n 's/.*NEEDED.*\[\(.*\)\]/\1/p' | tr '\n' ' ')| libc only (target) | $([ "$(readelf -d "$LIB" | grep -c NEEDED)" = 1 ] && echo exact || echo missed) |"
