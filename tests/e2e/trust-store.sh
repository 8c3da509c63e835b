#!/bin/sh
# Trust stores must be safe, as ssh's StrictModes has it: hpverify, hpapply and
# hpinspect refuse a store (file or directory), a key file in it, or a
# directory above it that belongs to another user or that group or others may
# write to, with one line naming that file; a sticky directory of root's (as
# /tmp) may be above a store. Real files, modes and owners: run as root (for
# chown), or the owner cases are skipped.
set -eu
BIN=${BIN:-bin}
T=$(mktemp -d)
T=$(realpath "$T") # messages about directories above a store name their real path
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
expect() { # EXIT LINE CMD...: the exit status, and stderr exactly LINE
	want=$1 line=$2
	shift 2
	rc=0
	"$@" > "$T/stdout" 2> "$T/err" || rc=$?
	[ "$rc" -eq "$want" ] || fail "$*: exit $rc, expected $want: $(cat "$T/err")"
	[ "$(cat "$T/err")" = "$line" ] || fail "$*: message: $(cat "$T/err"), expected $line"
}
umask 022

# A signed patch and a key to trust.
openssl genpkey -algorithm ed25519 -out "$T/key.pem" 2>/dev/null
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
"$BIN/hpbuild" --sign "$T/key.pem" "$T/old.o" "$T/new.o" -o "$T/fix.hpx"

# store NAME: a fresh directory $T/NAME holding k.pem (mode 0644, ours), as openssl writes it.
store() {
	mkdir -p "$T/$1"
	openssl pkey -in "$T/key.pem" -pubout -out "$T/$1/k.pem"
}
OWN="a trust store must be writable by its owner only"
ABOVE="a directory above a trust store must be writable by its owner only, or be root's and sticky as /tmp is"
ME=$(id -u)

# The correct case: a directory, a file, a store reached through a symbolic link.
store good
"$BIN/hpverify" -q "$T/fix.hpx" --trust "$T/good" || fail "a safe directory"
"$BIN/hpverify" -q "$T/fix.hpx" --trust "$T/good/k.pem" || fail "a safe file"
ln -s good "$T/link"
"$BIN/hpverify" -q "$T/fix.hpx" --trust "$T/link" || fail "a safe store named by a link"
# Group- or world-readable is fine; a mode of 0600 too.
chmod 0600 "$T/good/k.pem"
"$BIN/hpverify" -q "$T/fix.hpx" --trust "$T/good" || fail "a 0600 key"
# A sticky directory of root's above the store (/tmp is one).
if [ "$ME" = 0 ]; then
	mkdir "$T/sticky" && chmod 1777 "$T/sticky"
	store sticky/s
	"$BIN/hpverify" -q "$T/fix.hpx" --trust "$T/sticky/s" || fail "below a sticky root directory"
fi

# A directory of mode 0777.
store d777
chmod 0777 "$T/d777"
expect 4 "hpverify: $T/d777: writable by others (mode 0777); $OWN" \
	"$BIN/hpverify" "$T/fix.hpx" --trust "$T/d777"
# Sticky does not save the store itself.
chmod 1777 "$T/d777"
expect 4 "hpverify: $T/d777: writable by others (mode 1777); $OWN" \
	"$BIN/hpverify" "$T/fix.hpx" --trust "$T/d777"
# A key file of mode 0666 in a safe directory, and as the store itself.
store k666
chmod 0666 "$T/k666/k.pem"
expect 4 "hpverify: $T/k666/k.pem: writable by others (mode 0666); $OWN" \
	"$BIN/hpverify" "$T/fix.hpx" --trust "$T/k666"
expect 4 "hpverify: $T/k666/k.pem: writable by others (mode 0666); $OWN" \
	"$BIN/hpverify" "$T/fix.hpx" --trust "$T/k666/k.pem"
# Group-writable key file.
store k664
chmod 0664 "$T/k664/k.pem"
expect 4 "hpverify: $T/k664/k.pem: writable by group (mode 0664); $OWN" \
	"$BIN/hpverify" "$T/fix.hpx" --trust "$T/k664"
# A group-writable directory above the store.
mkdir "$T/g775"
store g775/trust
chmod 0775 "$T/g775"
expect 4 "hpverify: $T/g775: writable by group (mode 0775); $ABOVE" \
	"$BIN/hpverify" "$T/fix.hpx" --trust "$T/g775/trust"
expect 4 "hpverify: $T/g775: writable by group (mode 0775); $ABOVE" \
	"$BIN/hpverify" "$T/fix.hpx" --trust "$T/g775/trust/k.pem"
# The same, reached through a symbolic link from a safe place: the real path is checked.
ln -s g775/trust "$T/to-g775"
expect 4 "hpverify: $T/g775: writable by group (mode 0775); $ABOVE" \
	"$BIN/hpverify" "$T/fix.hpx" --trust "$T/to-g775"
# A key file that is a symbolic link (to a safe file) is refused: what is read must be what was checked.
store symkey
rm "$T/symkey/k.pem"
ln -s ../good/k.pem "$T/symkey/k.pem"
expect 4 "hpverify: $T/symkey/k.pem: a symbolic link; a trust store's keys must be regular files in it" \
	"$BIN/hpverify" "$T/fix.hpx" --trust "$T/symkey"

# Owned by another user (nobody, uid 65534): a key file, the store, a directory above it.
if [ "$ME" = 0 ]; then
	store other-key
	chown 65534 "$T/other-key/k.pem"
	expect 4 "hpverify: $T/other-key/k.pem: owned by uid 65534; a trust store must belong to root or to you (uid 0)" \
		"$BIN/hpverify" "$T/fix.hpx" --trust "$T/other-key"
	store other-dir
	chown 65534 "$T/other-dir"
	expect 4 "hpverify: $T/other-dir: owned by uid 65534; a trust store must belong to root or to you (uid 0)" \
		"$BIN/hpverify" "$T/fix.hpx" --trust "$T/other-dir"
	mkdir "$T/other-above"
	store other-above/trust
	chown 65534 "$T/other-above"
	expect 4 "hpverify: $T/other-above: owned by uid 65534; a directory above a trust store must belong to root or to you (uid 0)" \
		"$BIN/hpverify" "$T/fix.hpx" --trust "$T/other-above/trust"
	# A sticky directory that is not root's is no safe parent.
	mkdir "$T/sticky-other"
	store sticky-other/s
	chown 65534 "$T/sticky-other" && chmod 1777 "$T/sticky-other"
	expect 4 "hpverify: $T/sticky-other: owned by uid 65534; a directory above a trust store must belong to root or to you (uid 0)" \
		"$BIN/hpverify" "$T/fix.hpx" --trust "$T/sticky-other/s"
else
	echo "trust-store: not root; the cases of other owners are skipped"
fi

# hpapply refuses the same way (exit 4) before it touches the process; hpinspect says it too (exit 4 everywhere: docs/cli.md).
sleep 30 &
SLEEP=$!
rc=0
HOTPATCH_AUDIT="$T/audit.jsonl" "$BIN/hpapply" --trust "$T/d777" --pid $SLEEP "$T/fix.hpx" 2> "$T/err" || rc=$?
kill $SLEEP 2>/dev/null || true
[ $rc -eq 4 ] || fail "hpapply: exit $rc, expected 4: $(cat "$T/err")"
grep -q "^hpapply: $T/d777: writable by others (mode 1777); $OWN" "$T/err" || fail "hpapply: $(cat "$T/err")"
expect 4 "hpinspect: $T/k666/k.pem: writable by others (mode 0666); $OWN" \
	"$BIN/hpinspect" --trust "$T/k666" "$T/fix.hpx"
echo "ok trust-store"
