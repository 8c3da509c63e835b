#!/usr/bin/env bash
# bench/sqlite-prep.sh: build the SQLite object pairs that the benchmarks diff (docs/targets.md).
#
# Usage: bench/sqlite-prep.sh [CACHE_DIR]
#   CACHE_DIR defaults to .cache/bench at the top of the repository. Nothing in it is committed.
#   BENCH_SQLITE_SPEC overrides the npm package spec (default better-sqlite3@12).
#   BENCH_JOBS sets how many compilers run at once (default: nproc; each needs about 375 MB).
#
# What it does, each step skipped when its output is already in CACHE_DIR:
#   1. `npm pack better-sqlite3@12` (the only network access; npm registry only) and extract
#      package/deps/sqlite3/sqlite3.c, the SQLite amalgamation (~9.5 MB, ~270k lines) -> src/old/sqlite3.c
#   2. src/new/sqlite3.c = the same file with ONE line edited in place (see "The change" below).
#   3. gcc -O2 -g -c, each source in two variants (both variants of both sources in parallel):
#        old-fs.o   new-fs.o     with -ffunction-sections -fdata-sections (one section per function)
#        old-nofs.o new-nofs.o   without (all functions in one .text)
#      Both are compiled as "sqlite3.c" with the build directory mapped to /hpbench/sqlite
#      (-ffile-prefix-map, which GCC leaves out of DW_AT_producer), as if both had been built in one
#      tree, so that paths in the debug info do not differ. Times and peak RSS go to log/*.time.
#   4. Scaled inputs for linear-scaling runs: {old,new}-{fs,nofs}-{2x,4x}.o (see "Scaled inputs").
# A second run with everything cached does no download and no compile and takes well under a second.
# A run prints where the files are. If the recipe below changes, derived files are rebuilt; the
# downloaded tarball is kept.
#
# The change (the ground truth is exactly one changed function: sqlite3_sleep)
#   In sqlite3_sleep() (main.c part of the amalgamation):
#     old:  rc = (sqlite3OsSleep(pVfs, ms<0 ? 0 : 1000*ms)/1000);
#     new:  rc = (sqlite3OsSleep(pVfs, ms<0 ? 0 : 2000*ms)/1000);
#   Behaviour: sqlite3_sleep(ms) asks the VFS for twice the sleep and returns twice the milliseconds.
#   Why this function:
#   - It is an out-of-line function at -O2 (nm: "T sqlite3_sleep"; own section .text.sqlite3_sleep,
#     0x44 bytes) and is inlined nowhere: its DWARF subprogram has no DW_AT_inline, there is no
#     DW_TAG_inlined_subroutine for it, and it has no .constprop/.isra/.part/.cold clone. Nothing in the
#     amalgamation calls it; its address is only stored in the extension API table sqlite3Apis, which
#     refers to it by a relocation against the symbol, so that table's bytes do not change.
#   - It is extern (SQLITE_API), so GCC's IPA makes no assumptions about it in callers. The edit
#     changes only the imm32 of `imul $0x3e8,%ebx,%esi` (-> $0x7d0): same instruction, same length,
#     same registers, so -fipa-ra (callers' register allocation), ipa-pure-const and ICF see nothing
#     new, and with -nofs no later function moves.
#   - No line moves and no column before the edit moves, so __LINE__ values (SQLITE_CORRUPT_BKPT etc.)
#     and the line tables stay the same.
#   Result (verified, see bench/README.md): old-X.o and new-X.o have the same size and differ in 2 bytes,
#   both inside sqlite3_sleep's code, for X = fs, nofs, fs-2x, fs-4x, nofs-2x, nofs-4x.
#   bench/truth.sh OLD.o NEW.o checks this and prints the true changed set.
#
# Scaled inputs (2x, 4x): honest, but read this before quoting numbers
#   sqlite3.c cannot be included twice in one translation unit (types and macros would clash), and
#   SQLite has no option that doubles its code. So an Nx object is N copies of the compiled
#   amalgamation combined with the real linker:
#     copyK = objcopy of old-X.o with every defined symbol renamed hpK_NAME (--redefine-syms) and
#             every per-function/per-object section renamed to match (.text.hpK_sqlite3_sleep,
#             .rodata.hpK_unixOpen.str1.1; bench/rename-sections.awk); undefined symbols (libc) keep
#             their names
#     old-X-Nx.o = ld -r old-X.o copy1 ... copy(N-1)      new-X-Nx.o = ld -r new-X.o copy1 ... copy(N-1)
#   The result is one ordinary relocatable object with N compile units in its DWARF and exactly N
#   times the functions, relocations, code and debug bytes; the sections a TU has only once (.text in
#   -nofs, .rodata.str1.1, .eh_frame, .debug_*) are concatenated, as for a bigger TU. The copies are
#   built from old in both old and new, so the true changed set is still only sqlite3_sleep.
#   Caveat: the copies are byte-identical to each other apart from names, which a differ that caches
#   by content hash could exploit; DWARF names in copies are the original (unprefixed) ones.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)

spec=${BENCH_SQLITE_SPEC:-better-sqlite3@12}
patch_old='  rc = (sqlite3OsSleep(pVfs, ms<0 ? 0 : 1000*ms)/1000);'
patch_new='  rc = (sqlite3OsSleep(pVfs, ms<0 ? 0 : 2000*ms)/1000);'
cflags=(-O2 -g)
fsflags=(-ffunction-sections -fdata-sections)
# Anything here that changes invalidates the derived files (not the downloaded tarball).
recipe="v1|$spec|$patch_old|$patch_new|${cflags[*]}|${fsflags[*]}|scale-ld-r"

die()
{
	echo "sqlite-prep.sh: $*" >&2
	exit 1
}

# stale OUT IN...: succeed if OUT is missing or older than one of IN.
stale()
{
	local out=$1 in
	shift
	[ -f "$out" ] || return 0
	for in in "$@"; do
		[ "$in" -nt "$out" ] && return 0
	done
	return 1
}

# compile_one CACHE NAME: NAME is old-fs, new-fs, old-nofs or new-nofs. Run through xargs, one per
# process, so that two compilers run at once.
compile_one()
{
	local c=$1 name=$2 ver=${2%-*} flavor=${2#*-} extra=()
	[ "$flavor" = fs ] && extra=("${fsflags[@]}")
	(
		cd "$c/src/$ver"
		/usr/bin/time -f '%e s, %M KB peak RSS' -o "$c/log/$name.time" \
			gcc "${cflags[@]}" "${extra[@]}" -ffile-prefix-map="$c/src/$ver=/hpbench/sqlite" \
			-c sqlite3.c -o "$c/$name.o.tmp"
	) || die "compiling $name.o failed"
	mv "$c/$name.o.tmp" "$c/$name.o"
}

if [ "${1-}" = --compile-one ]; then
	compile_one "$2" "$3"
	exit 0
fi

c=${1:-$root/.cache/bench}
mkdir -p "$c"
c=$(cd "$c" && pwd)
mkdir -p "$c/src/old" "$c/src/new" "$c/log" "$c/scale"
exec 9>"$c/.lock"
flock 9

if [ "$(cat "$c/recipe" 2>/dev/null)" != "$recipe" ]; then
	rm -rf "$c/src" "$c/log" "$c/scale" "$c"/*.o "$c"/*.tmp
	mkdir -p "$c/src/old" "$c/src/new" "$c/log" "$c/scale"
	echo "$recipe" >"$c/recipe"
fi

# 1. The amalgamation.
if [ ! -f "$c/src/old/sqlite3.c" ]; then
	npmdir=$c/npm/$(printf '%s' "$spec" | tr -c 'A-Za-z0-9._-' _)
	mkdir -p "$npmdir"
	tgzs=("$npmdir"/*.tgz)
	tgz=${tgzs[-1]}
	if [ ! -f "$tgz" ]; then
		echo "sqlite-prep.sh: npm pack $spec" >&2
		name=$(cd "$npmdir" && npm pack "$spec" --silent | tail -n 1)
		tgz=$npmdir/$name
		[ -f "$tgz" ] || die "npm pack $spec did not produce a tarball"
	fi
	tar -xzf "$tgz" -O package/deps/sqlite3/sqlite3.c >"$c/src/old/sqlite3.c.tmp" ||
		die "$tgz: no package/deps/sqlite3/sqlite3.c"
	mv "$c/src/old/sqlite3.c.tmp" "$c/src/old/sqlite3.c"
	{
		echo "package: $(basename "$tgz")"
		echo "package sha256: $(sha256sum <"$tgz" | cut -d' ' -f1)"
		echo "sqlite3.c sha256: $(sha256sum <"$c/src/old/sqlite3.c" | cut -d' ' -f1)"
		grep -m 1 '^#define SQLITE_VERSION ' "$c/src/old/sqlite3.c"
	} >"$c/SOURCE.txt"
fi

# 2. The one-line change.
if [ ! -f "$c/src/new/sqlite3.c" ]; then
	awk -v want="$patch_old" -v repl="$patch_new" \
		'$0 == want { print repl; n++; next } { print } END { exit n == 1 ? 0 : 1 }' \
		"$c/src/old/sqlite3.c" >"$c/src/new/sqlite3.c.tmp" ||
		die "the line to change is not in sqlite3.c exactly once; $spec has moved on, update the recipe"
	[ "$(diff "$c/src/old/sqlite3.c" "$c/src/new/sqlite3.c.tmp" | grep -c '^[<>]')" = 2 ] ||
		die "the edit changed more than one line"
	mv "$c/src/new/sqlite3.c.tmp" "$c/src/new/sqlite3.c"
fi

# 3. The four objects, BENCH_JOBS at a time.
todo=()
for name in old-fs new-fs old-nofs new-nofs; do
	[ -f "$c/$name.o" ] || todo+=("$name")
done
if [ ${#todo[@]} -gt 0 ]; then
	echo "sqlite-prep.sh: compiling ${todo[*]} (about 35 s each, ${BENCH_JOBS:-$(nproc)} at a time)" >&2
	printf '%s\n' "${todo[@]}" |
		xargs -P "${BENCH_JOBS:-$(nproc)}" -n 1 "$here/sqlite-prep.sh" --compile-one "$c" ||
		die "a compile failed"
fi

# 4. Scaled inputs: copies of old with renamed symbols and sections, combined with ld -r.
for flavor in fs nofs; do
	for k in 1 2 3; do
		copy=$c/scale/copy$k-$flavor.o
		stale "$copy" "$c/old-$flavor.o" || continue
		nm --defined-only "$c/old-$flavor.o" | awk 'NF == 3 { print $3 }' | sort -u >"$c/scale/syms-$flavor"
		readelf -SW "$c/old-$flavor.o" | sed -n 's/^ *\[ *[0-9]*\] \([^ ]*\) .*/\1/p' >"$c/scale/secs-$flavor"
		awk -v k="$k" '{ print $1, "hp" k "_" $1 }' "$c/scale/syms-$flavor" >"$c/scale/redefine$k-$flavor"
		awk -v p="hp${k}_" -f "$here/rename-sections.awk" "$c/scale/syms-$flavor" "$c/scale/secs-$flavor" \
			>"$c/scale/rename$k-$flavor"
		objcopy --redefine-syms="$c/scale/redefine$k-$flavor" @"$c/scale/rename$k-$flavor" \
			"$c/old-$flavor.o" "$copy.tmp"
		mv "$copy.tmp" "$copy"
	done
	for ver in old new; do
		for n in 2 4; do
			out=$c/$ver-$flavor-${n}x.o
			copies=()
			for ((k = 1; k < n; k++)); do
				copies+=("$c/scale/copy$k-$flavor.o")
			done
			stale "$out" "$c/$ver-$flavor.o" "${copies[@]}" || continue
			ld -r "$c/$ver-$flavor.o" "${copies[@]}" -o "$out.tmp"
			mv "$out.tmp" "$out"
		done
	done
done

echo "SQLite bench inputs in $c ($(sed -n 's/^package: //p' "$c/SOURCE.txt"); changed function: sqlite3_sleep)"
for f in old-fs new-fs old-nofs new-nofs old-fs-2x new-fs-2x old-fs-4x new-fs-4x \
	old-nofs-2x new-nofs-2x old-nofs-4x new-nofs-4x; do
	printf '  %-32s %10s bytes\n' "$c/$f.o" "$(stat -c %s "$c/$f.o")"
done
for f in "$c"/log/*.time; do
	[ -f "$f" ] && printf '  compile %-13s %s\n' "$(basename "$f" .time).o:" "$(cat "$f")"
done
exit 0
