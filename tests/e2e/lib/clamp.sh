# A small function and its fix, for the tests that need a patch but not a
# process: clamp_objects DIR writes DIR/old/clamp.c, DIR/new/clamp.c (an
# off-by-one fixed), compiles both for patching and builds DIR/fix.hpx with
# $BIN/hpbuild. DIR/old/clamp.c stays for further variants.
clamp_objects() {
	mkdir -p "$1/old" "$1/new"
	cat > "$1/old/clamp.c" <<'C'
int clamp_len(const char *s, int max)
{
	int n = 0;
	while (s[n] && n < 4096)
		n++;
	return n > max ? max : n;
}
C
	sed 's/n > max ? max/n >= max ? max - 1/' "$1/old/clamp.c" > "$1/new/clamp.c"
	for v in old new; do
		gcc -O2 -g -ffunction-sections -fdata-sections -c "$1/$v/clamp.c" -o "$1/$v/clamp.o"
	done
	"$BIN/hpbuild" "$1/old/clamp.o" "$1/new/clamp.o" -o "$1/fix.hpx"
}
