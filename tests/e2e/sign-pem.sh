#!/bin/sh
# hpsign, hpverify, hpbuild --sign and hpinspect --trust with PEM key files:
# two signatures on one patch (build stage, then security team), --require,
# trust files and directories, encrypted keys, and the messages of misuse.
set -eu
BIN=${BIN:-bin}
HERE=$(dirname "$0")
. "$HERE/lib/sigblock.sh"
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
usage_error() { # PATTERN CMD...: exit 1, the first line of stderr matching PATTERN, then where help is
	pat=$1
	shift
	rc=0
	"$@" 2> "$T/err" || rc=$?
	[ "$rc" -eq 1 ] || fail "$*: exit $rc, expected 1"
	head -1 "$T/err" | grep -q -- "$pat" || fail "$*: message: $(head -1 "$T/err")"
	sed -n 2p "$T/err" | grep -q "^Try '.* --help' for more information.\$" || fail "$*: no pointer to --help after the message"
	[ "$(wc -l < "$T/err")" -eq 2 ] || fail "$*: more than two lines: $(cat "$T/err")"
}
unset HP_PIN

# Keys: the build stage's Ed25519, the security team's P-256, a stranger's, an RSA one.
mkdir -p "$T/trust" "$T/keys"
openssl genpkey -algorithm ed25519 -out "$T/keys/build.pem" 2>/dev/null
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$T/keys/sec.pem" 2>/dev/null
openssl genpkey -algorithm ed25519 -out "$T/keys/stranger.pem" 2>/dev/null
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:1024 -out "$T/keys/rsa.pem" 2>/dev/null
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-384 -out "$T/keys/p384.pem" 2>/dev/null
for k in build sec stranger rsa p384; do openssl pkey -in "$T/keys/$k.pem" -pubout -out "$T/keys/$k.pub.pem"; done
cp "$T/keys/build.pub.pem" "$T/keys/sec.pub.pem" "$T/trust/"

# A patch.
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
export SOURCE_DATE_EPOCH=1700000000
"$BIN/hpbuild" "$T/old.o" "$T/new.o" -o "$T/fix.hpx"
cp "$T/fix.hpx" "$T/unsigned.hpx"
usize=$(stat -c %s "$T/fix.hpx")

# Build stage signs, then the security team; -o leaves the input alone.
"$BIN/hpsign" "$T/fix.hpx" --key "$T/keys/build.pem" -o "$T/build-signed.hpx"
cmp -s "$T/fix.hpx" "$T/unsigned.hpx" || fail "-o changed the input"
bsize=$(stat -c %s "$T/build-signed.hpx")
"$BIN/hpsign" -v "$T/build-signed.hpx" --key "$T/keys/sec.pem" > "$T/out"
grep -q "signature 2, ecdsa-p256, key $(key_id_of "$T/keys/sec.pub.pem"), covers bytes 0..$bsize" "$T/out" || fail "hpsign -v: $(cat "$T/out")"
head -c "$usize" "$T/build-signed.hpx" | cmp -s - "$T/unsigned.hpx" || fail "signing changed covered bytes"
mv "$T/build-signed.hpx" "$T/two.hpx"
size=$(stat -c %s "$T/two.hpx")
[ "$size" -lt 1024 ] || fail "a one-function patch with two signatures is $size bytes, not under 1 KB"

# Both verify; --require 2 needs both keys trusted.
"$BIN/hpverify" "$T/two.hpx" --trust "$T/trust" --require 2 > "$T/out" || fail "two trusted keys: $(cat "$T/out")"
grep -q "signature 1: ed25519, key $(key_id_of "$T/keys/build.pub.pem"), trusted (build.pub.pem), verified" "$T/out" || fail "$(cat "$T/out")"
grep -q "signature 2: ecdsa-p256, key $(key_id_of "$T/keys/sec.pub.pem"), trusted (sec.pub.pem), verified" "$T/out" || fail "$(cat "$T/out")"
"$BIN/hpverify" -q "$T/two.hpx" --trust "$T/keys/sec.pub.pem" > "$T/out" || fail "the security team's key alone"
[ -s "$T/out" ] && fail "-q printed: $(cat "$T/out")"
expect 4 "signed by 1 distinct trusted key, 2 required" "$BIN/hpverify" "$T/two.hpx" --trust "$T/keys/sec.pub.pem" --require 2
grep -q "signature 1: ed25519, key .*, untrusted, not verified" "$T/stdout" || fail "$(cat "$T/stdout")"
# --trust given twice: the keys of both stores count (docs/cli.md), and a key
# in both counts once.
"$BIN/hpverify" -q "$T/two.hpx" --trust "$T/keys/build.pub.pem" --trust "$T/keys/sec.pub.pem" --require 2 ||
	fail "two --trust stores, one key each"
expect 4 "signed by 1 distinct trusted key, 2 required" "$BIN/hpverify" "$T/two.hpx" \
	--trust "$T/keys/sec.pub.pem" --trust "$T/keys/sec.pub.pem" --require 2
expect 4 "cannot open the trust store" "$BIN/hpverify" "$T/two.hpx" --trust "$T/trust" --trust "$T/nowhere"
# One file holding both keys is a trust store too.
cat "$T/keys/build.pub.pem" "$T/keys/sec.pub.pem" > "$T/both.pem"
"$BIN/hpverify" -q "$T/two.hpx" --trust "$T/both.pem" --require 2 || fail "a two-key trust file"
# Two signatures by one key count once.
cp "$T/unsigned.hpx" "$T/same.hpx"
"$BIN/hpsign" "$T/same.hpx" --key "$T/keys/build.pem"
expect 1 "signature 1 is already by this key; nothing written" "$BIN/hpsign" "$T/same.hpx" --key "$T/keys/build.pem"
# openssl agrees, block by block.
set -- $(sig_starts "$T/two.hpx")
sig_verify_openssl "$T/two.hpx" "$1" "$T/keys/build.pub.pem" || fail "openssl: build block"
sig_verify_openssl "$T/two.hpx" "$2" "$T/keys/sec.pub.pem" || fail "openssl: security block"

# hpbuild --sign: Ed25519 is deterministic, so it gives exactly hpbuild then hpsign.
"$BIN/hpbuild" --sign "$T/keys/build.pem" "$T/old.o" "$T/new.o" -o "$T/built.hpx"
cp "$T/unsigned.hpx" "$T/then.hpx"
"$BIN/hpsign" "$T/then.hpx" --key "$T/keys/build.pem"
cmp -s "$T/built.hpx" "$T/then.hpx" || fail "hpbuild --sign differs from hpbuild + hpsign"
"$BIN/hpbuild" --sign "$T/keys/sec.pem" "$T/old.o" "$T/new.o" -o "$T/built-ec.hpx"
"$BIN/hpverify" -q "$T/built-ec.hpx" --trust "$T/trust" || fail "hpbuild --sign with P-256"
rc=0; "$BIN/hpbuild" --sign "$T/keys/rsa.pem" "$T/old.o" "$T/new.o" -o "$T/rsa.hpx" 2> "$T/err" || rc=$?
[ $rc -eq 1 ] || fail "hpbuild --sign RSA: exit $rc"
grep -q "only Ed25519 and ECDSA P-256 keys are supported" "$T/err" || fail "$(cat "$T/err")"
[ -e "$T/rsa.hpx" ] && fail "a failed --sign wrote the patch"

# hpinspect --trust: each signature's state; without --trust, nothing is claimed.
cp "$T/two.hpx" "$T/three.hpx"
"$BIN/hpsign" "$T/three.hpx" --key "$T/keys/stranger.pem"
"$BIN/hpinspect" --trust "$T/trust" "$T/three.hpx" > "$T/out"
[ "$(grep -c ': verified$' "$T/out")" -eq 2 ] && grep -q ': untrusted$' "$T/out" || fail "hpinspect --trust: $(cat "$T/out")"
"$BIN/hpinspect" "$T/three.hpx" | grep -q '^signatures (3, not verified here):' || fail "hpinspect without --trust"
"$BIN/hpinspect" --json --trust "$T/trust" "$T/three.hpx" > "$T/j"
python3 -c '
import json, sys
s = json.load(open(sys.argv[1]))["signatures"]
assert [(x["trusted"], x["verified"]) for x in s] == [(True, True), (True, True), (False, False)], s
' "$T/j"
# A block by an untrusted key does not spoil the others.
"$BIN/hpverify" -q "$T/three.hpx" --trust "$T/trust" --require 2 || fail "a stranger's extra block"
# A block by a trusted key that fails is an error even when others pass: damage the
# Ed25519 signature (block 1) of a copy re-signed after it.
python3 - "$T/two.hpx" "$T/bad1.hpx" "$usize" <<'PY'
import sys
b = bytearray(open(sys.argv[1], 'rb').read()); at = int(sys.argv[3])
b[at + 48 + 10] ^= 0x40
open(sys.argv[2], 'wb').write(b[:at + 112])
PY
"$BIN/hpsign" "$T/bad1.hpx" --key "$T/keys/sec.pem"
expect 4 "signature 1 (ed25519, key .* in build.pub.pem) does not verify" "$BIN/hpverify" "$T/bad1.hpx" --trust "$T/trust"
grep -q "signature 2: ecdsa-p256, .*, verified$" "$T/stdout" || fail "block 2 should verify: $(cat "$T/stdout")"

# Encrypted PEM keys take the PIN as passphrase, from HP_PIN or a file.
openssl pkey -in "$T/keys/sec.pem" -aes256 -passout pass:s3cret -out "$T/keys/sec-enc.pem"
cp "$T/unsigned.hpx" "$T/enc.hpx"
expect 1 "the key is encrypted; give its passphrase" "$BIN/hpsign" "$T/enc.hpx" --key "$T/keys/sec-enc.pem"
HP_PIN=wrong expect 1 "wrong passphrase" "$BIN/hpsign" "$T/enc.hpx" --key "$T/keys/sec-enc.pem"
printf 's3cret\n' > "$T/pass"
"$BIN/hpsign" "$T/enc.hpx" --key "$T/keys/sec-enc.pem" --pin-file "$T/pass"
HP_PIN=s3cret "$BIN/hpsign" "$T/enc.hpx" --key "$T/keys/build.pem"
"$BIN/hpverify" -q "$T/enc.hpx" --trust "$T/trust" --require 2 || fail "encrypted key"

# Misuse: one line each, exit 1, nothing written.
cp "$T/unsigned.hpx" "$T/m.hpx"
expect 1 "only Ed25519 and ECDSA P-256" "$BIN/hpsign" "$T/m.hpx" --key "$T/keys/p384.pem"
expect 1 "cannot open: No such file" "$BIN/hpsign" "$T/m.hpx" --key "$T/keys/none.pem"
expect 1 "cannot read a PEM private key" "$BIN/hpsign" "$T/m.hpx" --key "$T/keys/sec.pub.pem"
usage_error "no key (--key" "$BIN/hpsign" "$T/m.hpx"
usage_error "option '--pin' is ambiguous: --pin-env, --pin-file" "$BIN/hpsign" "$T/m.hpx" --key "$T/keys/sec.pem" --pin 1234
printf 'junk' > "$T/junk.hpx"
expect 1 "junk.hpx: 4 bytes is shorter than the 64-byte header" "$BIN/hpsign" "$T/junk.hpx" --key "$T/keys/sec.pem"
cmp -s "$T/m.hpx" "$T/unsigned.hpx" || fail "a failed hpsign changed the file"
usage_error "no trust store" "$BIN/hpverify" "$T/two.hpx"
usage_error "--require given twice" "$BIN/hpverify" "$T/two.hpx" --trust "$T/trust" --require 1 --require 2
usage_error "--key given twice" "$BIN/hpsign" "$T/m.hpx" --key "$T/keys/sec.pem" --key "$T/keys/build.pem"
usage_error "--output needs an argument" "$BIN/hpbuild" -o x --output
expect 4 "a RSA key" "$BIN/hpverify" "$T/two.hpx" --trust "$T/keys/rsa.pub.pem"
expect 4 "holds a private key; a trust store holds public keys only" "$BIN/hpverify" "$T/two.hpx" --trust "$T/keys/sec.pem"
mkdir "$T/empty"
expect 4 "no \*.pem public key file in it" "$BIN/hpverify" "$T/two.hpx" --trust "$T/empty"
expect 4 "cannot open the trust store" "$BIN/hpverify" "$T/two.hpx" --trust "$T/nowhere"
expect 1 "cannot open: No such file" "$BIN/hpverify" "$T/none.hpx" --trust "$T/trust"
usage_error "--require: '0' is not a number" "$BIN/hpverify" "$T/two.hpx" --trust "$T/trust" --require 0
expect 4 "not a hotpatch container" "$BIN/hpverify" "$T/keys/sec.pem" --trust "$T/trust"
echo "ok sign-pem"
