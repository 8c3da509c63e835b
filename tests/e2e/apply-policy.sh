#!/bin/sh
# hpapply's policy, audit trail and signals on real processes under real
# ptrace: anti-rollback by the binary's identity whether or not the patch
# names it (hpbuild --target), a high-water mark that survives a revert,
# --allow-downgrade applied and audited; an intent line before and a result
# line after every attempt, with the login uid; nothing touched when the audit
# log cannot be written; SIGTERM and SIGINT undo what was begun (exit 8).
set -eu
BIN=$(cd "${BIN:-bin}" && pwd)
HERE=$(cd "$(dirname "$0")/apply" && pwd)
T=$(mktemp -d)
PIDS=""
cleanup() { for p in $PIDS; do kill "$p" 2>/dev/null || true; done; rm -rf "$T"; }
trap cleanup EXIT
fail() { echo "FAIL: $*"; exit 1; }
export HOTPATCH_AUDIT="$T/audit.jsonl"
export HOTPATCH_RUN_DIR="$T/run"
F="-O2 -g -ffunction-sections -fdata-sections"
cd "$T"

for v in 1 2 3; do gcc $F -DOFFSET=$v -c "$HERE/work.c" -o work$v.o; done
gcc $F -c "$HERE/target.c" -o target.o
gcc -Wl,--build-id -o target target.o work1.o -lpthread
"$BIN/hpbuild" --sequence 1 --target target work1.o work2.o -o seq1.hpx
"$BIN/hpbuild" --sequence 2 --target target work1.o work3.o -o seq2.hpx
"$BIN/hpbuild" --sequence 1 work1.o work2.o -o seq1-unbound.hpx
APPLY="$BIN/hpapply --insecure-unsigned --timeout 2000"
REVERT="$BIN/hpapply --timeout 2000"

start() # start ARGS...: start a target, wait for its first line, set PID
{
	"$@" > out 2>&1 &
	PID=$!
	PIDS="$PIDS $PID"
	for i in $(seq 100); do grep -q '^[vh]' out 2>/dev/null && return 0; sleep 0.02; done
	fail "target $* did not start"
}
expect() # expect CODE MESSAGE CMD...: run CMD, check its exit status and stderr
{
	code=$1 msg=$2; shift 2
	rc=0; "$@" 2> err > /dev/null || rc=$?
	[ $rc -eq "$code" ] || fail "$*: exit $rc, expected $code: $(cat err)"
	grep -q -- "$msg" err || fail "$*: message: $(cat err)"
}
id_of() { "$BIN/hpinspect" --json "$1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["patch_id"])'; }

# --- anti-rollback ---------------------------------------------------------------
start ./target 2
$APPLY -q --pid $PID seq2.hpx || fail "apply sequence 2"
# The unbound patch names no build-id: the binary it lands in has one all the same.
expect 9 'sequence 1, below 2 already applied' $APPLY --pid $PID seq1-unbound.hpx
expect 9 'sequence 1, below 2 already applied' $APPLY --pid $PID seq1.hpx
$REVERT -q --pid $PID --revert || fail "revert sequence 2"
# Reverted, the mark stays: an older patch cannot come back by revert-then-apply.
expect 9 'reverting does not lower that mark' $APPLY --pid $PID seq1.hpx
$APPLY --pid $PID --allow-downgrade seq1.hpx > applied 2> err || fail "--allow-downgrade: $(cat err)"
grep -q 'a downgrade, as --allow-downgrade asked' applied || fail "downgrade not said: $(cat applied)"
grep -q '"result": "applied: downgrade allowed"' audit.jsonl || fail "downgrade not audited"
# Reverted by id: the intent line names the patch before the process is read.
id1=$(id_of seq1.hpx)
$REVERT -q --pid $PID --revert "$id1" || fail "revert the downgrade"
tail -2 audit.jsonl | head -1 | grep -q "\"phase\": \"intent\".*\"patch_id\": \"$id1\"" ||
	fail "the intent line of --revert ID lacks the id: $(tail -2 audit.jsonl | head -1)"

# --- the audit trail: an intent line before every attempt, a result line after --
python3 - audit.jsonl <<'PY' || fail "audit trail"
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
open_ = {}
for l in lines:
    assert "login_uid" in l and "phase" in l, l
    key = l["pid"]
    if l["phase"] == "intent":
        assert key not in open_, ("two intents", l)
        open_[key] = l
    elif l["phase"] == "result" and l["exit"] != 4:
        assert key in open_, ("a result without an intent", l)
        del open_[key]
assert not open_, ("an intent without a result", open_)
results = [l for l in lines if l["phase"] == "result"]
assert [l["exit"] for l in results] == [0, 9, 9, 0, 9, 0, 0], [l["exit"] for l in results]
PY

# --- an audit log that cannot be written: nothing is touched ----------------------
python3 "$HERE/snapshot.py" $PID > before
expect 1 'not touched: the audit log cannot be written' \
	$APPLY --audit "$T/no/such/dir/audit.jsonl" --pid $PID seq2.hpx
python3 "$HERE/snapshot.py" $PID > after
cmp -s before after || { diff before after; fail "the process changed without an audit log"; }
$APPLY -q --no-audit --pid $PID seq2.hpx || fail "--no-audit"
$REVERT -q --no-audit --pid $PID --revert || fail "--no-audit revert"
kill $PID

# --- SIGTERM and SIGINT while waiting for a safe moment: undone, exit 8 --------------
for sig in TERM INT; do
	start ./target 1 hold
	python3 "$HERE/snapshot.py" $PID > before
	rc=0
	$BIN/hpapply --insecure-unsigned --timeout 20000 --pid $PID seq2.hpx 2> err &
	AP=$!
	sleep 0.5
	kill -$sig $AP
	wait $AP || rc=$?
	[ $rc -eq 8 ] || fail "SIG$sig: exit $rc, expected 8: $(cat err)"
	grep -q 'interrupted by signal' err || fail "SIG$sig: message: $(cat err)"
	python3 "$HERE/snapshot.py" $PID > after
	cmp -s before after || { diff before after; fail "SIG$sig: the process changed"; }
	"$BIN/hpstatus" --pid $PID | grep -q 'no patch applied' || fail "SIG$sig: hpstatus"
	kill $PID
done
echo "ok apply-policy"
