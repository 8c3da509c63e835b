#!/bin/sh
# Patched from the first instruction (issue 19): libhotpatch-load.so applies the
# stored patches inside each process as its images load (docs/preload.md). A
# program and a library it dlopens are patched before either function runs:
# the old functions leave a marker file, the new ones do not, and the
# executable's own constructor already gets the fix. hpstatus --pid shows the
# patches like any other, and hpapply reverts and applies them again; a
# process running as nobody is patched too, its record unsigned, which
# hpstatus says (exit 7) until hpd has checked it against the process and
# signed it; under MDWE (the kernel's, and systemd's seccomp form) the same. A library dlopen()ed
# by a bare name along the program's RUNPATH is found as without the library
# (the call goes to the real dlopen untouched) and patched at the next dlopen.
# A flipped byte in a stored container, a store others can write: the program
# runs unchanged and stderr says why in one line. As root, a setuid-root
# program run as nobody, in a mount namespace of its own whose
# /etc/ld.so.preload lists the library (the machine's file is never touched):
# patched from the store at /var/lib/hotpatch, whatever HOTPATCH_STORE says;
# with LD_PRELOAD alone, not patched (the dynamic linker ignores it there).
set -eu
BIN=$(cd "${BIN:-bin}" && pwd)
E2E=$(cd "$(dirname "$0")" && pwd)
SRC=$E2E/preload
LIB=$(cd "$BIN/../lib" && pwd)/libhotpatch-load.so
T=$(mktemp -d)
PIDS=""
cleanup()
{
	for p in $PIDS; do kill -KILL "$p" 2>/dev/null || true; done
	rm -rf "$T"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; exit 1; }
[ -f "$LIB" ] || fail "no $LIB (make builds it)"
export HOTPATCH_AUDIT="$T/audit.jsonl"
export HOTPATCH_RUN_DIR="$T/run"
export HOTPATCH_STORE="$T/store"
export MARKER="$T/marker"
F="-O2 -g -ffunction-sections -fdata-sections"
cd "$T"

# --- the program, its library, their fixes, installed in a private store ---------
mkdir -m 700 keys trusted
openssl genpkey -algorithm ed25519 -out keys/team.pem 2> /dev/null
openssl pkey -in keys/team.pem -pubout -out trusted/team.pem 2> /dev/null
for f in check-old check-new prog; do gcc $F -c "$SRC/$f.c" -o $f.o; done
for f in plug-old plug-new; do gcc $F -fPIC -c "$SRC/$f.c" -o $f.o; done
gcc -Wl,--build-id -Wl,--enable-new-dtags,-rpath,'$ORIGIN' -o prog prog.o check-old.o
gcc -shared -Wl,--build-id -o libplug.so plug-old.o
"$BIN/hpbuild" -q --target prog check-old.o check-new.o -o exe.hpx
"$BIN/hpbuild" -q --target libplug.so plug-old.o plug-new.o -o lib.hpx
for f in exe lib; do
	"$BIN/hpsign" $f.hpx --key keys/team.pem
	"$BIN/hpapply" -q --trust "$T/trusted" --install $f.hpx
done
EXE_ID=$("$BIN/hpinspect" --json exe.hpx | python3 -c 'import json,sys; print(json.load(sys.stdin)["patch_id"])')
LIB_ID=$("$BIN/hpinspect" --json lib.hpx | python3 -c 'import json,sys; print(json.load(sys.stdin)["patch_id"])')

OLD="constructor 2
main 3
plug 4"
NEW="constructor 101
main 102
plug 203"
run() # run WANT CMD...: CMD's output must be WANT; its stderr is left in err
{
	want=$1; shift
	rm -f "$MARKER"
	"$@" > out 2> err || fail "$*: exit $?: $(cat out err)"
	[ "$(cat out)" = "$want" ] || fail "$*: printed '$(cat out)', expected '$want'; stderr: $(cat err)"
}
no_marker() { [ ! -e "$MARKER" ] || fail "$1: the old code ran: $(cat "$MARKER")"; }

# --- without the library, the old code runs (the marker works) ----------------------
run "$OLD" ./prog run "$T/libplug.so"
[ "$(cat "$MARKER")" = "old check ran
old check ran
old plug ran" ] || fail "the markers of the old code: $(cat "$MARKER")"

# --- with it, the new code from the first instruction --------------------------------
run "$NEW" env LD_PRELOAD="$LIB" ./prog run "$T/libplug.so"
no_marker "with LD_PRELOAD"
[ ! -s err ] || fail "a patched run said something: $(cat err)"
run "constructor 106
main 107
plug 203" env CHECK_BONUS=5 LD_PRELOAD="$LIB" ./prog run "$T/libplug.so"

# --- what hpstatus shows, and hpapply can undo --------------------------------------
rm -f "$MARKER"
LD_PRELOAD="$LIB" ./prog wait "$T/libplug.so" > wait.out 2>&1 &
P=$!
PIDS="$PIDS $P"
i=0
until grep -qs waiting wait.out; do
	i=$((i + 1)); [ $i -lt 250 ] || fail "prog wait did not start: $(cat wait.out)"; sleep 0.02
done
no_marker "prog wait"
"$BIN/hpstatus" --pid $P > status 2>&1 || fail "hpstatus --pid: $(cat status)"
grep -q "process $P: 2 patches applied" status || fail "hpstatus --pid: $(cat status)"
grep -q "patch $EXE_ID" status && grep -q "patch $LIB_ID" status || fail "hpstatus --pid: $(cat status)"
grep -q "target prog," status && grep -q "target libplug.so," status || fail "hpstatus --pid: $(cat status)"
"$BIN/hpstatus" --store --trust "$T/trusted" > status 2>&1 || fail "hpstatus --store: $(cat status)"
grep -q "process $P: patched" status || fail "hpstatus --store: $(cat status)"
"$BIN/hpapply" -q --pid $P --revert "$LIB_ID" || fail "hpapply --revert of the preload's patch"
"$BIN/hpapply" -q --pid $P --trust "$T/trusted" lib.hpx || fail "hpapply of it again"
"$BIN/hpstatus" --pid $P | grep -q "2 patches applied" || fail "after revert and apply: $("$BIN/hpstatus" --pid $P)"
kill -KILL $P

# --- a service that is not root's: patched; its record unsigned (it cannot read
# root's key), which hpstatus says ------------------------------------------------
if [ "$(id -u)" = 0 ]; then
	mkdir -m 777 "$T/m"
	chmod 755 "$T"
	rm -f "$T/m/marker"
	# The checkout may be in a folder nobody cannot read (CI's clone, a
	# mktemp -d): the library goes beside the program.
	install -m 0644 "$LIB" "$T/libhotpatch-load.so"
	setpriv --reuid=65534 --regid=65534 --clear-groups env MARKER="$T/m/marker" LD_PRELOAD="$T/libhotpatch-load.so" \
		./prog wait "$T/libplug.so" > nobody.out 2>&1 &
	P=$!
	PIDS="$PIDS $P"
	i=0
	until grep -qs waiting nobody.out; do
		i=$((i + 1)); [ $i -lt 250 ] || fail "prog wait as nobody did not start: $(cat nobody.out)"; sleep 0.02
	done
	[ "$(head -n 3 nobody.out)" = "$NEW" ] || fail "as nobody: $(cat nobody.out)"
	[ ! -e "$T/m/marker" ] || fail "as nobody: the old code ran"
	rc=0; "$BIN/hpstatus" --pid $P > status 2>&1 || rc=$?
	[ $rc -eq 7 ] && grep -q "record is unsigned: hotpatch-load wrote it" status ||
		fail "hpstatus --pid of a process not root's: exit $rc: $(cat status)"
	# hpd checks it against the process and the store, and signs it.
	"$BIN/hpd" --trust "$T/trusted" --sweep-ms 200 -v > hpd.log 2>&1 &
	HPD=$!
	PIDS="$PIDS $HPD"
	i=0
	until "$BIN/hpstatus" --pid $P > status 2>&1; do
		i=$((i + 1)); [ $i -lt 250 ] || fail "hpd did not sign the record: $(cat status hpd.log)"; sleep 0.02
	done
	grep -q "2 patches applied" status || fail "the signed record: $(cat status)"
	grep -q "process $P: the record hotpatch-load wrote in it, unsigned, agrees" hpd.log ||
		fail "hpd did not say it signed the record: $(cat hpd.log)"
	kill -KILL $HPD $P
	chmod 700 "$T"
fi

# --- MDWE: the kernel's, and the seccomp filter systemd uses in its place -------------
gcc -std=c11 -O2 -o launch "$E2E/harden/launch.c" -lseccomp
run "write+exec memory refused
$NEW" ./launch --mdwe -- env LD_PRELOAD="$LIB" ./prog mdwe "$T/libplug.so"
no_marker "under MDWE"
# The filter kills the process on a W+X mmap or an mprotect to executable.
run "$NEW" ./launch --mdwe --mdwe-seccomp=kill -- env LD_PRELOAD="$LIB" ./prog run "$T/libplug.so"
no_marker "under MDWE's seccomp filter"

# --- a bare name along the RUNPATH: the real dlopen's answer, patched at the next ---
run "constructor 101
main 102
plug by name 4
plug 203" env LD_PRELOAD="$LIB" ./prog bare "$T/libplug.so"
[ "$(cat "$MARKER")" = "old plug ran" ] || fail "bare: $(cat "$MARKER")"

# --- doubts: nothing applied, one line says why ---------------------------------------
one_line() # one_line WHAT MESSAGE: err is that one line
{
	[ "$(wc -l < err)" -eq 1 ] && grep -q "^hotpatch-load: .*$2.*; nothing applied\$" err ||
		fail "$1: stderr is not one line saying '$2': $(cat err)"
}
cp "store/$EXE_ID.hpx" saved.hpx
python3 - "store/$EXE_ID.hpx" <<'PY'
import sys
b = bytearray(open(sys.argv[1], "rb").read())
b[200] ^= 1
open(sys.argv[1], "wb").write(bytes(b))
PY
run "$OLD" env LD_PRELOAD="$LIB" ./prog run "$T/libplug.so"
one_line "a flipped byte" "$EXE_ID.hpx: its SHA-256 .* is not in the store's verified list"
[ "$(grep -c old "$MARKER")" -eq 3 ] || fail "a flipped byte: $(cat "$MARKER")"
cp saved.hpx "store/$EXE_ID.hpx"
chmod 777 store
run "$OLD" env LD_PRELOAD="$LIB" ./prog run "$T/libplug.so"
one_line "a store others can write" "store: writable by others (mode 0777)"
chmod 755 store
run "$NEW" env LD_PRELOAD="$LIB" ./prog run "$T/libplug.so"

# --- setuid: /etc/ld.so.preload, in a mount namespace of this test's own --------------
if [ "$(id -u)" != 0 ] || ! command -v unshare > /dev/null || ! command -v setpriv > /dev/null; then
	echo "SKIP: setuid cases (need root, unshare and setpriv)"
	echo "ok preload"
	exit 0
fi
mkdir -p ov/etc-up ov/etc-work
cat > suid.sh <<EOF
set -eu
# Private from here: /etc, /run and /var/lib are this namespace's.
mount --make-rprivate /
mount -t overlay overlay -o lowerdir=/etc,upperdir=$T/ov/etc-up,workdir=$T/ov/etc-work /etc
mount -t tmpfs -o mode=755 tmpfs /run
mount -t tmpfs -o mode=755 tmpfs /var/lib
cp -a $T/store /var/lib/hotpatch
mkdir -m 755 /run/suid
cp prog libplug.so $LIB /run/suid/
chmod 4755 /run/suid/prog
# Every process here loads the library now (setpriv, env too): the machine's
# store and applier directory for them all; the setuid program gets a
# HOTPATCH_STORE it must ignore.
unset HOTPATCH_RUN_DIR HOTPATCH_STORE
AS_NOBODY="setpriv --reuid=65534 --regid=65534 --clear-groups"
# LD_PRELOAD alone: ignored for a setuid program.
rm -f $MARKER
\$AS_NOBODY env LD_PRELOAD=$LIB /run/suid/prog run /run/suid/libplug.so > suid.out1 2>&1
# /etc/ld.so.preload: honoured, with the machine's store, not HOTPATCH_STORE's.
echo /run/suid/libhotpatch-load.so > /etc/ld.so.preload
cp $MARKER marker1 2> /dev/null || true
rm -f $MARKER
\$AS_NOBODY env HOTPATCH_STORE=$T/no-such-store /run/suid/prog run /run/suid/libplug.so > suid.out2 2>&1
cp $MARKER marker2 2> /dev/null || true
\$AS_NOBODY env HOTPATCH_STORE=$T/no-such-store /run/suid/prog wait /run/suid/libplug.so > suid.wait 2>&1 &
P=\$!
i=0
until grep -qs waiting suid.wait; do i=\$((i + 1)); [ \$i -lt 250 ] || break; sleep 0.02; done
grep -E '^(Uid|Gid):' /proc/\$P/status > suid.ids
# hpstatus loads the library too (this /etc/ld.so.preload lists it): under
# make asan, ahead of the ASan runtime, which then refuses to start unless told.
ASAN_OPTIONS=\${ASAN_OPTIONS:+\$ASAN_OPTIONS:}verify_asan_link_order=0 $BIN/hpstatus --pid \$P > suid.status 2>&1 || true
kill -KILL \$P
EOF
unshare --mount sh suid.sh || fail "the namespace: $?"
[ "$(cat suid.out1)" = "$OLD" ] || fail "setuid, LD_PRELOAD only: $(cat suid.out1)"
[ -s marker1 ] || fail "setuid, LD_PRELOAD only: no marker: the old code did not run?"
[ "$(cat suid.out2)" = "$NEW" ] || fail "setuid, /etc/ld.so.preload: $(cat suid.out2)"
[ ! -e marker2 ] || fail "setuid, /etc/ld.so.preload: the old code ran: $(cat marker2)"
grep -q "^Uid:.65534.0.0.0" suid.ids || fail "the setuid program's ids: $(cat suid.ids)"
grep -q "2 patches applied" suid.status || fail "setuid: hpstatus --pid: $(cat suid.status)"
[ ! -e /etc/ld.so.preload ] || [ -z "$(grep -F "$LIB" /etc/ld.so.preload)" ] ||
	fail "the machine's /etc/ld.so.preload was changed"
echo "ok preload"
