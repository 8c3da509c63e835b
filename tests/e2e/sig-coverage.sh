#!/bin/sh
# Every byte of a signature block is signed or checked (formats/hpx-format.md,
# "What protects each byte of a block"). A patch signed by a trusted key and by
# an untrusted one, in both orders: one bit flipped in each byte of the two
# blocks in turn, each copy given to hpverify (a flip before the blocks fails
# the header check; hsm.sh and the unit tests flip those, and every bit of the
# blocks too, in-process). With the untrusted block first, the trusted
# block after it covers it and every flip is refused. With it last, the flips
# accepted are all in its key id and its signature, the bytes the format says
# nothing covers and no decision uses; the list is printed. A trusted block
# whose key id is changed is refused, naming the key that made it; the ignored
# blocks are listed as such; an uncovered block can be removed (inherent).
set -eu
BIN=${BIN:-bin}
HERE=$(dirname "$0")
. "$HERE/lib/sigblock.sh"
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

# The security team's P-256 key is trusted; the build stage's Ed25519 key is not.
mkdir "$T/trust"
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$T/team.pem" 2>/dev/null
openssl pkey -in "$T/team.pem" -pubout -out "$T/trust/team.pem"
openssl genpkey -algorithm ed25519 -out "$T/build.pem" 2>/dev/null
cat > "$T/old.c" <<'C'
int scale(int x, int y)
{
	int s = 0;
	for (int i = 0; i < x; i++)
		s += i * y + (s >> 3);
	return s;
}
C
sed 's/s >> 3/s >> 4/' "$T/old.c" > "$T/new.c"
for v in old new; do gcc -O2 -g -ffunction-sections -fdata-sections -c "$T/$v.c" -o "$T/$v.o"; done
"$BIN/hpbuild" "$T/old.o" "$T/new.o" -o "$T/unsigned.hpx"
"$BIN/hpsign" "$T/unsigned.hpx" --key "$T/build.pem" -o "$T/build-team.hpx"
"$BIN/hpsign" "$T/build-team.hpx" --key "$T/team.pem"
"$BIN/hpsign" "$T/unsigned.hpx" --key "$T/team.pem" -o "$T/team-build.hpx"
"$BIN/hpsign" "$T/team-build.hpx" --key "$T/build.pem"

# What hpverify lists for the ignored block, in each order.
"$BIN/hpverify" "$T/build-team.hpx" --trust "$T/trust" > "$T/out" || fail "build then team: $(cat "$T/out")"
grep -q "signature 1: ed25519, key .*, untrusted, not verified: ignored (signature 2 covers it)$" "$T/out" || fail "$(cat "$T/out")"
"$BIN/hpverify" "$T/team-build.hpx" --trust "$T/trust" > "$T/out" || fail "team then build: $(cat "$T/out")"
grep -q "signature 2: ed25519, key .*, untrusted, not verified: ignored (no trusted signature covers it; anyone can change or remove it)$" "$T/out" || fail "$(cat "$T/out")"

# flips FILE: one bit flipped in each byte of its blocks (bit i % 8), each copy
# verified; prints the accepted offsets as "OFFSET FIELD", FIELD named from the
# last block's layout.
flips() {
	set -- "$1" $(sig_starts "$1")
	last=$3
	rm -rf "$T/flip" && mkdir "$T/flip"
	python3 - "$1" "$T/flip" "$2" <<'PY'
import os, sys
b = open(sys.argv[1], 'rb').read()
for i in range(int(sys.argv[3]), len(b)):
    c = bytearray(b); c[i] ^= 1 << (i % 8)
    open(os.path.join(sys.argv[2], str(i)), 'wb').write(c)
PY
	for f in "$T"/flip/*; do
		"$BIN/hpverify" -q "$f" --trust "$T/trust" 2>/dev/null || continue
		at=${f##*/}
		if [ $at -lt $last ]; then field="before the last block"
		elif [ $at -lt $((last + 16)) ]; then field="last block: header"
		elif [ $at -lt $((last + 48)) ]; then field="last block: key_id"
		else field="last block: signature"; fi
		echo "$at $field"
	done
}

# Untrusted first: covered by the trusted block; nothing is accepted.
flips "$T/build-team.hpx" > "$T/accepted"
[ -s "$T/accepted" ] && fail "build then team: flips accepted: $(cat "$T/accepted")"
# Untrusted last: only its key id and signature; every byte of the key id.
set -- $(sig_starts "$T/team-build.hpx")
nbytes=$(($(stat -c %s "$T/team-build.hpx") - $1))
flips "$T/team-build.hpx" > "$T/accepted"
grep -v "last block: key_id$\|last block: signature$" "$T/accepted" && fail "team then build: a flip that matters was accepted"
nkey=$(grep -c "key_id$" "$T/accepted")
nsig=$(grep -c "signature$" "$T/accepted")
[ "$nkey" -eq 32 ] || fail "team then build: $nkey of the 32 key id flips accepted"
echo "sig-coverage: untrusted block last: $((nkey + nsig)) of the $nbytes block bytes flipped were accepted: $nkey of 32 in its key id, $nsig of 64 in its signature; none elsewhere"

# The trusted block relabeled to the untrusted key's id, which would leave it
# ignored: refused, naming the key that made it.
python3 - "$T/build-team.hpx" "$T/relabeled.hpx" "$(sig_starts "$T/build-team.hpx" | tail -1)" \
	"$(key_id_of "$T/trust/team.pem")" "$(openssl pkey -in "$T/build.pem" -pubout | openssl pkey -pubin -outform DER | openssl dgst -sha256 -r | cut -c1-64)" <<'PY'
import sys
b = bytearray(open(sys.argv[1], 'rb').read()); at = int(sys.argv[3])
assert b[at + 16:at + 48].hex() == sys.argv[4]
b[at + 16:at + 48] = bytes.fromhex(sys.argv[5])
open(sys.argv[2], 'wb').write(b)
PY
rc=0
"$BIN/hpverify" "$T/relabeled.hpx" --trust "$T/trust" > "$T/out" 2> "$T/err" || rc=$?
[ $rc -eq 4 ] || fail "relabeled: exit $rc"
grep -q "relabeled.hpx: signature 2 (ecdsa-p256, key .*, untrusted) is refused: it was made by the trusted key team.pem, not by the key it names; its key id was changed" "$T/err" ||
	fail "relabeled: $(cat "$T/err")"
grep -q "signature 2: ecdsa-p256, .*, untrusted, REFUSED$" "$T/out" || fail "relabeled: $(cat "$T/out")"

# The uncovered block can be removed, and the patch still verifies: inherent, and said.
head -c "$(sig_starts "$T/team-build.hpx" | tail -1)" "$T/team-build.hpx" > "$T/stripped.hpx"
"$BIN/hpverify" -q "$T/stripped.hpx" --trust "$T/trust" || fail "the trusted block alone"
echo "ok sig-coverage"
