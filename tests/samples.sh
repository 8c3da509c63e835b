#!/usr/bin/env bash
# samples.sh: run hpdiff on every sample under samples/ and check its report against the
# sample's `expect` file (the format is in samples/README.md).
#
# usage: tests/samples.sh HPDIFF [SAMPLE...]
#
# With HPBUILD and HPINSPECT set (paths to those tools), each configuration also builds the
# patch from the same objects and checks that hpinspect lists exactly the expected changed
# functions, that a second build gives the same bytes, and that no change writes no file; or,
# for a sample that expects a refusal, that hpbuild exits 2, writes nothing, prints every
# expected reason, and refuses for exactly the reasons hpdiff warned about.
#
# A SAMPLE is a folder name under samples/ or a path to a sample folder; the default is every
# folder under samples/ that has an `expect`. Each sample is compiled in every configuration
# {gcc,clang} x {-O0,-O2} (SAMPLES_CONFIGS="gcc-O2 clang-O0" narrows that) and hpdiff is run on
# each old/new object pair. Prints one line per sample and configuration, `ok` or `FAIL` with
# the reason and hpdiff's output, then a summary. Exits 1 if anything failed or an expect file
# is malformed, else 0.
set -eu

# Each compiler and level, with -ffunction-sections -fdata-sections and (-nofs)
# without: the change sets must be the same.
all_configs="gcc-O0 gcc-O2 clang-O0 clang-O2 gcc-O0-nofs gcc-O2-nofs clang-O0-nofs clang-O2-nofs"

usage()
{
	echo "usage: tests/samples.sh HPDIFF [SAMPLE...]" >&2
	exit 1
}

# Sorted, de-duplicated words of the files given, or of stdin, on one line: "a b c".
words()
{
	sort -u "$@" | tr '\n' ' ' | sed 's/ $//'
}

# selector_matches SEL CONFIG: does a `key@SEL` line apply to CONFIG (e.g. gcc-O2)?
selector_matches()
{
	local c=${2%-nofs}
	[ "$1" = "$2" ] || [ "$1" = "$c" ] || [ "$1" = "${c%-*}" ] || [ "$1" = "${c#*-}" ] ||
		{ [ "$1" = nofs ] && [ "$c" != "$2" ]; }
}

# stems DIR: the file stems of a multi-file sample ("a b"), nothing for old.c/new.c.
stems()
{
	local f out=''
	if [ -d "$1/old" ]; then
		for f in "$1"/old/*.c; do out="$out ${f##*/}"; done
	fi
	out=${out//.c/}
	echo "${out# }"
}

# parse_expect FILE CONFIG STEMS OUTDIR
# Checks every line of FILE, whatever its selector, and writes what applies to CONFIG into
# OUTDIR/{exit,changed,new,removed,mention,hpbuild,refuse}. STEMS is empty for a single-file sample, else the
# file stems that must qualify names ("a:helper"). On a syntax error, prints why and returns 1.
parse_expect()
{
	local file=$1 config=$2 stems=$3 out=$4
	local n=0 line key sel name word names
	: >"$out/exit"
	: >"$out/changed"
	: >"$out/new"
	: >"$out/removed"
	: >"$out/mention"
	: >"$out/hpbuild"
	: >"$out/refuse"
	while IFS= read -r line || [ -n "$line" ]; do
		n=$((n + 1))
		line=${line%%#*}
		# shellcheck disable=SC2086 # split the line into words on purpose
		set -- $line
		[ $# -gt 0 ] || continue
		key=${1%%@*}
		sel=''
		case $1 in *@*) sel=${1#*@} ;; esac
		shift
		if [ -n "$sel" ]; then
			case " gcc clang O0 O2 nofs $all_configs " in
			*" $sel "*) ;;
			*) echo "line $n: unknown selector '$sel'"; return 1 ;;
			esac
		fi
		case $key in
		exit)
			if [ $# -ne 1 ] || { [ "$1" != 0 ] && [ "$1" != 3 ]; }; then
				echo "line $n: exit takes 0 (changes) or 3 (no change)"
				return 1
			fi
			;;
		changed | new | removed)
			[ $# -ge 1 ] || { echo "line $n: $key needs at least one name"; return 1; }
			;;
		mention)
			[ $# -ge 2 ] || { echo "line $n: mention needs a name and a text"; return 1; }
			;;
		hpbuild)
			if [ $# -ne 1 ] || { [ "$1" != 0 ] && [ "$1" != 2 ] && [ "$1" != 3 ]; }; then
				echo "line $n: hpbuild takes 0 (written), 2 (refused) or 3 (no change)"
				return 1
			fi
			;;
		refuse)
			[ $# -ge 1 ] || { echo "line $n: refuse needs the text of a reason"; return 1; }
			;;
		*)
			echo "line $n: unknown key '$key'"
			return 1
			;;
		esac
		if [ "$key" != exit ] && [ "$key" != hpbuild ] && [ "$key" != refuse ]; then
			names=("$@")
			[ "$key" != mention ] || names=("$1") # then free text
			for word in "${names[@]}"; do
				if [ -z "$stems" ]; then
					[[ $word =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]] && continue
					echo "line $n: '$word' is not a function name"
				else
					[[ $word =~ ^([A-Za-z0-9_-]+):[A-Za-z_][A-Za-z0-9_]*$ ]] &&
						[[ " $stems " == *" ${BASH_REMATCH[1]} "* ]] && continue
					echo "line $n: '$word' is not FILE:NAME with FILE one of: $stems"
				fi
				return 1
			done
		fi
		if [ -n "$sel" ] && ! selector_matches "$sel" "$config"; then
			continue
		fi
		case $key in
		exit) echo "$1" >"$out/exit" ;; # the last `exit` that applies wins
		hpbuild) echo "$1" >"$out/hpbuild" ;;
		refuse) printf '%s\n' "$*" >>"$out/refuse" ;;
		mention)
			name=$1
			shift
			printf '%s %s\n' "$name" "$*" >>"$out/mention"
			;;
		*) printf '%s\n' "$@" >>"$out/$key" ;;
		esac
	done <"$file"
	if ! [ -s "$out/exit" ]; then
		echo "no exit line applies to $config"
		return 1
	fi
	if [ "$(cat "$out/exit")" = 3 ] && [ -n "$(cat "$out/changed" "$out/new" "$out/removed")" ]; then
		echo "exit 3 means no change, yet names are listed for $config"
		return 1
	fi
	# hpbuild's exit: as written, else 2 when a refusal is expected, else what exit implies.
	if ! [ -s "$out/hpbuild" ]; then
		if [ -s "$out/refuse" ]; then
			echo 2 >"$out/hpbuild"
		else
			cat "$out/exit" >"$out/hpbuild"
		fi
	fi
	if [ -s "$out/refuse" ] && [ "$(cat "$out/hpbuild")" != 2 ]; then
		echo "refuse lines need hpbuild 2 in $config"
		return 1
	fi
}

# lint DIR: the files pair up and the expect file parses in every configuration.
lint()
{
	local dir=$1 f side c err
	if [ -d "$dir/old" ]; then
		for side in old new; do
			for f in "$dir/$side"/*.c; do
				if ! [ -f "$dir/old/${f##*/}" ] || ! [ -f "$dir/new/${f##*/}" ]; then
					echo "$side/${f##*/} has no twin"
					return 1
				fi
			done
		done
	elif ! [ -f "$dir/old.c" ] || ! [ -f "$dir/new.c" ]; then
		echo "has neither old.c and new.c nor old/ and new/"
		return 1
	fi
	mkdir -p "$tmp/lint"
	for c in $all_configs; do
		if ! err=$(parse_expect "$dir/expect" "$c" "$(stems "$dir")" "$tmp/lint"); then
			echo "expect: $err"
			return 1
		fi
	done
}

# run_pair CONFIG OLD.c NEW.c PREFIX WORKDIR
# Compiles both files, runs hpdiff and appends its func lines to WORKDIR/report as
# "STATUS PREFIXsource_name WHY", its warnings (without "hpdiff: warning: ") to
# WORKDIR/warnings, and all it printed to WORKDIR/output.
# Prints hpdiff's exit code, or "error: why".
run_pair()
{
	local config=$1 oldc=$2 newc=$3 prefix=$4 w=$5
	local base=${config%-nofs} stem side src rc=0 sections="-ffunction-sections -fdata-sections"
	local cc=${base%-*} opt=-${base#*-}
	[ "$base" = "$config" ] || sections=""
	stem=$(basename "$oldc" .c)
	# Both sides are built as one file of one name, as two builds of one tree
	# are: __FILE__ (in every assert) is the same.
	local unit
	unit=$(basename "$(dirname "$oldc")").c
	[ "$stem" = old ] || unit=$stem.c
	for side in old new; do
		src=$oldc
		[ $side = old ] || src=$newc
		mkdir -p "$w/src-$side"
		cp "$src" "$w/src-$side/$unit"
		# shellcheck disable=SC2086 # $sections is empty or two flags
		if ! (cd "$w/src-$side" && "$cc" "$opt" -g $sections -Wall -Wextra -Werror \
			-c "$unit" -o "$w/$side-$stem.o") >"$w/cc.log" 2>&1; then
			cat "$w/cc.log" >>"$w/output"
			echo "error: $cc $opt does not compile $src"
			return
		fi
	done
	"$hpdiff" "$w/old-$stem.o" "$w/new-$stem.o" >"$w/out" 2>"$w/err" || rc=$?
	[ -z "$prefix" ] || echo "[$stem.c]" >>"$w/output"
	cat "$w/out" "$w/err" >>"$w/output"
	sed -n 's/^hpdiff: warning: //p' "$w/err" >>"$w/warnings"
	# Map every symbol to its source name: cut at the first '.' (foo.constprop.0, foo.cold).
	if ! awk -v p="$prefix" '
		$1 ~ /^(SAME|CHANGED|NEW|REMOVED)$/ {
			if (NF < 3 || ($2 != "func" && $2 != "object")) { bad = 1; next }
			if ($2 != "func") next
			name = $3
			sub(/\..*/, "", name)
			why = $0
			sub(/^[ \t]*[^ \t]+[ \t]+[^ \t]+[ \t]+[^ \t]+[ \t]*/, "", why)
			print $1, p name, why
		}
		END { exit bad }' "$w/out" >>"$w/report"; then
		echo "error: hpdiff printed a malformed report line"
		return
	fi
	echo "$rc"
}

# check_build WORKDIR STEMS: build the patch from the objects run_pair left in WORKDIR and
# compare what hpinspect lists with the expected changed set. Prints a reason, or nothing.
check_build()
{
	local w=$1 stems=$2 f args='' rc=0 exp got
	if [ -z "$stems" ]; then
		args="$w/old-old.o $w/new-old.o" # run_pair names objects after the old file
	else
		for f in $stems; do args="$args $w/old-$f.o $w/new-$f.o"; done
	fi
	# shellcheck disable=SC2086 # the object list splits on purpose
	SOURCE_DATE_EPOCH=1 "$HPBUILD" $args -o "$w/fix.hpx" >"$w/build.out" 2>&1 || rc=$?
	cat "$w/build.out" >>"$w/output"
	local want
	want=$(cat "$w/exp/hpbuild")
	if [ "$want" = 2 ]; then
		[ $rc -eq 2 ] || { echo "hpbuild: expected exit 2 (refused), got $rc"; return; }
		[ ! -e "$w/fix.hpx" ] || { echo "hpbuild: wrote a patch although it refused"; return; }
		local text why=''
		while IFS= read -r text; do
			grep '^hpbuild: ' "$w/build.out" | grep -qF -- "$text" ||
				why="${why:+$why; }no refusal mentions '$text'"
		done <"$w/exp/refuse"
		# The same findings: what hpdiff warned about is exactly what hpbuild refused.
		sed -n 's/^hpbuild: //p' "$w/build.out" | sort >"$w/refused"
		sort "$w/warnings" >"$w/warned"
		cmp -s "$w/refused" "$w/warned" || why="${why:+$why; }hpbuild refused for other reasons than hpdiff warned about"
		echo "$why"
		return
	fi
	if [ "$want" = 3 ]; then
		[ $rc -eq 3 ] || { echo "hpbuild: expected exit 3 (no change), got $rc"; return; }
		[ ! -e "$w/fix.hpx" ] || echo "hpbuild: wrote a patch although nothing changed"
		return
	fi
	[ $rc -eq 0 ] || { echo "hpbuild: expected exit $want, got $rc"; return; }
	# shellcheck disable=SC2086
	SOURCE_DATE_EPOCH=1 "$HPBUILD" $args -o "$w/again.hpx" >/dev/null 2>&1 || true
	cmp -s "$w/fix.hpx" "$w/again.hpx" || { echo "hpbuild: a second build gave other bytes"; return; }
	if ! "$HPINSPECT" "$w/fix.hpx" >"$w/inspect" 2>&1; then
		cat "$w/inspect" >>"$w/output"
		echo "hpinspect cannot read the patch"
		return
	fi
	# "[k] path (cu)" under objects; "  NAME ... in object K:" under functions.
	got=$(awk -v multi="$stems" '
		/^objects/ { sec = "o"; next }
		/^functions/ { sec = "f"; next }
		/^$/ { sec = ""; next }
		sec == "o" { k = $1; gsub(/[][]/, "", k); p = $2; sub(/.*\/new-/, "", p); sub(/\.o$/, "", p); stem[k] = p }
		sec == "f" {
			name = $1; sub(/\..*/, "", name)
			for (i = 1; i < NF; i++) if ($i == "object") { k = $(i + 1); sub(/:$/, "", k) }
			print (multi == "" ? "" : stem[k] ":") name
		}' "$w/inspect" | words)
	exp=$(words "$w/exp/changed")
	[ "$exp" = "$got" ] || echo "hpinspect: expected functions {$exp} got {$got}"
}

# check DIR CONFIG: runs one sample in one configuration and prints the verdict line.
check()
{
	local dir=$1 config=$2 sample w stems f rc total why='' status exp got name text
	sample=$(basename "$dir")
	w=$tmp/$sample-$config
	mkdir -p "$w/exp"
	: >"$w/report"
	: >"$w/output"
	: >"$w/warnings"
	stems=$(stems "$dir")
	parse_expect "$dir/expect" "$config" "$stems" "$w/exp" >/dev/null # lint() passed
	if [ -z "$stems" ]; then
		total=$(run_pair "$config" "$dir/old.c" "$dir/new.c" "" "$w")
	else
		# 0 if any pair has changes, else 3; the first other result stops the sample
		total=3
		for f in $stems; do
			rc=$(run_pair "$config" "$dir/old/$f.c" "$dir/new/$f.c" "$f:" "$w")
			case $rc in
			0) total=0 ;;
			3) ;;
			*) total=$rc; break ;;
			esac
		done
	fi
	case $total in
	error:*) why=${total#error: } ;;
	"$(cat "$w/exp/exit")") ;;
	*) why="expected exit $(cat "$w/exp/exit") got $total" ;;
	esac
	if [ -z "$why" ]; then
		for status in changed new removed; do
			exp=$(words "$w/exp/$status")
			got=$(awk -v s="$status" 'tolower($1) == s { print $2 }' "$w/report" | words)
			if [ "$exp" != "$got" ]; then
				why="${why:+$why; }expected $status {$exp} got {$got}"
			fi
		done
		while read -r name text; do
			if ! awk -v n="$name" '$1 == "CHANGED" && $2 == n { sub(/^[^ ]+ [^ ]+ ?/, ""); print }' \
				"$w/report" | grep -qF -- "$text"; then
				why="${why:+$why; }expected the CHANGED line of $name to mention '$text'"
			fi
		done <"$w/exp/mention"
		# Warnings only where a refusal is expected: the safe samples must not warn.
		if ! [ -s "$w/exp/refuse" ] && [ -s "$w/warnings" ]; then
			why="${why:+$why; }hpdiff warned: $(head -1 "$w/warnings")"
		fi
		while IFS= read -r text; do
			grep -qF -- "$text" "$w/warnings" ||
				why="${why:+$why; }no hpdiff warning mentions '$text'"
		done <"$w/exp/refuse"
	fi
	if [ -z "$why" ] && [ -n "${HPBUILD:-}" ]; then
		why=$(check_build "$w" "$stems")
	fi
	if [ -z "$why" ]; then
		echo "ok   $sample $config"
		return 0
	fi
	echo "FAIL $sample $config: $why"
	sed 's/^/    /' "$w/output"
	return 1
}

[ $# -ge 1 ] || usage
case $1 in -h | --help) usage ;; esac
hpdiff=$1
shift
case $hpdiff in
*/*) [ -x "$hpdiff" ] || { echo "samples.sh: $hpdiff: not an executable" >&2; exit 1; } ;;
*) command -v "$hpdiff" >/dev/null || { echo "samples.sh: $hpdiff: not found" >&2; exit 1; } ;;
esac
configs=${SAMPLES_CONFIGS:-$all_configs}
for c in $configs; do
	case " $all_configs " in
	*" $c "*) ;;
	*) echo "samples.sh: SAMPLES_CONFIGS: unknown configuration '$c'" >&2; exit 1 ;;
	esac
done

root=$(cd "$(dirname "$0")/.." && pwd)
samples=''
if [ $# -eq 0 ]; then
	for d in "$root"/samples/*/; do
		if [ -f "$d/expect" ]; then
			samples="$samples ${d%/}"
		elif [ -e "$d/old.c" ] || [ -d "$d/old" ] && ! [ -f "$d/Makefile" ]; then
			echo "samples.sh: ${d%/}: no expect file; skipped" >&2
		fi
	done
else
	for s in "$@"; do
		if [ -d "$s" ]; then
			d=$(cd "$s" && pwd)
		else
			d=$root/samples/$s
		fi
		if ! [ -f "$d/expect" ]; then
			echo "samples.sh: $s: no such sample (no expect file)" >&2
			exit 1
		fi
		samples="$samples $d"
	done
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/samples.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

passed=0
failed=0
for d in $samples; do
	if ! err=$(lint "$d"); then
		echo "FAIL $(basename "$d"): $err"
		failed=$((failed + 1))
		continue
	fi
	for c in $configs; do
		if check "$d" "$c"; then
			passed=$((passed + 1))
		else
			failed=$((failed + 1))
		fi
	done
done

echo "samples: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
