#!/bin/sh
# Every JSON output, produced for real and validated against its schema in
# docs/json/ (docs/json.md): hpdiff --json and hpbuild --json on samples built
# by gcc and clang (a patch written, a refusal, no change, an error, a
# directory build with an identical object), hpinspect --json on each patch
# written (with and without --trust), hpstatus --json --pid and --all on a
# server patched by hpapply, hpstatus --json --store on a private store
# (compliant, a process NOT PATCHED, a tampered container, no store at all),
# and every line of the audit log hpapply and hpd wrote meanwhile (applied,
# already applied, refused, reverted, hpd's). tests/e2e/lib/json_schema.py
# validates them with Debian's python3-jsonschema (/usr/bin/python3: the
# python3 on PATH may lack it) and checks that no schema is vacuous.
set -eu
BIN=$(cd "${BIN:-bin}" && pwd)
E2E=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$E2E/../.." && pwd)
SCHEMAS=${SCHEMAS:-$ROOT/docs/json}
PY=/usr/bin/python3
T=$(mktemp -d)
PIDS=""
cleanup()
{
	for p in $PIDS; do kill -KILL "$p" 2>/dev/null || true; done
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP
fail() { echo "FAIL: $*"; exit 1; }
$PY -c 'import jsonschema' 2>/dev/null || fail "$PY has no jsonschema: apt-get install python3-jsonschema (make deps)"
export HOTPATCH_RUN_DIR="$T/run"
export HOTPATCH_AUDIT="$T/no-audit-here.jsonl" # every command below names its own
AUDIT="$T/audit.jsonl"
STORE="$T/store"
M="$T/manifest"
: > "$M"
cd "$T"
want() { echo "$1 $T/$2" >> "$M"; } # want FORMAT FILE: FILE must validate as FORMAT
run() # run CODES CMD...: CMD must exit with one of CODES ("0 3")
{
	codes=$1
	shift
	rc=0
	"$@" 2> err || rc=$?
	case " $codes " in *" $rc "*) ;; *) fail "$*: exit $rc, expected $codes: $(cat err)" ;; esac
}

# --- hpdiff and hpbuild on samples, by gcc and clang -------------------------------
# one-fix: written; grown-struct: refused (a finding); line-noise: line-only
# entries; hot-cold: a cold part; inline-helper: inlines; new-function: NEW;
# changed-initializer: a variable finding; static-local: renamed twins.
SAMPLES="one-fix grown-struct line-noise hot-cold inline-helper new-function changed-initializer static-local"
F="-O2 -g -ffunction-sections -fdata-sections"
for s in $SAMPLES; do
	for cc in gcc clang; do
		for side in old new; do
			mkdir -p "src/$s-$cc-$side"
			cp "$ROOT/samples/$s/$side.c" "src/$s-$cc-$side/$s.c"
			(cd "src/$s-$cc-$side" && $cc $F -c "$s.c" -o "$T/$s-$cc-$side.o") || fail "$cc $s/$side.c"
		done
		run "0 3" "$BIN/hpdiff" --json "$s-$cc-old.o" "$s-$cc-new.o" > "diff-$s-$cc.json"
		want hpdiff-report "diff-$s-$cc.json"
		run "0 2 3" "$BIN/hpbuild" -q --json "build-$s-$cc.json" "$s-$cc-old.o" "$s-$cc-new.o" -o "$s-$cc.hpx"
		want hpbuild-report "build-$s-$cc.json"
	done
done
verdict() { $PY -c 'import json,sys; print(json.load(open(sys.argv[1]))["verdict"])' "$1"; }
for cc in gcc clang; do
	[ "$(verdict build-one-fix-$cc.json)" = written ] || fail "one-fix ($cc) not written"
	[ "$(verdict build-grown-struct-$cc.json)" = refused ] || fail "grown-struct ($cc) not refused"
done
# No change (the same objects), and an error (the patch cannot be written).
run 3 "$BIN/hpbuild" -q --json build-same.json one-fix-gcc-old.o one-fix-gcc-old.o -o same.hpx
want hpbuild-report build-same.json
run 1 "$BIN/hpbuild" -q --json build-error.json one-fix-gcc-old.o one-fix-gcc-new.o -o no/such/dir.hpx
want hpbuild-report build-error.json
[ "$(verdict build-same.json)" = "no change" ] && [ "$(verdict build-error.json)" = error ] ||
	fail "verdicts: $(verdict build-same.json), $(verdict build-error.json)"
# Directories, one object byte-identical in both (an incremental build).
mkdir -p tree-old tree-new
cp one-fix-gcc-old.o tree-old/fix.o
cp one-fix-gcc-new.o tree-new/fix.o
cp hot-cold-clang-old.o tree-old/same.o
cp hot-cold-clang-old.o tree-new/same.o
run 0 "$BIN/hpbuild" -q --json build-dirs.json --old-dir tree-old --new-dir tree-new -o dirs.hpx
want hpbuild-report build-dirs.json
grep -q '"identical": true' build-dirs.json || fail "no identical object in build-dirs.json"

# --- hpinspect on each patch written ------------------------------------------------
mkdir -m 700 keys trusted
openssl genpkey -algorithm ed25519 -out keys/k.pem 2> /dev/null
openssl pkey -in keys/k.pem -pubout -out trusted/k.pem 2> /dev/null
for p in *.hpx; do
	run 0 "$BIN/hpinspect" --json "$p" > "inspect-$p.json"
	want hpinspect "inspect-$p.json"
done

# --- a live server: hpapply, hpstatus --pid and --all, the audit log -----------------
SAMPLE=$ROOT/samples/live-server
gcc $F -c "$SAMPLE/server.c" -o server.o
gcc $F -c "$SAMPLE/old/lookup.c" -o lookup-old.o
gcc $F -c "$SAMPLE/new/lookup.c" -o lookup-new.o
gcc -Wl,--build-id -o server server.o lookup-old.o -lpthread
run 0 "$BIN/hpbuild" -q --target server --sequence 2 --sign keys/k.pem lookup-old.o lookup-new.o -o fix.hpx
run 0 "$BIN/hpbuild" -q lookup-old.o lookup-new.o -o unsigned.hpx
run 0 "$BIN/hpinspect" --json --trust trusted fix.hpx > inspect-trusted.json
want hpinspect inspect-trusted.json
run 0 "$BIN/hpinspect" --json fix.hpx > inspect-fix.json
want hpinspect inspect-fix.json
start() # start: a server; sets PID
{
	./server > out.tmp 2>&1 &
	PID=$!
	PIDS="$PIDS $PID"
	for i in $(seq 250); do grep -q listening out.tmp 2> /dev/null && break; sleep 0.02; done
	grep -q listening out.tmp || fail "the server did not start: $(cat out.tmp)"
	mv out.tmp "out.$PID"
}
APPLY="$BIN/hpapply --audit $AUDIT --trust $T/trusted"
start; A=$PID
start; B=$PID
run 0 "$BIN/hpstatus" --json --pid "$B" > status-none.json # a process with no patch
want hpstatus status-none.json
run 0 $APPLY -q --pid "$A" fix.hpx
run 3 $APPLY -q --pid "$A" fix.hpx                   # already applied
run 4 $APPLY -q --pid "$B" unsigned.hpx              # refused: verification failed
run 0 "$BIN/hpstatus" --json --pid "$A" > status-pid.json
want hpstatus status-pid.json
# Other tests may run at once: 6, a process another tool holds; 7, a record
# written under another run directory. Both are left out of the list.
run "0 6 7" "$BIN/hpstatus" --json --all > status-all.json
want hpstatus-all status-all.json
$PY - status-all.json "$A" "$B" <<'PY' || fail "hpstatus --all: $(cat status-all.json)"
import json, sys
pids = {p["pid"] for p in json.load(open(sys.argv[1]))["processes"]}
assert int(sys.argv[2]) in pids and int(sys.argv[3]) not in pids, pids
PY
run 0 $APPLY -q --pid "$A" --revert

# --- the store: hpapply --install, hpd, hpstatus --store ----------------------------
run 0 $APPLY -q --store "$STORE" --install fix.hpx # patches A and B
start; C=$PID
STATUS="$BIN/hpstatus --json --store=$STORE --trust $T/trusted"
run 11 $STATUS > store-unpatched.json
want hpstatus-store store-unpatched.json
$PY - store-unpatched.json "$C" <<'PY' || fail "hpstatus --store: $(cat store-unpatched.json)"
import json, sys
s = json.load(open(sys.argv[1]))
procs = {p["pid"]: p for x in s["patches"] for p in x["processes"]}
assert procs[int(sys.argv[2])]["patched"] is False and s["compliant"] is False, s
PY
run 0 "$BIN/hpd" --once --store "$STORE" --trust "$T/trusted" --audit "$AUDIT"
run 0 $STATUS > store-compliant.json
want hpstatus-store store-compliant.json
ID=$($PY -c 'import json,sys; print(json.load(open(sys.argv[1]))["patch_id"])' inspect-fix.json)
cp "$STORE/$ID.hpx" saved.hpx
$PY - "$STORE/$ID.hpx" <<'PY'
import sys
b = bytearray(open(sys.argv[1], "rb").read())
b[100] ^= 1
open(sys.argv[1], "wb").write(bytes(b))
PY
run 4 $STATUS > store-tampered.json
want hpstatus-store store-tampered.json
cp saved.hpx "$STORE/$ID.hpx"
run 0 "$BIN/hpstatus" --json --store="$T/no-store" > store-none.json
want hpstatus-store store-none.json
run 0 $APPLY -q --store "$STORE" --uninstall "$ID"
want hotpatch-audit audit.jsonl
$PY - audit.jsonl <<'PY' || fail "the audit log lacks a kind of line: $(cat audit.jsonl)"
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
seen = {(r["tool"], r["phase"], r["result"]) for r in rows}
for want in [("hpapply", "intent", "intent"), ("hpapply", "result", "applied"),
             ("hpapply", "result", "already applied"), ("hpapply", "result", "refused: verification failed"),
             ("hpapply", "result", "reverted"), ("hpd", "result", "applied")]:
    assert want in seen, (want, seen)
PY
[ -e "$HOTPATCH_AUDIT" ] && fail "a command wrote the default audit log: $(cat "$HOTPATCH_AUDIT")"

# --- validate everything --------------------------------------------------------------
echo "validating $(wc -l < "$M") outputs against $SCHEMAS:"
$PY "$E2E/lib/json_schema.py" "$SCHEMAS" "$M" || fail "an output does not match its schema (above)"
echo "ok json-schema"
