#!/bin/sh
# hpbuild and hpinspect as a user meets them: a patch written, rebuilt to the
# same bytes, bound to a binary; no change, refusal and errors leaving no file.
set -eu
BIN=${BIN:-bin}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
FLAGS="-O2 -g -ffunction-sections -fdata-sections"

mkdir -p "$T/old" "$T/new"
cat > "$T/old/parse.c" <<'C'
#include <string.h>
static int calls;
int parse_len(const char *s, int max) { calls++; int n = (int)strlen(s); return n > max ? -1 : n; }
int twice(int x) { return 2 * x + calls; }
C
sed 's/n > max/n >= max/' "$T/old/parse.c" > "$T/new/parse.c"
cat > "$T/old/main.c" <<'C'
int parse_len(const char *s, int max);
int twice(int x);
int main(int argc, char **argv) { return argc > 1 ? parse_len(argv[1], 8) : twice(argc); }
C
cp "$T/old/main.c" "$T/new/main.c"
for v in old new; do
	for f in parse main; do gcc $FLAGS -c "$T/$v/$f.c" -o "$T/$v/$f.o"; done
	gcc -Wl,--build-id -o "$T/$v/server" "$T/$v/parse.o" "$T/$v/main.o"
done
# An incremental build reuses the unchanged object: byte-identical in both trees.
cp "$T/old/main.o" "$T/new/main.o"

# A one-function fix: written, exit 0, under 1 KB, nothing on stdout by default.
out=$("$BIN/hpbuild" "$T/old/parse.o" "$T/new/parse.o" -o "$T/fix.hpx")
[ -z "$out" ] || fail "hpbuild printed without -v: $out"
size=$(stat -c %s "$T/fix.hpx")
[ "$size" -lt 1024 ] || fail "one-function patch is $size bytes, not under 1 KB"
"$BIN/hpinspect" "$T/fix.hpx" | grep -q '^  parse_len in object 0: old [0-9]* bytes' || fail "hpinspect: no parse_len"
"$BIN/hpinspect" --json "$T/fix.hpx" > "$T/fix.json"
python3 - "$T/fix.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
assert [f["name"] for f in d["functions"]] == ["parse_len"], d["functions"]
assert d["sequence"] == 1 and d["created"] == 0 and d["signatures"] == [], d
names = {s["name"]: s for s in d["symbols"]}
assert names["calls"]["scope"] == "target" and names["calls"]["file"].endswith("parse.c"), names
assert names["strlen"]["scope"] == "global", names
PY

# Deterministic: the same inputs give the same bytes; SOURCE_DATE_EPOCH is recorded.
SOURCE_DATE_EPOCH=1700000000 "$BIN/hpbuild" "$T/old/parse.o" "$T/new/parse.o" -o "$T/a.hpx"
SOURCE_DATE_EPOCH=1700000000 "$BIN/hpbuild" "$T/old/parse.o" "$T/new/parse.o" -o "$T/b.hpx"
cmp -s "$T/a.hpx" "$T/b.hpx" || fail "two builds differ"
"$BIN/hpinspect" "$T/a.hpx" | grep -q '^created:   2023-11-14T22:13:20Z' || fail "created not recorded"

# --target: bound to the binary built from the old objects ...
"$BIN/hpbuild" --target "$T/old/server" "$T/old/parse.o" "$T/new/parse.o" -o "$T/t.hpx"
id=$(readelf -n "$T/old/server" | sed -n 's/.*Build ID: //p')
"$BIN/hpinspect" "$T/t.hpx" | grep -q "^target:    server, build-id $id" || fail "build-id not bound"
# ... and refused for a binary the old objects are not in.
rc=0; "$BIN/hpbuild" --target "$T/new/server" "$T/old/parse.o" "$T/new/parse.o" -o "$T/u.hpx" 2> "$T/err" || rc=$?
[ $rc -eq 1 ] || fail "--target mismatch: exit $rc"
grep -q "parse_len: its bytes in the target differ from the old object's" "$T/err" || fail "mismatch message: $(cat "$T/err")"
[ -e "$T/u.hpx" ] && fail "a failed build left $T/u.hpx"

# --old-dir/--new-dir: pairs by relative path, skips identical objects.
"$BIN/hpbuild" -v --old-dir "$T/old" --new-dir "$T/new" -o "$T/dir.hpx" > "$T/out"
grep -q '^== main.o: identical, skipped' "$T/out" || fail "identical object not skipped: $(cat "$T/out")"
grep -q '^replaces parse_len ' "$T/out" || fail "dir build: $(cat "$T/out")"

# No change: exit 3, nothing written.
rc=0; "$BIN/hpbuild" -q "$T/old/parse.o" "$T/old/parse.o" -o "$T/none.hpx" || rc=$?
[ $rc -eq 3 ] || fail "no change: exit $rc"
[ -e "$T/none.hpx" ] && fail "no change wrote a file"

# Refused: a changed initializer; exit 2, the reason named, nothing written.
sed 's/static int calls;/static int calls = 5;/' "$T/old/parse.c" > "$T/init.c"
gcc $FLAGS -c "$T/init.c" -o "$T/init.o"
rc=0; "$BIN/hpbuild" "$T/old/parse.o" "$T/init.o" -o "$T/init.hpx" 2> "$T/err" || rc=$?
[ $rc -eq 2 ] || fail "changed initializer: exit $rc"
grep -q "^hpbuild: $T/init.o: calls: variable 'calls' (.*init.c:2) changed: initial value 0 (.bss) -> 5; " "$T/err" || fail "refusal: $(cat "$T/err")"
[ -e "$T/init.hpx" ] && fail "refused build wrote a file"

# --json report, also for a refusal.
rc=0; "$BIN/hpbuild" --json "$T/r.json" "$T/old/parse.o" "$T/init.o" -o "$T/r.hpx" 2>/dev/null || rc=$?
python3 - "$T/r.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
assert d["verdict"] == "refused" and any("calls" in x for x in d["diagnostics"]), d
f = d["objects"][0]["report"]["findings"]
assert [(x["rule"], x["symbol"]) for x in f] == [("variable", "calls")], f
assert f[0]["changes"] == [{"what": "initial value", "old": "0 (.bss)", "new": "5"}], f
assert f[0]["declared"]["line"] == 2 and f[0]["declared"]["file"].endswith("init.c"), f
PY

# A new global that two objects of one patch define, called from a third: the
# static linker refuses that build, and so does hpbuild (exit 2), naming both.
mkdir -p "$T/dup/old" "$T/dup/new"
echo 'int use(int x) { return x * 3 + 7; }' > "$T/dup/old/use.c"
printf 'int helper(int x);\nint use(int x) { return helper(x) * 3 + 7; }\n' > "$T/dup/new/use.c"
for f in a b; do
	echo "int keep_$f(void) { return 1; }" > "$T/dup/old/$f.c"
	printf 'int keep_%s(void) { return 1; }\nint helper(int x) { return x + 1; }\n' $f > "$T/dup/new/$f.c"
done
for v in old new; do for f in use a b; do gcc $FLAGS -c "$T/dup/$v/$f.c" -o "$T/dup/$v/$f.o"; done; done
rc=0; "$BIN/hpbuild" --old-dir "$T/dup/old" --new-dir "$T/dup/new" -o "$T/dup.hpx" 2> "$T/err" || rc=$?
[ $rc -eq 2 ] || fail "a new global in two objects: exit $rc: $(cat "$T/err")"
grep -q "^hpbuild: $T/dup/new/b.o: helper: new global, also defined in $T/dup/new/a.o; " "$T/err" ||
	fail "a new global in two objects: $(cat "$T/err")"
[ -e "$T/dup.hpx" ] && fail "a refusal left a file"
# With one definition, the call is bound to it inside the patch: nothing to import.
rm "$T/dup/new/b.o" "$T/dup/old/b.o"
"$BIN/hpbuild" --old-dir "$T/dup/old" --new-dir "$T/dup/new" -o "$T/dup.hpx" || fail "a new global in one object"
"$BIN/hpinspect" "$T/dup.hpx" | grep -q '^symbols (0)' || fail "helper imported: $("$BIN/hpinspect" "$T/dup.hpx")"

# Thread-local variables: an executable's code (-fPIE) reaches them at offsets
# from the thread pointer, a library's (-fPIC) through __tls_get_addr with a
# module id; both are patches. TLS descriptors (-mtls-dialect=gnu2) are refused.
S=samples/tls-existing
[ -d "$S" ] || S=$(dirname "$0")/../../samples/tls-existing
for how in -fPIE -fPIC "-fPIC -mtls-dialect=gnu2"; do
	gcc $FLAGS $how -c "$S/old.c" -o "$T/tls-old.o"
	gcc $FLAGS $how -c "$S/new.c" -o "$T/tls-new.o"
	rc=0; "$BIN/hpbuild" "$T/tls-old.o" "$T/tls-new.o" -o "$T/tls.hpx" 2> "$T/err" || rc=$?
	case $how in
	-fPIE)
		[ $rc -eq 0 ] || fail "TLS, $how: exit $rc: $(cat "$T/err")"
		"$BIN/hpinspect" "$T/tls.hpx" | grep -q '^  \[[0-9]\] tls depth, target, static in old.c #0' ||
			fail "TLS: depth is not a thread-local symbol of the patch"
		"$BIN/hpinspect" "$T/tls.hpx" | grep -q 'TPOFF32  depth' || fail "TLS, $how: no TPOFF32 fixup"
		;;
	-fPIC)
		[ $rc -eq 0 ] || fail "TLS, $how: exit $rc: $(cat "$T/err")"
		"$BIN/hpinspect" "$T/tls.hpx" | grep -q 'DTPMOD64 depth' || fail "TLS, $how: no module id fixup"
		;;
	*)
		[ $rc -eq 2 ] && grep -q "^hpbuild: $T/tls-new.o: skip_group: R_X86_64_GOTPC32_TLSDESC at +0x[0-9a-f]*: a thread-local variable reached through a TLS descriptor" "$T/err" ||
			fail "TLS, $how: exit $rc: $(cat "$T/err")"
		[ -e "$T/tls.hpx" ] && fail "TLS, $how: a refusal left a file"
		;;
	esac
	rm -f "$T/tls.hpx"
done

# Errors: exit 1, one line naming the file, no output left behind.
printf 'junk' > "$T/junk.o"
rc=0; "$BIN/hpbuild" "$T/junk.o" "$T/new/parse.o" -o "$T/j.hpx" 2> "$T/err" || rc=$?
[ $rc -eq 1 ] || fail "junk input: exit $rc"
grep -q "^hpbuild: $T/junk.o: not an ELF file$" "$T/err" || fail "junk message: $(cat "$T/err")"
[ -e "$T/j.hpx" ] && fail "error left a file"
rc=0; "$BIN/hpbuild" "$T/old/parse.o" "$T/new/parse.o" -o "$T/nodir/x.hpx" 2> "$T/err" || rc=$?
[ $rc -eq 1 ] || fail "unwritable output: exit $rc"
ls "$T" | grep -q tmp && fail "temporary file left behind"
rc=0; "$BIN/hpbuild" "$T/old/parse.o" -o "$T/x.hpx" 2> "$T/err" || rc=$?
[ $rc -eq 1 ] && grep -q 'objects come in pairs' "$T/err" || fail "odd argument count"

# hpinspect refuses what is not a container.
rc=0; "$BIN/hpinspect" "$T/junk.o" 2> "$T/err" || rc=$?
[ $rc -eq 1 ] || fail "hpinspect junk: exit $rc"
grep -q "^hpinspect: $T/junk.o: 4 bytes is shorter than the 64-byte header" "$T/err" || fail "hpinspect message: $(cat "$T/err")"
# The report hpbuild embeds for a pair is hpdiff's for the same pair, inlines
# included (both run differ_run()): a fix to a helper inlined into its callers.
S=$(cd "$(dirname "$0")/../../samples/inline-helper" && pwd)
gcc -O2 -g -c "$S/old.c" -o "$T/ih-old.o"
gcc -O2 -g -c "$S/new.c" -o "$T/ih-new.o"
"$BIN/hpbuild" -q --json "$T/ih.json" "$T/ih-old.o" "$T/ih-new.o" -o "$T/ih.hpx" || fail "hpbuild inline-helper"
"$BIN/hpdiff" --json "$T/ih-old.o" "$T/ih-new.o" > "$T/ih-diff.json" || fail "hpdiff inline-helper"
python3 - "$T/ih.json" "$T/ih-diff.json" <<'PY' || fail "hpbuild's embedded report is not hpdiff's"
import json, sys
built, diffed = (json.load(open(p)) for p in sys.argv[1:])
embedded = built["objects"][0]["report"]
assert any(e.get("inlines") for e in diffed["entries"]), "the sample inlines nothing: the check would prove little"
if embedded != diffed:
    for k in diffed:
        if embedded.get(k) != diffed[k]:
            print(k, json.dumps(embedded.get(k))[:200], "!=", json.dumps(diffed[k])[:200])
    sys.exit(1)
PY
echo "ok hpbuild-cli"
