#!/bin/sh
# Every way hpsign finds a token key, with a real SoftHSM2 token (in a
# temporary directory, never the system's /var/lib/softhsm): the URI's
# module-path= in the path (;module-path=) and in the query (?module-path=),
# module-name= (SoftHSM2's package registers its module with p11-kit as
# "softhsm2"), --module naming p11-kit's proxy module, and the proxy as the
# default when nothing names a module. Each signature, P-256 and Ed25519, must
# verify with hpverify. Then the order (--module, module-path=, module-name=,
# PKCS11_MODULE_PATH, the proxy): each first one wins over a wrong later one.
# Then the refusals: an unknown attribute, pin-value=, a module-name= that is
# not registered, each one line on stderr and exit 1, and nothing written.
set -eu
BIN=${BIN:-bin}
HERE=$(dirname "$0")
. "$HERE/lib/sigblock.sh"
. "$HERE/lib/clamp.sh"
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
for tool in softhsm2-util pkcs11-tool openssl pkg-config; do
	command -v $tool >/dev/null || fail "$tool is missing: run make deps (README, Try it)"
done
MOD=
for m in /usr/lib/softhsm/libsofthsm2.so /usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so; do
	[ -e "$m" ] && MOD=$m && break
done
[ -n "$MOD" ] || fail "libsofthsm2.so not found: run make deps"
PROXY=$(pkg-config --variable=proxy_module p11-kit-1)
[ -e "$PROXY" ] || fail "p11-kit's proxy module ($PROXY) is missing: run make deps (p11-kit-modules)"
# The registration module-name=softhsm2 and the proxy go through (package softhsm2-common).
grep -qs "softhsm2.so" /usr/share/p11-kit/modules/softhsm2.module ||
	fail "SoftHSM2 is not registered with p11-kit (/usr/share/p11-kit/modules/softhsm2.module): run make deps"

# Under make asan: SoftHSM 2.6.1 leaks in C_SignInit for CKM_EDDSA (hsm.sh says more).
printf 'leak:libsofthsm2.so\n' > "$T/lsan.supp"
export LSAN_OPTIONS="${LSAN_OPTIONS:+$LSAN_OPTIONS:}suppressions=$T/lsan.supp:print_suppressions=0"
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}fast_unwind_on_malloc=0"

# ----- a token of our own, one P-256 and one Ed25519 key ----------------------------------
export SOFTHSM2_CONF="$T/softhsm2.conf" HP_PIN=4321
unset PKCS11_MODULE_PATH
mkdir -p "$T/tokens" "$T/trust"
printf 'directories.tokendir = %s/tokens\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n' "$T" > "$SOFTHSM2_CONF"
softhsm2-util --init-token --free --label hp-uri --so-pin 87654321 --pin "$HP_PIN" >/dev/null
p11() { pkcs11-tool --module "$MOD" --token-label hp-uri "$@" >/dev/null 2>&1; }
p11 --login --pin env:HP_PIN --keypairgen --key-type EC:prime256v1 --label uri-ec --id 07
p11 --login --pin env:HP_PIN --keypairgen --key-type EC:edwards25519 --label uri-ed --id 08
p11 --read-object --type pubkey --id 07 -o "$T/ec.der"
openssl pkey -pubin -inform DER -in "$T/ec.der" -out "$T/trust/uri-ec.pem"
p11 --read-object --type pubkey --id 08 -o "$T/ed.out"
openssl pkey -pubin -in "$T/ed.out" -out "$T/trust/uri-ed.pem" 2>/dev/null ||
	openssl pkey -pubin -inform DER -in "$T/ed.out" -out "$T/trust/uri-ed.pem"
ecid=$(key_id_of "$T/trust/uri-ec.pem")
edid=$(key_id_of "$T/trust/uri-ed.pem")

# ----- a patch ------------------------------------------------------------------------------
clamp_objects "$T"

# ----- sign with each form, verify each signature ---------------------------------------------
n=0
signs() { # NAME KEYVAR URI [hpsign options]: sign a copy, quietly, and verify it with hpverify
	name=$1 key=$2 uri=$3
	shift 3
	out="$T/$name.hpx"
	"$BIN/hpsign" "$T/fix.hpx" -o "$out" --key "$uri" "$@" 2> "$T/err" ||
		fail "$name: hpsign --key '$uri' $*: $(cat "$T/err")"
	# Nothing on stderr: not a word from p11-kit, or from the modules the proxy loads.
	[ ! -s "$T/err" ] || fail "$name: hpsign said: $(cat "$T/err")"
	"$BIN/hpverify" "$out" --trust "$T/trust" > "$T/out" 2>&1 || fail "$name: hpverify: $(cat "$T/out")"
	case $key in ec) want="ecdsa-p256, key $ecid, trusted (uri-ec.pem), verified" ;;
	ed) want="ed25519, key $edid, trusted (uri-ed.pem), verified" ;; esac
	grep -qx "$out: signature 1: $want" "$T/out" || fail "$name: $(cat "$T/out")"
	n=$((n + 1))
}
for k in ec ed; do
	obj="token=hp-uri;object=uri-$k"
	signs "path-$k" $k "pkcs11:$obj;module-path=$MOD"
	signs "path-first-$k" $k "pkcs11:module-path=$MOD;$obj;type=private"
	signs "query-$k" $k "pkcs11:$obj?module-path=$MOD"
	signs "name-$k" $k "pkcs11:$obj?module-name=softhsm2"
	signs "name-path-$k" $k "pkcs11:$obj;module-name=softhsm2"
	signs "proxy-option-$k" $k "pkcs11:$obj" --module "$PROXY"
	signs "proxy-default-$k" $k "pkcs11:$obj"
done
# The library, slot and token attributes are matched (by p11-kit) wherever the module came from.
signs library-ec ec "pkcs11:library-manufacturer=SoftHSM;library-version=2.6;slot-manufacturer=SoftHSM%20project;manufacturer=SoftHSM%20project;model=SoftHSM%20v2;token=hp-uri;object=uri-ec?module-name=softhsm2"
signs library-proxy-ed ed "pkcs11:slot-manufacturer=SoftHSM%20project;model=SoftHSM%20v2;token=hp-uri;id=%08"
# The environment's module, when nothing else names one.
export PKCS11_MODULE_PATH="$MOD"
signs env-ec ec "pkcs11:token=hp-uri;id=%07"

# ----- the order: whatever comes first wins over a wrong one after it ----------------------------
obj="token=hp-uri;object=uri-ec"
export PKCS11_MODULE_PATH="$T/no-env.so"
# --module over the URI's module-path= and module-name=, and over the environment.
signs order-option ec "pkcs11:$obj;module-path=$T/no-path.so?module-name=no-such-module" --module "$MOD"
# module-path= over module-name= and the environment.
signs order-path ec "pkcs11:$obj;module-path=$MOD?module-name=no-such-module"
# module-name= over the environment.
signs order-name ec "pkcs11:$obj?module-name=softhsm2"
unset PKCS11_MODULE_PATH

# ----- refusals: one line each, exit 1, nothing written --------------------------------------------
expect() { # PATTERN URI [options]: hpsign refuses with exit 1 and one line matching PATTERN
	pat=$1 uri=$2
	shift 2
	rc=0
	"$BIN/hpsign" "$T/fix.hpx" -o "$T/refused.hpx" --key "$uri" "$@" > "$T/stdout" 2> "$T/err" || rc=$?
	[ "$rc" -eq 1 ] || fail "$uri: exit $rc, expected 1: $(cat "$T/err")"
	[ "$(wc -l < "$T/err")" -eq 1 ] || fail "$uri: not one line: $(cat "$T/err")"
	grep -qF -- "$pat" "$T/err" || fail "$uri: message: $(cat "$T/err")"
	[ ! -e "$T/refused.hpx" ] || fail "$uri: refused, but wrote the output"
	n=$((n + 1))
}
expect "hpsign: pkcs11:$obj;foo=bar: unknown attribute 'foo'; a key is named by token" "pkcs11:$obj;foo=bar"
expect "unknown attribute 'foo'" "pkcs11:$obj?module-name=softhsm2&foo=bar"
expect "pin-value= would show the PIN on the command line; use HP_PIN, --pin-env or --pin-file" \
	"pkcs11:$obj?pin-value=$HP_PIN"
expect "pin-value= would show the PIN" "pkcs11:$obj;pin-value=$HP_PIN;module-path=$MOD"
expect "module-name=no-such-module: no module of that name is registered with p11-kit (registered: " \
	"pkcs11:$obj?module-name=no-such-module"
grep -q "registered: .*softhsm2" "$T/err" || fail "the registered modules are not listed: $(cat "$T/err")"
expect "attribute 'module-path' is given twice" "pkcs11:$obj;module-path=$MOD?module-path=$MOD"
expect "$T/no.so: cannot load the PKCS#11 module (the URI's module-path=)" "pkcs11:$obj?module-path=$T/no.so"
# What the proxy reached is said when the token is not there.
expect "no initialized token matches the URI in $PROXY (p11-kit's proxy, the default when no module is named); its tokens: 'hp-uri'" \
	"pkcs11:token=no-such-token;object=uri-ec"
expect "no initialized token matches the URI in softhsm2 (the URI's module-name=, registered with p11-kit)" \
	"pkcs11:token=no-such-token?module-name=softhsm2"
expect "the module softhsm2 (the URI's module-name=, registered with p11-kit) is not the library the URI names" \
	"pkcs11:library-manufacturer=Other;$obj?module-name=softhsm2"
expect "the module $MOD (the URI's module-path=) is not the library the URI names" \
	"pkcs11:library-version=2.5;$obj?module-path=$MOD"
expect "no initialized token matches the URI in $PROXY" "pkcs11:slot-manufacturer=Other;$obj"
expect "no initialized token matches the URI in $MOD" "pkcs11:model=Other;$obj" --module "$MOD"
# The environment over the proxy: a wrong one is not passed over for the proxy.
export PKCS11_MODULE_PATH="$T/no-env.so"
expect "$T/no-env.so: cannot load the PKCS#11 module (from PKCS11_MODULE_PATH)" "pkcs11:$obj"
unset PKCS11_MODULE_PATH
echo "ok pkcs11-uri ($n signatures and refusals)"
