#!/usr/bin/env bash
# bench/objstats.sh: describe bench inputs, one Markdown table row per object file.
#
# Usage: bench/objstats.sh FILE.o...
# Columns (all from readelf -W):
#   bytes      file size
#   sections   section header entries, including the null entry 0 (e_shnum)
#   code secs  sections with SHF_EXECINSTR
#   symbols    .symtab entries, including the null entry 0
#   functions  STT_FUNC symbols
#   relocs     relocation entries in all SHT_RELA sections (code, data and debug)
#   code relocs  of those, entries in .rela.text* sections (relocations inside functions)
set -euo pipefail

echo "| file | bytes | sections | code secs | symbols | functions | relocs | code relocs |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|"
for f in "$@"; do
	secs=$(readelf -hW "$f" | awk '/Number of section headers/ { print $NF }')
	code=$(readelf -SW "$f" | sed -n 's/^ *\[ *[0-9]*\] //p' | awk 'NF == 10 && $7 ~ /X/' | wc -l)
	syms=$(readelf -sW "$f" | awk '$1 ~ /^[0-9]+:$/' | wc -l)
	funcs=$(readelf -sW "$f" | awk '$4 == "FUNC"' | wc -l)
	read -r relocs code_relocs < <(readelf -rW "$f" | awk '
		/^Relocation section / {
			sec = $3
			gsub("\047", "", sec)
			sub(/^\.rela/, "", sec)
			is_code = (sec ~ /^\.text/)
			next
		}
		/^[0-9a-f]+ +[0-9a-f]+ / { n++; if (is_code) c++ }
		END { print n + 0, c + 0 }')
	printf '| %s | %s | %s | %s | %s | %s | %s | %s |\n' "$(basename "$f")" "$(stat -c %s "$f")" \
		"$secs" "$code" "$syms" "$funcs" "$relocs" "$code_relocs"
done
