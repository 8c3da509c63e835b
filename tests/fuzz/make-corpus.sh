#!/bin/sh
# make-corpus.sh BIN: regenerate the seed inputs of every fuzz target in
# tests/fuzz/corpus/<target>/seed-* from the samples, compiled with gcc and clang,
# and from patches bin/hpbuild makes of them. Inputs that once crashed a reader
# (every other file in a corpus folder) are kept. The seeds are committed; run
# this again when a format changes. Needs the tools built (make), python3, zstd.
set -eu
BIN=${1:-bin}
BIN=$(cd "$BIN" && pwd)
cd "$(dirname "$0")"
C=$(pwd)/corpus
S=$(cd ../../samples && pwd)
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
# Everything is built inside $T under relative names, so that no path of this
# machine ends up in the seeds.
cd "$T"
FS="-ffunction-sections -fdata-sections"
# Object files must not depend on where they were built.
PM="-ffile-prefix-map=$T=/src"

for t in hpx hpx_payload verify elf dwarf image hpdiff state; do
	mkdir -p "$C/$t"
	rm -f "$C/$t"/seed-*
done

# cc_ CC FLAGS SAMPLE VERSION NAME: compile samples/SAMPLE/VERSION.c into NAME.o
cc_()
{
	mkdir -p src
	cp "$S/$3/$4.c" "src/$3-$4.c"
	$1 $2 $PM -c "src/$3-$4.c" -o "$5.o"
}

# ----- elf: single objects, with and without DWARF -------------------------
for s in one-fix jump-table hot-cold new-string static-local clone; do
	for cc in gcc clang; do
		cc_ $cc "-O2 $FS" $s new $cc-O2-$s
		cp "$cc-O2-$s.o" "$C/elf/seed-$cc-O2-$s.o"
	done
done
cc_ gcc "-O0 -g $FS" jump-table old e1 && cp "e1.o" "$C/elf/seed-gcc-O0-g-jump-table.o"
cc_ clang "-O2 -g $FS" inline-helper old e2 && cp "e2.o" "$C/elf/seed-clang-O2-g-inline-helper.o"
cc_ gcc "-O2 -g -gz $FS" hot-cold old e3 && cp "e3.o" "$C/elf/seed-gcc-O2-gz-hot-cold.o"
cc_ gcc "-O2" several old e4 && cp "e4.o" "$C/elf/seed-gcc-O2-no-sections-several.o"
cc_ clang "-O1 -fPIC $FS" global-data-ref new e5 && cp "e5.o" "$C/elf/seed-clang-O1-pic-global-data-ref.o"

# ----- dwarf: objects with DWARF 4 and 5 from both compilers ---------------
for s in inline-helper hot-cold; do
	for cc in gcc clang; do
		for v in 4 5; do
			cc_ $cc "-O2 -gdwarf-$v $FS" $s old d
			cp "d.o" "$C/dwarf/seed-$cc-O2-dwarf$v-$s.o"
		done
	done
done
cc_ gcc "-O0 -g $FS" auto-inline new d && cp "d.o" "$C/dwarf/seed-gcc-O0-g-auto-inline.o"
cc_ gcc "-O2 -g -gz $FS" part-clone new d && cp "d.o" "$C/dwarf/seed-gcc-O2-gz-part-clone.o"

# ----- hpdiff: old/new pairs, old_size:u32 then both objects ---------------
pair()
{
	python3 - "$1" "$2" "$3" <<'PY'
import struct, sys
a = open(sys.argv[1], 'rb').read()
b = open(sys.argv[2], 'rb').read()
open(sys.argv[3], 'wb').write(struct.pack('<I', len(a)) + a + b)
PY
}
# gcc's with DWARF, as hpbuild needs them; clang's without, smaller.
for s in one-fix new-helper new-string static-local jump-table clone hot-cold global-data-ref; do
	cc_ gcc "-O2 -g $FS" $s old o
	cc_ gcc "-O2 -g $FS" $s new n
	pair "o.o" "n.o" "$C/hpdiff/seed-gcc-O2-g-$s"
	cc_ clang "-O2 $FS" $s old o
	cc_ clang "-O2 $FS" $s new n
	pair "o.o" "n.o" "$C/hpdiff/seed-clang-O2-$s"
done
for s in inline-helper auto-inline; do
	cc_ gcc "-O2 -g $FS" $s old o
	cc_ gcc "-O2 -g $FS" $s new n
	pair "o.o" "n.o" "$C/hpdiff/seed-gcc-O2-g-$s"
done

# ----- hpx, hpx_payload: patches hpbuild makes ------------------------------
export SOURCE_DATE_EPOCH=1700000000
for s in one-fix new-helper new-string jump-table several hot-cold; do
	for cc in gcc clang; do
		cc_ $cc "-O2 -g $FS" $s old o
		cc_ $cc "-O2 -g $FS" $s new n
		rc=0
		"$BIN/hpbuild" -q o.o n.o -o p.hpx 2>/dev/null || rc=$?
		[ $rc -eq 0 ] || continue
		cp "p.hpx" "$C/hpx/seed-$cc-O2-$s.hpx"
	done
done
# Bound to a binary's build-id.
cat > main.c <<'M'
int parse_len(const char *s, int max);
int main(int argc, char **argv) { return argc > 1 ? parse_len(argv[1], 8) : 0; }
M
cat > "old.c" <<'M'
#include <string.h>
int parse_len(const char *s, int max) { int n = (int)strlen(s); return n > max ? -1 : n; }
M
sed 's/n > max/n >= max/' "old.c" > "new.c"
gcc -O2 -g $PM $FS -c "old.c" -o "old.o"
gcc -O2 -g $PM $FS -c "new.c" -o "new.o"
gcc -O2 -c "main.c" -o "main.o"
gcc -Wl,--build-id -o "server" "old.o" "main.o"
"$BIN/hpbuild" -q --target "server" --sequence 7 "old.o" "new.o" -o "t.hpx"
cp "t.hpx" "$C/hpx/seed-gcc-O2-target.hpx"
# Signature blocks appended (not valid signatures: the reader only parses them).
python3 - "t.hpx" "$C/hpx" <<'PY'
import struct, sys
f = open(sys.argv[1], 'rb').read()
def block(alg, n, fill):
    return b'HSG1' + struct.pack('<IHHI', 48 + n, alg, n, 0) + bytes([fill]) * 32 + bytes([fill ^ 0x5a]) * n
open(sys.argv[2] + '/seed-signed-ed25519.hpx', 'wb').write(f + block(1, 64, 1))
open(sys.argv[2] + '/seed-signed-twice.hpx', 'wb').write(f + block(1, 64, 2) + block(2, 71, 3))
PY
# verify: containers signed by one key, by both, by an unknown key, with a
# signature damaged, with a P-256 signature in its high-S form (refused). The
# public keys go to tests/fuzz/keys/, the private ones are thrown away with $T.
mkdir -p "$C/verify" "$C/../keys"
rm -f "$C/verify"/seed-* "$C/../keys"/*.pem
openssl genpkey -algorithm ed25519 -out ed.pem 2>/dev/null
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out p256.pem 2>/dev/null
openssl genpkey -algorithm ed25519 -out stranger.pem 2>/dev/null
openssl pkey -in ed.pem -pubout -out "$C/../keys/ed25519.pem"
openssl pkey -in p256.pem -pubout -out "$C/../keys/p256.pem"
"$BIN/hpsign" t.hpx --key ed.pem -o "$C/verify/seed-ed25519.hpx"
"$BIN/hpsign" t.hpx --key p256.pem -o "$C/verify/seed-p256.hpx"
"$BIN/hpsign" "$C/verify/seed-ed25519.hpx" --key p256.pem -o "$C/verify/seed-both.hpx"
"$BIN/hpsign" t.hpx --key stranger.pem -o "$C/verify/seed-untrusted.hpx"
python3 - "$C/verify/seed-p256.hpx" "$C/verify/seed-p256-damaged.hpx" <<'PY'
import sys
f = bytearray(open(sys.argv[1], 'rb').read())
f[-5] ^= 0x40
open(sys.argv[2], 'wb').write(f)
PY
python3 "$C/../../e2e/lib/ecdsa_sig.py" high-s "$C/verify/seed-p256.hpx" "$C/verify/seed-p256-high-s.hpx"
cp t.hpx "$C/verify/seed-unsigned.hpx"

# The payloads inside, for hpx_payload (the signed ones hold the same payload).
for f in "$C"/hpx/seed-*O2*.hpx; do
	b=$(basename "$f" .hpx)
	python3 - "$f" "frame" <<'PY'
import struct, sys
f = open(sys.argv[1], 'rb').read()
body = struct.unpack_from('<Q', f, 16)[0]
open(sys.argv[2], 'wb').write(f[64 + 16:64 + body])
PY
	zstd -q -d -f "frame" -o "$C/hpx_payload/${b#seed-}"
	mv "$C/hpx_payload/${b#seed-}" "$C/hpx_payload/$b"
done

# ----- image: linked executables and a shared library -----------------------
cp "server" "$C/image/seed-gcc-pie-build-id"
strip -o "$C/image/seed-gcc-pie-stripped" "server"
gcc -no-pie -Wl,--build-id -o "$C/image/seed-gcc-no-pie" "old.o" "main.o"
clang -fPIC -shared -Wl,--build-id -o "$C/image/seed-clang-shared.so" "old.c"
mkdir -p twins && cp "$S/static-twins/old/a.c" "$S/static-twins/old/b.c" twins/
clang -O2 -Wl,--build-id=sha1 -o "$C/image/seed-clang-static-locals" twins/a.c twins/b.c main.c \
	old.c

# ----- state: records a process may hold, written from the documented layout
python3 "$C/../state-seeds.py" "$C/state"

for t in hpx hpx_payload verify elf dwarf image hpdiff state; do
	echo "$t: $(ls "$C/$t" | wc -l) files, $(du -sk "$C/$t" | cut -f1) KB"
done
