#!/bin/sh
# hpsign and hpverify with keys in a real HSM: a SoftHSM2 token created in a
# temporary directory (never the system's /var/lib/softhsm) holding a P-256 and
# an Ed25519 key, reached through PKCS#11 by a pkcs11: URI. Each signature is
# verified by hpverify and by the plain openssl command, and each P-256 one is
# low-S (ecdsa-low-s.sh says why); then every failure a security team meets:
# wrong PIN, missing key, untrusted key, one flipped bit anywhere, a truncated
# signature, a signature moved to another patch, trailing bytes. Each failure
# is one line on stderr and a non-zero exit.
set -eu
BIN=${BIN:-bin}
HERE=$(dirname "$0")
. "$HERE/lib/sigblock.sh"
. "$HERE/lib/clamp.sh"
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
for tool in softhsm2-util pkcs11-tool openssl; do
	command -v $tool >/dev/null || fail "$tool is missing: run make deps (README, Try it)"
done
MOD=
for m in /usr/lib/softhsm/libsofthsm2.so /usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so; do
	[ -e "$m" ] && MOD=$m && break
done
[ -n "$MOD" ] || fail "libsofthsm2.so not found: run make deps"

# Under make asan: SoftHSM 2.6.1 leaks 37 bytes in C_SignInit for CKM_EDDSA (an
# ASN.1 string it decodes). Not ours; suppressed by module name, which needs the
# slow unwinder to see through libcrypto's frames. Plain builds ignore both.
printf 'leak:libsofthsm2.so\n' > "$T/lsan.supp"
export LSAN_OPTIONS="${LSAN_OPTIONS:+$LSAN_OPTIONS:}suppressions=$T/lsan.supp:print_suppressions=0"
asan_before=${ASAN_OPTIONS-}
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}fast_unwind_on_malloc=0"

# ----- a token of our own ----------------------------------------------------------
export SOFTHSM2_CONF="$T/softhsm2.conf" PKCS11_MODULE_PATH="$MOD" HP_PIN=1234
mkdir -p "$T/tokens" "$T/trust"
printf 'directories.tokendir = %s/tokens\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n' "$T" > "$SOFTHSM2_CONF"
softhsm2-util --init-token --free --label hp-sec --so-pin 87654321 --pin "$HP_PIN" >/dev/null
softhsm2-util --init-token --free --label hp-other --so-pin 87654321 --pin 5678 >/dev/null
# Both key types on one token: raw PKCS#11 has no trouble with mixed tokens.
p11() { pkcs11-tool --module "$MOD" "$@" >/dev/null 2>&1; }
p11 --token-label hp-sec --login --pin env:HP_PIN --keypairgen --key-type EC:prime256v1 --label ec-key --id 01
p11 --token-label hp-sec --login --pin env:HP_PIN --keypairgen --key-type EC:edwards25519 --label ed-key --id 02
p11 --token-label hp-other --login --pin 5678 --keypairgen --key-type EC:prime256v1 --label ec-key --id 01
# The public keys, exported for the trust store (pkcs11-tool writes EC as DER, Ed25519 as PEM).
p11 --token-label hp-sec --read-object --type pubkey --id 01 -o "$T/ec.der"
openssl pkey -pubin -inform DER -in "$T/ec.der" -out "$T/trust/hsm-ec.pem"
p11 --token-label hp-sec --read-object --type pubkey --id 02 -o "$T/ed.out"
openssl pkey -pubin -in "$T/ed.out" -out "$T/trust/hsm-ed.pem" 2>/dev/null ||
	openssl pkey -pubin -inform DER -in "$T/ed.out" -out "$T/trust/hsm-ed.pem"
p11 --token-label hp-other --read-object --type pubkey --id 01 -o "$T/other.der"
openssl pkey -pubin -inform DER -in "$T/other.der" -out "$T/other.pem"
EC='pkcs11:token=hp-sec;object=ec-key;type=private'
ED='pkcs11:token=hp-sec;id=%02'

# ----- two small patches --------------------------------------------------------------
clamp_objects "$T"
mkdir -p "$T/new2"
sed 's/n < 4096/n < 1024/' "$T/old/clamp.c" > "$T/new2/clamp.c"
gcc -O2 -g -ffunction-sections -fdata-sections -c "$T/new2/clamp.c" -o "$T/new2/clamp.o"
"$BIN/hpbuild" "$T/old/clamp.o" "$T/new2/clamp.o" -o "$T/other.hpx"
cmp -s "$T/fix.hpx" "$T/other.hpx" && fail "the two patches are the same"
cp "$T/fix.hpx" "$T/unsigned.hpx"
usize=$(stat -c %s "$T/fix.hpx")

# ----- sign with each key through the token; verify with hpverify and with openssl -------
"$BIN/hpsign" "$T/fix.hpx" --key "$EC"
cmp -s -n "$usize" "$T/unsigned.hpx" "$T/fix.hpx" || fail "signing changed a byte it covers"
s1size=$(stat -c %s "$T/fix.hpx")
cp "$T/fix.hpx" "$T/one.hpx"
# The PIN from a file this time (a trailing newline is the file's), the module by option.
echo 1234 > "$T/pin"
env -u HP_PIN -u PKCS11_MODULE_PATH "$BIN/hpsign" "$T/fix.hpx" --key "$ED" --module "$MOD" --pin-file "$T/pin"
[ "$(stat -c %s "$T/fix.hpx")" -gt "$s1size" ] || fail "nothing appended"
cmp -s -n "$s1size" "$T/one.hpx" "$T/fix.hpx" || fail "the second signature changed the first"

"$BIN/hpverify" "$T/fix.hpx" --trust "$T/trust" --require 2 > "$T/out" || fail "hpverify: $(cat "$T/out")"
ecid=$(key_id_of "$T/trust/hsm-ec.pem")
edid=$(key_id_of "$T/trust/hsm-ed.pem")
grep -q "^$T/fix.hpx: signature 1: ecdsa-p256, key $ecid, trusted (hsm-ec.pem), verified$" "$T/out" || fail "block 1: $(cat "$T/out")"
grep -q "^$T/fix.hpx: signature 2: ed25519, key $edid, trusted (hsm-ed.pem), verified$" "$T/out" || fail "block 2: $(cat "$T/out")"
grep -q "OK: signed by 2 distinct trusted keys" "$T/out" || fail "summary: $(cat "$T/out")"
set -- $(sig_starts "$T/fix.hpx")
[ $# -eq 2 ] || fail "expected 2 blocks, found $#"
[ "$1" -eq "$usize" ] || fail "first block at $1, not at the end of the unsigned file ($usize)"
sig_verify_openssl "$T/fix.hpx" "$1" "$T/trust/hsm-ec.pem" || fail "openssl does not verify the P-256 block"
sig_verify_openssl "$T/fix.hpx" "$2" "$T/trust/hsm-ed.pem" || fail "openssl does not verify the Ed25519 block"
# ... and openssl is not just saying yes: the wrong key, or the other block's start, fail.
sig_verify_openssl "$T/fix.hpx" "$1" "$T/other.pem" 2>/dev/null && fail "openssl verified with the wrong key"
sig_verify_openssl "$T/fix.hpx" "$2" "$T/trust/hsm-ec.pem" 2>/dev/null && fail "openssl verified Ed25519 as P-256"
# hpinspect --trust says the same, and parses the body.
"$BIN/hpinspect" --trust "$T/trust" "$T/fix.hpx" > "$T/out"
[ "$(grep -c ': verified$' "$T/out")" -eq 2 ] || fail "hpinspect --trust: $(cat "$T/out")"
"$BIN/hpinspect" --trust "$T/trust/hsm-ed.pem" "$T/fix.hpx" > "$T/out"
grep -q "^  ecdsa-p256 key $ecid, .*: untrusted$" "$T/out" || fail "hpinspect untrusted: $(cat "$T/out")"
# The token returns r||s with s high half the time; every block holds the low one
# (formats/hpx-format.md), so 20 signatures by the token are all low-S, minimal DER.
mkdir "$T/lows"
for i in $(seq 1 20); do
	"$BIN/hpsign" "$T/unsigned.hpx" --key "$EC" -o "$T/lows/$i.hpx"
done
python3 "$HERE/lib/ecdsa_sig.py" check "$T"/lows/*.hpx > "$T/out" || fail "token signatures: $(cat "$T/out")"
grep -qx "20 low-S signatures" "$T/out" || fail "$(cat "$T/out")"
"$BIN/hpverify" -q "$T/lows/1.hpx" --trust "$T/trust" || fail "a token's low-S signature"

# Each failure: a non-zero exit and exactly one line on stderr that says which.
expect() { # EXIT PATTERN CMD...: run CMD, check its exit status and its one line of stderr
	want=$1 pat=$2
	shift 2
	rc=0
	"$@" > "$T/stdout" 2> "$T/err" || rc=$?
	[ "$rc" -eq "$want" ] || fail "$*: exit $rc, expected $want: $(cat "$T/err")"
	[ "$(wc -l < "$T/err")" -eq 1 ] || fail "$*: not one line: $(cat "$T/err")"
	grep -q -- "$pat" "$T/err" || fail "$*: message: $(cat "$T/err")"
}

# ----- failures when signing -----------------------------------------------------------------
cp "$T/unsigned.hpx" "$T/s.hpx"
HP_PIN=0000 expect 1 "wrong PIN for token 'hp-sec'" "$BIN/hpsign" "$T/s.hpx" --key "$EC"
expect 1 "no private key on token 'hp-sec' matches the URI" "$BIN/hpsign" "$T/s.hpx" --key 'pkcs11:token=hp-sec;object=no-such-key'
expect 1 "no initialized token matches the URI" "$BIN/hpsign" "$T/s.hpx" --key 'pkcs11:token=nope;object=ec-key'
expect 1 "2 tokens match the URI" "$BIN/hpsign" "$T/s.hpx" --key 'pkcs11:object=ec-key'
expect 1 "needs a PIN: set HP_PIN" env -u HP_PIN "$BIN/hpsign" "$T/s.hpx" --key "$EC"
# (With no module named, p11-kit's proxy is used: pkcs11-uri.sh tests it and the other ways.)
expect 1 "cannot load the PKCS#11 module" "$BIN/hpsign" "$T/s.hpx" --key "$EC" --module "$T/nope.so"
expect 1 "pin-value= would show the PIN" "$BIN/hpsign" "$T/s.hpx" --key "$EC?pin-value=1234"
expect 1 "only a private key signs" "$BIN/hpsign" "$T/s.hpx" --key 'pkcs11:token=hp-sec;object=ec-key;type=public'
expect 1 "the variable is not set" "$BIN/hpsign" "$T/s.hpx" --key "$EC" --pin-env NO_SUCH_VAR
MYPIN=1234 "$BIN/hpsign" "$T/s.hpx" -o "$T/s2.hpx" --key "$ED" --pin-env MYPIN || fail "--pin-env"
cmp -s "$T/s.hpx" "$T/unsigned.hpx" || fail "a failed or -o signing touched the input"
ls "$T" | grep -q 'tmp' && fail "a temporary file was left behind"
# A file that is not a well-formed container is never signed.
head -c 100 "$T/unsigned.hpx" > "$T/short.hpx"
expect 1 "short.hpx: body size" "$BIN/hpsign" "$T/short.hpx" --key "$EC"

# ----- failures when verifying -----------------------------------------------------------------
# No Ed25519 signing by the token from here on: the fast unwinder again.
export ASAN_OPTIONS="$asan_before"
# A key outside the trust store: signed by the other token.
cp "$T/unsigned.hpx" "$T/u.hpx"
HP_PIN=5678 "$BIN/hpsign" "$T/u.hpx" --key 'pkcs11:token=hp-other;object=ec-key'
expect 4 "no signature by a trusted key" "$BIN/hpverify" "$T/u.hpx" --trust "$T/trust"
grep -q "untrusted, not verified" "$T/stdout" || fail "untrusted block not listed: $(cat "$T/stdout")"
sig_verify_openssl "$T/u.hpx" "$(sig_starts "$T/u.hpx")" "$T/other.pem" || fail "openssl: other token's block"
# Unsigned.
expect 4 "the patch is not signed" "$BIN/hpverify" "$T/unsigned.hpx" --trust "$T/trust"
# Too few distinct trusted keys.
expect 4 "signed by 1 distinct trusted key, 2 required" "$BIN/hpverify" "$T/fix.hpx" --trust "$T/trust/hsm-ec.pem" --require 2
# Trailing bytes.
# (Fewer than a block header's 48 bytes read as a truncated block.)
{ cat "$T/fix.hpx"; head -c 64 /dev/zero; } > "$T/trail.hpx"
expect 4 "trailing bytes at offset $(stat -c %s "$T/fix.hpx") are not a signature block" "$BIN/hpverify" "$T/trail.hpx" --trust "$T/trust"
{ cat "$T/fix.hpx"; printf 'x'; } > "$T/trail.hpx"
expect 4 "signature block at offset $(stat -c %s "$T/fix.hpx") is truncated (1 bytes left)" "$BIN/hpverify" "$T/trail.hpx" --trust "$T/trust"
# A truncated signature: one byte short, half a signature, half a block header.
size=$(stat -c %s "$T/fix.hpx")
for cut in 1 30 100; do
	head -c $((size - cut)) "$T/fix.hpx" > "$T/trunc.hpx"
	expect 4 "is truncated" "$BIN/hpverify" "$T/trunc.hpx" --trust "$T/trust"
done
# A signature moved to another patch: the first block of fix.hpx appended to other.hpx.
osize=$(stat -c %s "$T/other.hpx")
{ cat "$T/other.hpx"; tail -c +$((usize + 1)) "$T/fix.hpx" | head -c $((s1size - usize)); } > "$T/moved.hpx"
expect 4 "signature 1 (ecdsa-p256, key ${ecid%"${ecid#????????????????}"}... in hsm-ec.pem) does not verify" \
	"$BIN/hpverify" "$T/moved.hpx" --trust "$T/trust"
sig_verify_openssl "$T/moved.hpx" "$osize" "$T/trust/hsm-ec.pem" 2>/dev/null && fail "openssl verified a moved signature"
# An unknown algorithm.
python3 - "$T/fix.hpx" "$T/alg.hpx" "$usize" <<'PY'
import sys
b = bytearray(open(sys.argv[1], 'rb').read()); at = int(sys.argv[3])
b[at + 8] = 3
open(sys.argv[2], 'wb').write(b)
PY
expect 4 "unknown algorithm 3" "$BIN/hpverify" "$T/alg.hpx" --trust "$T/trust"

# One flipped bit anywhere: every byte of the file (header, body, both blocks), a
# different bit each time. Every copy must fail, with one line.
python3 - "$T/fix.hpx" "$T/flip" <<'PY'
import os, sys
b = open(sys.argv[1], 'rb').read()
os.makedirs(sys.argv[2])
for i in range(len(b)):
    c = bytearray(b); c[i] ^= 1 << (i % 8)
    open(os.path.join(sys.argv[2], '%05d' % i), 'wb').write(c)
PY
n=0
for f in "$T"/flip/*; do
	rc=0
	"$BIN/hpverify" -q "$f" --trust "$T/trust" --require 2 2> "$T/err" || rc=$?
	[ $rc -eq 4 ] || fail "bit flip at byte ${f##*/}: exit $rc: $(cat "$T/err")"
	[ "$(wc -l < "$T/err")" -eq 1 ] || fail "bit flip at byte ${f##*/}: $(cat "$T/err")"
	n=$((n + 1))
done
[ $n -eq "$size" ] || fail "flipped $n bytes of $size"
echo "ok hsm ($n bit flips refused)"
