#!/bin/sh
# ECDSA P-256 signatures have one form: minimal DER, s <= n/2. (r, n - s)
# verifies whenever (r, s) does, so without the rule anyone could change the
# bytes of a signed patch. hpsign and hpbuild --sign write low-S signatures
# only (20 signatures, parsed here); a block re-encoded as (r, n - s), which
# the plain openssl command still accepts, is refused by hpverify (exit 4), as
# are a needless leading zero and a byte after the DER, whether the block's
# key is trusted or not. The PKCS#11 path is checked in hsm.sh.
set -eu
BIN=${BIN:-bin}
HERE=$(dirname "$0")
. "$HERE/lib/sigblock.sh"
SIG="python3 $HERE/lib/ecdsa_sig.py"
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
expect() { # EXIT PATTERN CMD...: the exit status, and one line of stderr matching PATTERN
	want=$1 pat=$2
	shift 2
	rc=0
	"$@" > "$T/stdout" 2> "$T/err" || rc=$?
	[ "$rc" -eq "$want" ] || fail "$*: exit $rc, expected $want: $(cat "$T/err")"
	[ "$(wc -l < "$T/err")" -eq 1 ] || fail "$*: not one line: $(cat "$T/err")"
	grep -q -- "$pat" "$T/err" || fail "$*: message: $(cat "$T/err")"
}

mkdir "$T/trust"
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$T/ec.pem" 2>/dev/null
openssl pkey -in "$T/ec.pem" -pubout -out "$T/trust/ec.pem"
openssl genpkey -algorithm ed25519 -out "$T/ed.pem" 2>/dev/null
openssl pkey -in "$T/ed.pem" -pubout -out "$T/ed.pub.pem"
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

# 20 signatures by hpsign and 2 by hpbuild --sign: each low-S, minimal DER.
# OpenSSL's own s is high half the time, so this fails at once without the rule.
for i in $(seq 1 20); do
	"$BIN/hpsign" "$T/unsigned.hpx" --key "$T/ec.pem" -o "$T/s$i.hpx"
done
for i in 1 2; do
	"$BIN/hpbuild" --sign "$T/ec.pem" "$T/old.o" "$T/new.o" -o "$T/b$i.hpx"
done
$SIG check "$T"/s*.hpx "$T"/b*.hpx > "$T/out" || fail "$(cat "$T/out")"
grep -qx "22 low-S signatures" "$T/out" || fail "$(cat "$T/out")"
"$BIN/hpverify" -q "$T/s1.hpx" --trust "$T/trust" || fail "a low-S signature"
set -- $(sig_starts "$T/s1.hpx")
sig_verify_openssl "$T/s1.hpx" "$1" "$T/trust/ec.pem" || fail "openssl: the low-S signature"

# (r, n - s): the plain openssl command accepts it; hpverify does not.
$SIG high-s "$T/s1.hpx" "$T/high.hpx"
sig_verify_openssl "$T/high.hpx" "$1" "$T/trust/ec.pem" || fail "openssl refused (r, n - s): not the malleability this guards against"
expect 4 "high.hpx: signature 1 (ecdsa-p256, key .* in ec.pem) is refused: ECDSA signature with high S; not canonical" \
	"$BIN/hpverify" "$T/high.hpx" --trust "$T/trust"
grep -q "signature 1: ecdsa-p256, .*, trusted (ec.pem), DOES NOT VERIFY" "$T/stdout" || fail "$(cat "$T/stdout")"
# Not trusted, the block is still refused: no block may be changed that way.
expect 4 "high.hpx: signature 1 (ecdsa-p256, key .*, untrusted) is refused: ECDSA signature with high S" \
	"$BIN/hpverify" "$T/high.hpx" --trust "$T/ed.pub.pem"
grep -q "signature 1: ecdsa-p256, .*, untrusted, REFUSED" "$T/stdout" || fail "$(cat "$T/stdout")"
# hpapply refuses it before it looks at the process (exit 4).
sleep 30 &
SLEEP=$!
rc=0
HOTPATCH_AUDIT="$T/audit.jsonl" "$BIN/hpapply" --trust "$T/trust" --pid $SLEEP "$T/high.hpx" 2> "$T/err" || rc=$?
kill $SLEEP 2>/dev/null || true
[ $rc -eq 4 ] || fail "hpapply: exit $rc: $(cat "$T/err")"
grep -q "with high S; not canonical" "$T/err" || fail "hpapply: $(cat "$T/err")"

# Other encodings of the same (r, s).
$SIG pad-r "$T/s1.hpx" "$T/pad.hpx"
expect 4 "pad.hpx: signature 1 (ecdsa-p256, .*) is refused: ECDSA signature not in minimal DER; not canonical" \
	"$BIN/hpverify" "$T/pad.hpx" --trust "$T/trust"
$SIG trailing "$T/s1.hpx" "$T/trail.hpx"
expect 4 "trail.hpx: signature 1 (ecdsa-p256, .*) is refused: bytes after the DER ECDSA signature" \
	"$BIN/hpverify" "$T/trail.hpx" --trust "$T/trust"
echo "ok ecdsa-low-s"
