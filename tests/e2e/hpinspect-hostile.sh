#!/bin/sh
# hpinspect on containers that are well formed but hostile: every field at its
# extreme still prints, and nothing crashes. (Malformed ones are in
# tests/golden-bad/.)
set -eu
BIN=${BIN:-bin}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

cat > "$T/old.c" <<'C'
int parse_len(const char *s, int max) { int n = 0; while (s[n]) n++; return n > max ? -1 : n; }
C
sed 's/n > max/n >= max/' "$T/old.c" > "$T/new.c"
for v in old new; do gcc -O2 -g -ffunction-sections -fdata-sections -c "$T/$v.c" -o "$T/$v.o"; done
"$BIN/hpbuild" "$T/old.o" "$T/new.o" -o "$T/fix.hpx"

# set_u64 FILE OFFSET VALUE OUT: a copy with a header field changed and the
# check field recomputed, so only the field itself is unusual.
set_u64()
{
	python3 - "$@" <<'PY'
import hashlib, struct, sys
f = bytearray(open(sys.argv[1], 'rb').read())
struct.pack_into('<Q', f, int(sys.argv[2]), int(sys.argv[3], 0))
body = struct.unpack_from('<Q', f, 16)[0]
f[56:64] = hashlib.sha256(bytes(f[:56]) + bytes(f[64:64 + body])).digest()[:8]
open(sys.argv[4], 'wb').write(f)
PY
}

# A creation time no calendar can show: printed as a number, not a crash.
for v in 0x4000000000000000 0xffffffffffffffff 0x7fffffffffffffff; do
	set_u64 "$T/fix.hpx" 48 $v "$T/c.hpx"
	rc=0; "$BIN/hpinspect" "$T/c.hpx" > "$T/out" 2> "$T/err" || rc=$?
	[ $rc -eq 0 ] || fail "created $v: exit $rc: $(cat "$T/err")"
	grep -q "^created:   $(printf %u $v) seconds after 1970 (not a date)$" "$T/out" ||
		fail "created $v: $(grep created "$T/out")"
	"$BIN/hpinspect" --json "$T/c.hpx" | grep -q "\"created\": $(printf %u $v)," ||
		fail "created $v in JSON"
done
# The largest sequence number.
set_u64 "$T/fix.hpx" 40 0xffffffffffffffff "$T/s.hpx"
"$BIN/hpinspect" "$T/s.hpx" | grep -q '^sequence:  18446744073709551615$' || fail "sequence"
echo "ok hpinspect-hostile"
