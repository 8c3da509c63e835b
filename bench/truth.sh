#!/usr/bin/env bash
# bench/truth.sh: the true changed set of two objects with the same section layout.
#
# Usage: bench/truth.sh OLD.o NEW.o
# An oracle for hpdiff on the bench inputs: sqlite-prep.sh makes old/new pairs whose section headers
# are identical (the one edit keeps every size), and for such a pair the truth can be found without
# understanding any instruction:
#   - section contents: with the same offsets and sizes, `cmp -l` finds every differing byte. Bytes in
#     .rela*, .symtab and .strtab are skipped here, because a symbol table that is merely ordered
#     differently changes them without changing anything that matters; those are compared by name:
#   - relocations: entry k of each .rela section, as (offset, type, symbol name, addend);
#   - symbols: (name, value, size, type, bind, visibility, section index), as a sorted set.
# Each difference in a code section (SHF_EXECINSTR), or a relocation applying to one, is charged to
# every FUNC symbol whose [value, value+size) covers it (identical code folding leaves aliases such as
# sqlite3ExprDelete and sqlite3ExprDeleteGeneric on one body; a cold part is its own NAME.cold symbol).
# Prints, sorted:
#   CHANGED func NAME   (B bytes, R relocations differ)
#   CHANGED section NAME   (B bytes, R relocations differ, not inside a function)
#   CHANGED symbol NAME   (its symbol table entry differs)
# Exit: 0 if something differs, 3 if nothing does, 1 on error or if the section layouts differ (then
# bytes cannot be paired by offset and this tool cannot give the truth; that is hpdiff's job).
set -euo pipefail

die()
{
	echo "truth.sh: $*" >&2
	exit 1
}

[ $# -eq 2 ] || die "usage: truth.sh OLD.o NEW.o"
old=$1
new=$2
[ -f "$old" ] || die "$old: no such file"
[ -f "$new" ] || die "$new: no such file"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Section table, one line each: index name type offset size flags info (numbers as readelf prints).
sections()
{
	readelf -SW "$1" | sed -n 's/^ *\[ *\([0-9]*\)\] /\1 /p' | awk '{
		flags = (NF == 11) ? $8 : ""
		info = (NF == 11) ? $10 : $9
		print $1, $2, $3, $5, $6, (flags == "" ? "-" : flags), info
	}'
}
# Relocations, in file order: section, entry number, then offset, type, symbol and addend.
relocs()
{
	readelf -rW "$1" | awk '
		/^Relocation section / { sec = $3; gsub("\047", "", sec); k = 0; next }
		/^[0-9a-f]+ +[0-9a-f]+ / {
			what = $1 " " $3
			for (i = 5; i <= NF; i++)
				what = what " " $i
			print sec, k++, what
		}'
}
# Symbols as a sorted set: value size type bind vis ndx name, without the index column.
symbols()
{
	readelf -sW "$1" | awk '$1 ~ /^[0-9]+:$/ { $1 = ""; print substr($0, 2) }' | LC_ALL=C sort
}

sections "$old" >"$tmp/old.secs"
sections "$new" >"$tmp/new.secs"
cmp -s "$tmp/old.secs" "$tmp/new.secs" ||
	die "$old and $new have different section layouts; a byte comparison cannot pair them"

# Differing bytes, as 0-based file offsets.
cmp -l "$old" "$new" | awk '{ print $1 - 1 }' >"$tmp/bytes" || true
[ -s "$tmp/bytes" ] || exit 3

# Differing relocations: section, r_offset (hex). Equal layouts give equal entry counts.
relocs "$old" >"$tmp/old.rel"
relocs "$new" >"$tmp/new.rel"
paste -d '\t' "$tmp/old.rel" "$tmp/new.rel" |
	awk -F '\t' '$1 != $2 { split($2, f, " "); print f[1], f[3] }' >"$tmp/rels"

# Differing symbols: names on either side of the set difference.
symbols "$old" >"$tmp/old.syms"
symbols "$new" >"$tmp/new.syms"
LC_ALL=C comm -3 "$tmp/old.syms" "$tmp/new.syms" | awk '{ print "CHANGED symbol " ($7 == "" ? "(no name)" : $7) "   (its symbol table entry differs)" }' |
	sort -u >"$tmp/symdiff"

# Function symbols: section index, value, size (decimal, or hex when large), name.
readelf -sW "$new" | awk '$4 == "FUNC" && $7 ~ /^[0-9]+$/ { print $7, $2, $3, $8 }' >"$tmp/funcs"

awk '
function hex(s,    i, v)
{
	v = 0
	s = tolower(s)
	sub(/^0x/, "", s)
	for (i = 1; i <= length(s); i++)
		v = v * 16 + index("0123456789abcdef", substr(s, i, 1)) - 1
	return v
}
function num(s)
{
	return (s ~ /^0x/) ? hex(s) : s + 0
}
# Charge one difference (kind is "b" for a byte, "r" for a relocation) at offset o of section index
# si to every function covering it, or else to the section.
function charge(si, o, kind,    j, hit, i)
{
	i = sec_of_idx[si]
	hit = 0
	if (index(flags[i], "X"))
		for (j = 1; j <= nf[si]; j++)
			if (fv[si, j] <= o && o < fv[si, j] + fs[si, j]) {
				count["func " fn[si, j], kind]++
				seen["func " fn[si, j]] = 1
				hit = 1
			}
	if (!hit) {
		count["section " name[i], kind]++
		seen["section " name[i]] = 1
	}
}
FILENAME ~ /secs$/ {
	n++
	idx[n] = $1; name[n] = $2; type[n] = $3; off[n] = hex($4); size[n] = hex($5)
	flags[n] = $6; info[n] = $7; sec_by_name[$2] = n; sec_of_idx[$1] = n
	next
}
FILENAME ~ /funcs$/ {
	k = ++nf[$1]
	fv[$1, k] = hex($2); fs[$1, k] = num($3); fn[$1, k] = $4
	next
}
FILENAME ~ /rels$/ {
	i = sec_by_name[$1]
	charge(info[i], hex($2), "r")
	next
}
{
	o = $1
	for (i = 1; i <= n; i++) {
		if (type[i] == "NOBITS" || o < off[i] || o >= off[i] + size[i])
			continue
		if (type[i] != "RELA" && type[i] != "SYMTAB" && type[i] != "STRTAB" || name[i] == ".shstrtab")
			charge(idx[i], o - off[i], "b")
		break
	}
	if (i > n) {
		count["section (ELF or section header)", "b"]++
		seen["section (ELF or section header)"] = 1
	}
}
END {
	for (w in seen)
		printf "CHANGED %s   (%d bytes, %d relocations differ%s)\n", w, count[w, "b"], count[w, "r"],
			(w ~ /^section/ ? ", not inside a function" : "")
}' "$tmp/old.secs" "$tmp/funcs" "$tmp/rels" "$tmp/bytes" >"$tmp/out"
cat "$tmp/symdiff" >>"$tmp/out"
if [ ! -s "$tmp/out" ]; then
	exit 3
fi
sort "$tmp/out"
exit 0
