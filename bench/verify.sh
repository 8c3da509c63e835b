#!/bin/sh
# bench/verify.sh [BIN]: CPU cost of signing and verifying a ~1 KB patch
# (issue 6: "hpverify of a signed 1 KB patch takes well under a millisecond of
# CPU"). Not part of make check; prints one Markdown table.
#
# Rows: signer_verify() called 10000 times in one process (verify-bench.c),
# whole hpverify processes (1000 runs, user + system CPU of the children, so
# exec and dynamic linking of libcrypto count), hpverify --version as the
# start-up baseline, and signing: signer_append() with PEM keys and with keys
# in a SoftHSM2 token (in a temporary directory), and whole hpsign processes.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
make -C "$root" -s all >&2
BIN=$(cd "${1:-$root/bin}" && pwd)
NV=${BENCH_VERIFY_CALLS:-10000}
NP=${BENCH_PROCESSES:-1000}
NS=${BENCH_SIGN_CALLS:-1000}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT

cc -O2 -std=c11 -D_GNU_SOURCE -I"$root" -o "$T/vb" "$here/verify-bench.c" \
	"$root/build/libsigner.a" "$root/build/libhpx.a" "$root/build/libbase.a" -lzstd -lcrypto -ldl

# A patch of about 1 KB: one function with a bigger body than the usual fix.
cat > "$T/old.c" <<'C'
int classify(const unsigned char *p, int n)
{
	int score = 0;
	for (int i = 0; i < n; i++) {
		switch (p[i] & 15) {
		case 0: score += 3; break;
		case 1: score ^= i; break;
		case 2: score -= p[i] >> 2; break;
		case 3: score = score * 5 + 1; break;
		case 4: score += p[(i + 1) % n]; break;
		case 5: score |= 1 << (i & 7); break;
		case 6: score &= ~(1 << (i & 7)); break;
		case 7: score += i * i; break;
		case 8: score -= 17; break;
		case 9: score += p[i] * 3; break;
		default: score += 1; break;
		}
		if (score > 100000)
			score /= 3;
	}
	return score;
}
C
sed 's/score > 100000/score >= 100000/' "$T/old.c" > "$T/new.c"
for v in old new; do gcc -O2 -g -ffunction-sections -fdata-sections -c "$T/$v.c" -o "$T/$v.o"; done
"$BIN/hpbuild" "$T/old.o" "$T/new.o" -o "$T/fix.hpx"
usize=$(stat -c %s "$T/fix.hpx")

mkdir -p "$T/trust"
openssl genpkey -algorithm ed25519 -out "$T/ed.pem" 2>/dev/null
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$T/ec.pem" 2>/dev/null
for k in ed ec; do openssl pkey -in "$T/$k.pem" -pubout -out "$T/trust/$k.pub.pem"; done
"$BIN/hpsign" "$T/fix.hpx" --key "$T/ed.pem" -o "$T/fix-ed.hpx"
"$BIN/hpsign" "$T/fix.hpx" --key "$T/ec.pem" -o "$T/fix-ec.hpx"
sed_=$(stat -c %s "$T/fix-ed.hpx")
sec=$(stat -c %s "$T/fix-ec.hpx")

# row WHAT US BASELINE_US BASELINE_NOTE: one row of the bench table (what, value,
# baseline, ratio), CPU microseconds per operation.
row()
{
	awk -v what="$1" -v v="$2" -v b="$3" -v note="$4" 'BEGIN {
		printf "| %s | %.1f us CPU | %s | %s |\n", what, v,
			(b == "" ? note : sprintf("%.1f us (%s)", b, note)),
			(b == "" || b == 0 ? "n/a" : sprintf("%.2fx", v / b))
	}'
}
echo "| what | value | baseline | ratio |"
echo "|---|---|---|---|"
start=$("$T/vb" exec "$NP" "$BIN/hpverify" --version)
ped=$("$T/vb" sign "$T/fix.hpx" "$T/ed.pem" "$NS")
pec=$("$T/vb" sign "$T/fix.hpx" "$T/ec.pem" "$NS")
row "hpverify, Ed25519, 1 KB patch ($sed_ bytes): signer_verify(), $NV calls in one process" \
	"$("$T/vb" verify "$T/fix-ed.hpx" "$T/trust" "$NV")" 1000 "target: well under 1 ms"
row "hpverify, P-256, 1 KB patch ($sec bytes): signer_verify(), $NV calls in one process" \
	"$("$T/vb" verify "$T/fix-ec.hpx" "$T/trust" "$NV")" 1000 "target: well under 1 ms"
row "hpverify, Ed25519, 1 KB patch: whole process, user + system, trust dir of 2 keys, $NP runs" \
	"$("$T/vb" exec "$NP" "$BIN/hpverify" "$T/fix-ed.hpx" --trust "$T/trust")" "$start" "hpverify --version: exec and libcrypto start-up"
row "hpverify, P-256, 1 KB patch: whole process, $NP runs" \
	"$("$T/vb" exec "$NP" "$BIN/hpverify" "$T/fix-ec.hpx" --trust "$T/trust")" "$start" "hpverify --version"
row "hpsign, Ed25519 PEM key: signer_append(), $NS calls, unsigned patch of $usize bytes" "$ped" "" "-"
row "hpsign, P-256 PEM key: signer_append(), $NS calls" "$pec" "" "-"
row "hpsign, Ed25519 PEM key: whole process (key read, patch read, checked, written), 200 runs" \
	"$("$T/vb" exec 200 "$BIN/hpsign" "$T/fix.hpx" --key "$T/ed.pem" -o "$T/o.hpx")" "$start" "hpverify --version"

# The same through PKCS#11, with a token of our own.
MOD=/usr/lib/softhsm/libsofthsm2.so
if command -v softhsm2-util >/dev/null && command -v pkcs11-tool >/dev/null && [ -e "$MOD" ]; then
	export SOFTHSM2_CONF="$T/softhsm2.conf" PKCS11_MODULE_PATH="$MOD" HP_PIN=1234
	mkdir -p "$T/tokens"
	printf 'directories.tokendir = %s/tokens\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n' "$T" > "$SOFTHSM2_CONF"
	softhsm2-util --init-token --free --label bench --so-pin 87654321 --pin "$HP_PIN" >/dev/null
	pkcs11-tool --module "$MOD" --token-label bench --login --pin env:HP_PIN --keypairgen --key-type EC:prime256v1 --label ec --id 01 >/dev/null 2>&1
	pkcs11-tool --module "$MOD" --token-label bench --login --pin env:HP_PIN --keypairgen --key-type EC:edwards25519 --label ed --id 02 >/dev/null 2>&1
	row "hpsign, Ed25519 in SoftHSM2: signer_append(), $NS calls, one session, CKM_EDDSA (CPU of the module included)" \
		"$("$T/vb" sign "$T/fix.hpx" 'pkcs11:token=bench;object=ed' "$NS")" "$ped" "the same with the PEM key"
	row "hpsign, P-256 in SoftHSM2: signer_append(), $NS calls, CKM_ECDSA, r and s to DER" \
		"$("$T/vb" sign "$T/fix.hpx" 'pkcs11:token=bench;object=ec' "$NS")" "$pec" "the same with the PEM key"
	row "hpsign, P-256 in SoftHSM2: whole process (module load, login, sign, write), 100 runs" \
		"$("$T/vb" exec 100 "$BIN/hpsign" "$T/fix.hpx" --key 'pkcs11:token=bench;object=ec' -o "$T/o.hpx")" "$start" "hpverify --version"
else
	echo "| hpsign in SoftHSM2 | n/a | softhsm2 or opensc missing (make deps) | n/a |"
fi
