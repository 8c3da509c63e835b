#!/bin/sh
# hpapply, hpstatus: live patches on real processes under real ptrace.
# Apply and revert on 1 and 16 threads; refusal while a thread is inside the
# function, then success once it leaves; refusals for a wrong build-id, wrong
# old bytes, an unsigned or tampered patch, each leaving the process's code
# and mappings exactly as they were; a patch to a shared library; stacked
# patches, reverted one layer at a time; a fix whose new helper is in another
# object (samples/cross-object-helper); stripped executables and libraries; a
# hardened build (CET, stack protector, fortify, -z now, -fno-plt).
set -eu
BIN=$(cd "${BIN:-bin}" && pwd)
HERE=$(cd "$(dirname "$0")/apply" && pwd)
T=$(mktemp -d)
PIDS=""
cleanup() { for p in $PIDS; do kill "$p" 2>/dev/null || true; done; rm -rf "$T"; }
trap cleanup EXIT
fail() { echo "FAIL: $*"; exit 1; }
export HOTPATCH_AUDIT="$T/audit.jsonl"
F="-O2 -g -ffunction-sections -fdata-sections"
cd "$T"

# The release (OFFSET 1), a fix (OFFSET 2), a second fix (OFFSET 3).
for v in 1 2 3; do gcc $F -DOFFSET=$v -c "$HERE/work.c" -o work$v.o; done
gcc $F -c "$HERE/target.c" -o target.o
gcc -Wl,--build-id -o target target.o work1.o -lpthread
gcc -Wl,--build-id -o other target.o work2.o -lpthread
for v in 1 2 3; do gcc $F -fPIC -DOFFSET=$v -c "$HERE/work.c" -o pic$v.o; done
gcc -shared -Wl,--build-id -o libwork.so pic1.o
gcc -Wl,--build-id -o target-so target.o -L. -lwork -Wl,-rpath,"$T" -lpthread

"$BIN/hpbuild" --target target work1.o work2.o -o fix2.hpx
"$BIN/hpbuild" --target target work1.o work3.o -o fix3.hpx
"$BIN/hpbuild" --target other work1.o work2.o -o wrong-id.hpx 2>/dev/null && fail "--target other accepted work1.o"
"$BIN/hpbuild" --target other work2.o work3.o -o wrong-id.hpx
# Built from objects that are not in the binary: same sizes, other bytes.
gcc $F -DOFFSET=5 -c "$HERE/work.c" -o work5.o
"$BIN/hpbuild" work5.o work2.o -o wrong-bytes.hpx
"$BIN/hpbuild" --target libwork.so pic1.o pic2.o -o lib2.hpx
# Stripped copies, as a distribution ships them: same build-ids, no .symtab.
strip -o target-stripped target
mkdir stripped && strip -o stripped/libwork.so libwork.so
gcc -Wl,--build-id -o target-so-stripped target.o -L. -lwork -Wl,-rpath,"$T/stripped" -lpthread
# Built as Debian 13 and Ubuntu build: CET (every function starts with endbr64),
# stack protector, fortified libc calls, -z now, -fno-plt.
HARD="-fcf-protection=full -fstack-protector-strong -D_FORTIFY_SOURCE=2 -fno-plt -DWITH_LIBC"
for v in 1 2; do gcc $F $HARD -DOFFSET=$v -c "$HERE/work.c" -o cet$v.o; done
gcc $F $HARD -c "$HERE/target.c" -o target-cet.o
gcc -Wl,--build-id -Wl,-z,now -o target-cet target-cet.o cet1.o -lpthread
"$BIN/hpbuild" --target target-cet cet1.o cet2.o -o cet2.hpx
# Thread-local variables (tick.c, tls.c): total in the executable, or in libtotal.so.
for v in 1 1000; do gcc $F -DSTEP=$v -c "$HERE/tick.c" -o tick$v.o; done
gcc $F -c "$HERE/tls.c" -o tls.o
gcc -Wl,--build-id -o tls tls.o tick1.o -lpthread
strip -o tls-stripped tls
gcc $F -fPIC -c "$HERE/total.c" -o total.o
gcc -shared -Wl,--build-id -o libtotal.so total.o
gcc $F -DTOTAL_ELSEWHERE -c "$HERE/tls.c" -o tls-lib.o
gcc -Wl,--build-id -o tls-lib tls-lib.o tick1.o -L. -ltotal -Wl,-rpath,"$T" -lpthread
# tick() in a shared library: -fPIC code reaches ticks (local-dynamic) and the
# executable's total (general-dynamic) through __tls_get_addr.
for v in 1 1000; do gcc $F -fPIC -DSTEP=$v -c "$HERE/tick.c" -o picktick$v.o; done
gcc -shared -Wl,--build-id -o libtick.so picktick1.o
gcc -Wl,--build-id -o tls-so tls.o -L. -ltick -Wl,-rpath,"$T" -lpthread
strip -o stripped/libtick.so libtick.so
gcc -Wl,--build-id -o tls-so-stripped tls.o -L. -ltick -Wl,-rpath,"$T/stripped" -lpthread
"$BIN/hpbuild" --target libtick.so picktick1.o picktick1000.o -o tls-so.hpx
"$BIN/hpbuild" --target tls tick1.o tick1000.o -o tls.hpx
"$BIN/hpbuild" --target tls-lib tick1.o tick1000.o -o tls-lib.hpx
"$BIN/hpbuild" tick1.o tick1000.o -o tls-unbound.hpx
# Without --target the patch records no addresses: only names to search for.
"$BIN/hpbuild" work1.o work2.o -o unbound2.hpx
# Two objects: the fix in frame.c calls a function new in util.c.
XO="$HERE/../../../samples/cross-object-helper"
for v in old new; do
	mkdir $v
	for f in util frame; do gcc $F -c "$XO/$v/$f.c" -o $v/$f.o; done
done
gcc $F -c "$HERE/frames.c" -o frames.o
gcc -Wl,--build-id -o frames frames.o old/frame.o old/util.o
"$BIN/hpbuild" --target frames --old-dir old --new-dir new -o xo.hpx

# A key, a trust store, signed patches.
openssl genpkey -algorithm ed25519 -out key.pem 2>/dev/null
mkdir trust && openssl pkey -in key.pem -pubout -out trust/ops.pem 2>/dev/null
for p in fix2 fix3 wrong-id wrong-bytes lib2 xo unbound2 cet2 tls tls-lib tls-unbound tls-so; do "$BIN/hpsign" "$p.hpx" --key key.pem -o "$p.signed.hpx"; done
APPLY="$BIN/hpapply --trust trust --timeout 2000"

start() # start OUT ARGS...: start a target, wait for its first line, set PID
{
	out=$1; shift
	"$@" > "$out" 2>&1 &
	PID=$!
	PIDS="$PIDS $PID"
	for i in $(seq 100); do grep -q '^[vh]' "$out" 2>/dev/null && return 0; sleep 0.02; done
	fail "target $* did not start"
}
value() # value OUT: the value the target printed after the last action
{
	n=$(wc -l < "$1"); i=0
	while [ "$(wc -l < "$1")" -lt $((n + 3)) ] && [ $i -lt 200 ]; do sleep 0.01; i=$((i + 1)); done
	grep '^value' "$1" | tail -n 1 | cut -d' ' -f2
}

# --- apply and revert, 1 thread and 16 threads -----------------------------------
for n in 1 16; do
	start out$n ./target $n
	[ "$(value out$n)" = 22 ] || fail "$n threads: before: $(value out$n)"
	$APPLY -q --pid $PID fix2.signed.hpx || fail "$n threads: apply"
	[ "$(value out$n)" = 24 ] || fail "$n threads: after apply: $(value out$n)"
	"$BIN/hpstatus" --pid $PID | grep -q '^  value at 0x' || fail "hpstatus lists no value"
	$APPLY -q --pid $PID --revert || fail "$n threads: revert"
	[ "$(value out$n)" = 22 ] || fail "$n threads: after revert: $(value out$n)"
	"$BIN/hpstatus" --pid $PID | grep -q 'no patch applied' || fail "hpstatus after revert"
	kill $PID
done

# --- refused while a thread is inside value(), applied once it leaves ------------
start outh ./target 1 hold
python3 "$HERE/snapshot.py" $PID > before
rc=0; "$BIN/hpapply" --trust trust --timeout 300 --pid $PID fix2.signed.hpx 2> err || rc=$?
[ $rc -eq 5 ] || fail "hold: exit $rc, expected 5: $(cat err)"
grep -Eq 'no safe moment.*thread [0-9]+ is executing (value|compute)' err || fail "hold: message: $(cat err)"
python3 "$HERE/snapshot.py" $PID > after
cmp -s before after || { diff before after; fail "hold: the process changed after a refusal"; }
kill -USR1 $PID
$APPLY -q --pid $PID fix2.signed.hpx || fail "apply after the thread left value()"
[ "$(value outh)" = 24 ] || fail "hold: after apply: $(value outh)"
kill $PID

# --- refusals that must leave the process exactly as it was ---------------------
start outr ./target 4
python3 "$HERE/snapshot.py" $PID > before
expect_refusal() # expect_refusal CODE MESSAGE PATCH [OPTIONS]
{
	code=$1 msg=$2 patch=$3; shift 3
	rc=0; $APPLY "$@" --pid $PID "$patch" 2> err || rc=$?
	[ $rc -eq "$code" ] || fail "$patch: exit $rc, expected $code: $(cat err)"
	grep -q "$msg" err || fail "$patch: message: $(cat err)"
	python3 "$HERE/snapshot.py" $PID > after
	cmp -s before after || { diff before after; fail "$patch: the process changed"; }
}
expect_refusal 2 'maps no image with build-id' wrong-id.signed.hpx
expect_refusal 2 "value: its code in the process differs from the patch's old bytes" wrong-bytes.signed.hpx
expect_refusal 4 'fix2.hpx: the patch is not signed' fix2.hpx
python3 -c 'import sys; b = bytearray(open(sys.argv[1], "rb").read()); b[100] ^= 1; open(sys.argv[2], "wb").write(b)' fix2.signed.hpx tampered.hpx
expect_refusal 4 'tampered.hpx' tampered.hpx
openssl genpkey -algorithm ed25519 -out stranger.pem 2>/dev/null
"$BIN/hpsign" fix2.hpx --key stranger.pem -o stranger.hpx
expect_refusal 4 'stranger.hpx' stranger.hpx
[ "$(value outr)" = 22 ] || fail "refusals: value changed to $(value outr)"
# --insecure-unsigned is loud, and works.
$APPLY -q --insecure-unsigned --pid $PID fix2.hpx 2> err || fail "--insecure-unsigned"
grep -q 'WARNING.*NOT checked' err || fail "--insecure-unsigned is not loud"
rc=0; $APPLY --pid $PID fix2.signed.hpx 2> err || rc=$?
[ $rc -eq 3 ] && grep -q 'already applied' err || fail "already applied: exit $rc"
kill $PID

# --- a function in a shared library ------------------------------------------------
start outs ./target-so 2
$APPLY -q --pid $PID lib2.signed.hpx || fail "shared library: apply"
[ "$(value outs)" = 24 ] || fail "shared library: after apply: $(value outs)"
"$BIN/hpstatus" --pid $PID | grep -q 'target libwork.so' || fail "shared library: hpstatus"
kill $PID

# --- stripped binaries: found by the addresses hpbuild --target recorded ---------------
"$BIN/hpinspect" fix2.hpx | grep -q '^  value in object 0, at 0x[0-9a-f]* in the target' ||
	fail "fix2.hpx records no address for value"
start outst ./target-stripped 2
python3 "$HERE/snapshot.py" $PID > before
rc=0; $APPLY --pid $PID unbound2.signed.hpx 2> err || rc=$?
[ $rc -eq 2 ] && grep -q 'no image defines the functions the patch replaces (value ...); .*/target-stripped (it is stripped: build the patch with hpbuild --target' err ||
	fail "stripped, patch without addresses: exit $rc: $(cat err)"
python3 "$HERE/snapshot.py" $PID > after
cmp -s before after || { diff before after; fail "stripped: the process changed after a refusal"; }
$APPLY -q --pid $PID fix2.signed.hpx || fail "stripped executable: apply"
[ "$(value outst)" = 24 ] || fail "stripped executable: after apply: $(value outst)"
$APPLY -q --pid $PID --revert || fail "stripped executable: revert"
[ "$(value outst)" = 22 ] || fail "stripped executable: after revert: $(value outst)"
kill $PID
start outsl ./target-so-stripped 2
grep -q "$T/stripped/libwork.so" /proc/$PID/maps || fail "the stripped library is not the one loaded"
$APPLY -q --pid $PID lib2.signed.hpx || fail "stripped library: apply"
[ "$(value outsl)" = 24 ] || fail "stripped library: after apply: $(value outsl)"
kill $PID

# --- thread-local variables ---------------------------------------------------------
# The main thread's line: "value TICKS TOTAL". The new code must reach the same
# two variables of each thread: TOTAL stays twice TICKS (the workers exit if
# theirs do not), and TICKS keeps counting from where it was, by the new step.
pair() # pair OUT: "TICKS TOTAL" of the last line, once three more have come
{
	n=$(wc -l < "$1"); i=0
	while [ "$(wc -l < "$1")" -lt $((n + 3)) ] && [ $i -lt 200 ]; do sleep 0.01; i=$((i + 1)); done
	grep '^value' "$1" | tail -n 1 | cut -d' ' -f2-
}
tls_check() # tls_check OUT WHAT STEP: two readings, STEP apart (a multiple), total == 2 ticks
{
	a=$(pair "$1"); b=$(pair "$1")
	t1=${a% *} t2=${b% *} u2=${b#* }
	[ "$u2" = $((2 * t2)) ] || fail "$2: total $u2 is not twice ticks $t2"
	[ $((t2 - t1)) -gt 0 ] && [ $(((t2 - t1) % $3)) = 0 ] || fail "$2: ticks $t1 -> $t2, not by steps of $3"
	[ "$3" != 1 ] || [ $((t2 - t1)) -lt 1000 ] || fail "$2: ticks $t1 -> $t2, still by the patch's step"
	kill -0 $PID || fail "$2: the process died (a worker saw its total go wrong)"
}
for c in "tls tls-unbound" "tls-stripped tls" "tls-lib tls-lib" "tls-so tls-so" "tls-so-stripped tls-so"; do
	exe=${c% *} patch=${c#* }
	start out-$exe ./$exe
	tls_check out-$exe "$exe before" 1
	$APPLY -q --pid $PID $patch.signed.hpx || fail "$exe: apply $patch"
	tls_check out-$exe "$exe patched" 1000
	$APPLY -q --pid $PID --revert || fail "$exe: revert"
	tls_check out-$exe "$exe reverted" 1
	kill $PID
done
"$BIN/hpinspect" tls.hpx | grep -q '^  \[[0-9]\] tls ticks, target, static in tick.c #0, 8 bytes, at 0x8000000000000' ||
	fail "tls.hpx: no TLS offset recorded for ticks: $("$BIN/hpinspect" tls.hpx)"
"$BIN/hpinspect" tls-so.hpx | grep -q 'DTPMOD64' || fail "tls-so.hpx: no module id fixup"
rc=0; $APPLY --pid $$ tls.signed.hpx 2> err || rc=$?
[ $rc -eq 2 ] || fail "tls patch on the shell: exit $rc"

# --- hardened build flags ---------------------------------------------------------
start outc ./target-cet 4 sleep
$APPLY -q --pid $PID cet2.signed.hpx || fail "CET build: apply"
[ "$(value outc)" = 24 ] || fail "CET build: after apply: $(value outc)"
$APPLY -q --pid $PID --revert || fail "CET build: revert"
[ "$(value outc)" = 22 ] || fail "CET build: after revert: $(value outc)"
kill $PID

# --- a new function in one object called from a fix in another --------------------
start outx ./frames
[ "$(value outx)" = 0 ] || fail "cross-object: before: $(value outx)"
$APPLY -q --pid $PID xo.signed.hpx || fail "cross-object: apply"
[ "$(value outx)" = -1 ] || fail "cross-object: after apply: $(value outx)"
$APPLY -q --pid $PID --revert || fail "cross-object: revert"
[ "$(value outx)" = 0 ] || fail "cross-object: after revert: $(value outx)"
kill $PID

# --- stacked patches, reverted one layer at a time --------------------------------
start outk ./target 2
$APPLY -q --pid $PID fix2.signed.hpx || fail "stack: first"
[ "$(value outk)" = 24 ] || fail "stack: first: $(value outk)"
$APPLY -q --pid $PID fix3.signed.hpx || fail "stack: second"
[ "$(value outk)" = 26 ] || fail "stack: second: $(value outk)"
id1=$("$BIN/hpinspect" fix2.hpx | sed -n 's/^patch: *//p')
rc=0; $APPLY --pid $PID --revert "$id1" 2> err || rc=$?
[ $rc -eq 2 ] && grep -q 'revert that one first' err || fail "stack: revert of the lower layer: exit $rc $(cat err)"
$APPLY -q --pid $PID --revert || fail "stack: revert top"
[ "$(value outk)" = 24 ] || fail "stack: after one revert: $(value outk)"
$APPLY -q --pid $PID --revert || fail "stack: revert bottom"
[ "$(value outk)" = 22 ] || fail "stack: after two reverts: $(value outk)"
kill $PID

# --- --exe: every process running the binary -------------------------------------
start oute1 ./target 1
P1=$PID
start oute2 ./target 2
P2=$PID
$APPLY -q --exe ./target fix2.signed.hpx || fail "--exe: apply"
[ "$(value oute1)" = 24 ] && [ "$(value oute2)" = 24 ] || fail "--exe: not both patched"
"$BIN/hpstatus" --pid $P1 | grep -q '1 patch applied' || fail "--exe: hpstatus $P1"
"$BIN/hpstatus" --pid $P2 | grep -q '1 patch applied' || fail "--exe: hpstatus $P2"
rc=0; $APPLY --exe "$T/nothing-runs-this" fix2.signed.hpx 2> err || rc=$?
[ $rc -ne 0 ] || fail "--exe of a binary nobody runs succeeded"
kill $P1 $P2

# --- --all: every process that maps the library, whichever copy of it -------------
# ($T is in the DWARF of libwork.so, so its build-id is this run's alone.)
start outa1 ./target-so 1
A1=$PID
start outa2 ./target-so-stripped 1
A2=$PID
start outa3 ./target 1
A3=$PID
# A third user whose copy of the library was deleted after it was loaded (an upgrade).
mkdir gone && cp libwork.so gone/
gcc -Wl,--build-id -o target-so-gone target.o -L. -lwork -Wl,-rpath,"$T/gone" -lpthread
start outa4 ./target-so-gone 1
A4=$PID
rm gone/libwork.so
grep -q "$T/gone/libwork.so (deleted)" /proc/$A4/maps || fail "--all: the library is not deleted under A4"
$APPLY -q --all lib2.signed.hpx || fail "--all: apply"
[ "$(value outa1)" = 24 ] && [ "$(value outa2)" = 24 ] && [ "$(value outa4)" = 24 ] ||
	fail "--all: not every library user patched"
[ "$(value outa3)" = 22 ] || fail "--all: patched a process that does not map the library"
"$BIN/hpstatus" --pid $A3 | grep -q 'no patch applied' || fail "--all: hpstatus of the bystander"
rc=0; $APPLY --all lib2.signed.hpx 2> err || rc=$?
[ $rc -eq 3 ] && [ "$(grep -c 'already applied' err)" = 3 ] || fail "--all again: exit $rc: $(cat err)"
# hpstatus --all lists the three, and not the bystander. Other processes on
# the machine may carry records this user's key does not verify (left by
# another run, whose key was another): hpstatus names each on stderr and exits
# 7, and lists ours all the same; such a line must not name one of ours.
all_status() { # OUT [ARGS...]
	out=$1
	shift
	rc=0
	"$BIN/hpstatus" --all "$@" > "$out" 2> status.err || rc=$?
	[ $rc -eq 0 ] && return 0
	[ $rc -eq 7 ] || fail "hpstatus --all: exit $rc: $(cat status.err)"
	for p in $A1 $A2 $A3 $A4; do
		! grep -q "process $p:" status.err || fail "hpstatus --all: $(cat status.err)"
	done
}
all_status status
for p in $A1 $A2 $A4; do grep -q "^process $p: 1 patch applied" status || fail "hpstatus --all: no $p: $(cat status)"; done
grep -q "^process $A3:" status && fail "hpstatus --all lists the bystander"
all_status status.json --json
python3 - status.json $A1 $A2 $A4 <<'PY'
import json, sys
doc = json.load(open(sys.argv[1]))
assert doc["format"] == "hpstatus-all" and doc["version"] == 1, doc
pids = {d["pid"] for d in doc["processes"] if d["patches"]}
assert {int(p) for p in sys.argv[2:]} <= pids, (pids, sys.argv[2:])
PY
# Revert it everywhere, by patch id.
lib2id=$("$BIN/hpinspect" lib2.hpx | sed -n 's/^patch: *//p')
$APPLY -q --all --revert "$lib2id" || fail "--all --revert"
[ "$(value outa1)" = 22 ] && [ "$(value outa2)" = 22 ] && [ "$(value outa4)" = 22 ] || fail "--all: after revert"
rc=0; $APPLY --all --revert "$lib2id" 2> err || rc=$?
[ $rc -eq 2 ] && grep -q "no process has patch $lib2id applied" err || fail "--all --revert again: exit $rc: $(cat err)"
kill $A1 $A2 $A3 $A4
rc=0; $APPLY --all lib2.signed.hpx 2> err || rc=$?
[ $rc -eq 2 ] && grep -q 'no process maps libwork.so with the build-id the patch is bound to' err ||
	fail "--all, nobody maps it: exit $rc: $(cat err)"
rc=0; $APPLY --all unbound2.signed.hpx 2> err || rc=$?
[ $rc -eq 2 ] && grep -q -- '--all needs a patch bound to a build-id' err || fail "--all, unbound: exit $rc: $(cat err)"

# --- the audit log: one line per attempt ------------------------------------------
lines=$(wc -l < audit.jsonl)
python3 - audit.jsonl <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
results = [r["result"] for r in rows]
assert "applied" in results and "reverted" in results, results
assert any(r.startswith("refused: no safe moment") for r in results), results
assert any(r == "refused: target mismatch" for r in results), results
assert any(r == "refused: verification failed" for r in results), results
assert all(r["pid"] >= 0 and r["action"] in ("apply", "revert") for r in rows)
# pid 0: --exe or --all found no process; still one line per attempt.
assert any(r["pid"] == 0 and r["result"] == "refused: target mismatch" for r in rows), rows
PY
echo "ok apply ($lines audit lines)"
