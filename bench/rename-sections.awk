# bench/rename-sections.awk: objcopy options that give one copy of an object its own section names.
#
# Used by sqlite-prep.sh to build the 2x and 4x inputs (see "Scaled inputs" there).
# Input: two files. The first has one defined symbol name per line (nm --defined-only), the second one
# section name per line (readelf -SW). Variable p is the prefix, e.g. "hp1_".
# Output: one line "--rename-section OLD=NEW" per section whose name contains a defined symbol as a run
# of dot-separated parts; the prefix goes in front of the longest such run:
#   .text.sqlite3_sleep          -> .text.hp1_sqlite3_sleep
#   .rodata.unixOpen.str1.1      -> .rodata.hp1_unixOpen.str1.1   (GCC's per-function string pools)
#   .text.yy_reduce.constprop.0  -> .text.hp1_yy_reduce.constprop.0
# Relocation sections (.rela*) are skipped: objcopy renames them together with the section they apply to.
# Generic sections (.text, .rodata.str1.1, .rodata.cst8, .debug_*, .eh_frame) keep their names, so
# `ld -r` concatenates them, as one bigger translation unit would have them.
# Plain POSIX awk (Debian's default is mawk): no gawk extensions.

NR == FNR {
	sym[$1] = 1
	next
}
/^\.rela/ || !/^\./ {
	next
}
{
	n = split($1, part, ".")
	best = 0
	bestlen = 0
	for (i = 2; i <= n; i++) {
		run = ""
		for (j = i; j <= n; j++) {
			run = (j == i) ? part[j] : run "." part[j]
			if ((run in sym) && length(run) > bestlen) {
				best = i
				bestlen = length(run)
			}
		}
	}
	if (!best)
		next
	out = ""
	for (k = 2; k <= n; k++)
		out = out "." ((k == best) ? p : "") part[k]
	print "--rename-section " $1 "=" out
}
