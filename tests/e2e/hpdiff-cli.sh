#!/bin/sh
# hpdiff as a user meets it: exit codes, messages, --json, --help, --version.
# Inputs are written inline and compiled by the real gcc.
set -eu
BIN=${BIN:-bin}
HPDIFF=$BIN/hpdiff
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

cat > "$T/old.c" <<'C'
#include <string.h>
int parse_len(const char *s, int max) { int n = (int)strlen(s); return n > max ? -1 : n; }
int twice(int x) { return 2 * x; }
C
cat > "$T/new.c" <<'C'
#include <string.h>
int parse_len(const char *s, int max) { int n = (int)strlen(s); return n >= max ? -1 : n; }
int twice(int x) { return 2 * x; }
C
FLAGS="-O2 -g -ffunction-sections -fdata-sections"
gcc $FLAGS -c "$T/old.c" -o "$T/old.o"
gcc $FLAGS -c "$T/new.c" -o "$T/new.o"

# A change: exit 0, one CHANGED line naming the function and the first difference.
rc=0; "$HPDIFF" "$T/old.o" "$T/new.o" > "$T/out" || rc=$?
[ $rc -eq 0 ] || fail "change: exit $rc, expected 0"
grep -q '^CHANGED  *func  *parse_len  *bytes differ at +0x' "$T/out" || fail "no CHANGED parse_len line: $(cat "$T/out")"
grep -q 'twice' "$T/out" && fail "twice reported without --all"
grep -q '^summary: functions 1 changed, 0 new, 0 removed, 1 same' "$T/out" || fail "summary: $(cat "$T/out")"

# --all lists SAME too.
"$HPDIFF" --all "$T/old.o" "$T/new.o" | grep -q '^SAME  *func  *twice' || fail "--all misses SAME twice"

# No change: exit 3.
rc=0; "$HPDIFF" "$T/old.o" "$T/old.o" > /dev/null || rc=$?
[ $rc -eq 3 ] || fail "no change: exit $rc, expected 3"

# -q prints nothing.
[ -z "$("$HPDIFF" -q "$T/old.o" "$T/new.o")" ] || fail "-q printed something"

# --json: valid JSON with the documented fields.
"$HPDIFF" --json "$T/old.o" "$T/new.o" > "$T/out.json"
python3 - "$T/out.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
assert d["format"] == "hpdiff-report" and d["version"] == 1, d
assert d["summary"]["functions"] == {"changed": 1, "new": 0, "removed": 0, "same": 1}, d["summary"]
e = [x for x in d["entries"] if x["name"] == "parse_len"][0]
assert e["kind"] == "func" and e["status"] == "CHANGED" and e["why"].startswith("bytes differ"), e
assert e["old"]["section"] == ".text.parse_len" and e["new"]["size"] > 0, e
assert d["findings"] == [], d["findings"]
PY

# What hpbuild would refuse: a warning on stderr, a finding in --json, the exit code of a change.
sed 's/return n > max ? -1 : n;/return n > max ? -1 : n;\n}\nstruct limit { int max; long slack; };\nint cap(struct limit *l) { return l->max > 100 ? 100 : l->max;/' \
	"$T/old.c" > "$T/lim-old.c"
sed 's/int max; long slack;/long slack; int max;/; s/100 ? 100/99 ? 99/' "$T/lim-old.c" > "$T/lim-new.c"
gcc $FLAGS -c "$T/lim-old.c" -o "$T/lim-old.o"
gcc $FLAGS -c "$T/lim-new.c" -o "$T/lim-new.o"
rc=0; "$HPDIFF" "$T/lim-old.o" "$T/lim-new.o" > "$T/out" 2> "$T/err" || rc=$?
[ $rc -eq 0 ] || fail "layout change: exit $rc, expected 0"
grep -q "^hpdiff: warning: $T/lim-new.o: cap: uses struct limit (.*lim-new.c:4) through parameter 'l', and its layout changed: member 'slack' offset 8 -> 0, member 'max' offset 0 -> 8; " "$T/err" ||
	fail "layout warning: $(cat "$T/err")"
"$HPDIFF" --json "$T/lim-old.o" "$T/lim-new.o" 2>/dev/null > "$T/lim.json"
python3 - "$T/lim.json" <<'PY'
import json, sys
f = json.load(open(sys.argv[1]))["findings"]
assert len(f) == 1, f
x = f[0]
assert x["rule"] == "type-layout" and x["symbol"] == "cap" and x["entity"] == "struct limit", x
assert x["via"] == "parameter 'l'" and x["declared"]["line"] == 4, x
assert {"what": "offset", "member": "max", "old": "0", "new": "8"} in x["changes"], x
PY

# Errors: one line "hpdiff: FILE: what", exit 1, nothing on stdout.
printf 'not an object' > "$T/bad.o"
rc=0; "$HPDIFF" "$T/bad.o" "$T/new.o" > "$T/out" 2> "$T/err" || rc=$?
[ $rc -eq 1 ] || fail "bad input: exit $rc, expected 1"
[ "$(cat "$T/err")" = "hpdiff: $T/bad.o: not an ELF file" ] || fail "bad input message: $(cat "$T/err")"
[ -s "$T/out" ] && fail "bad input wrote a report"

rc=0; "$HPDIFF" "$T/missing.o" "$T/new.o" 2> "$T/err" || rc=$?
[ $rc -eq 1 ] || fail "missing file: exit $rc"
grep -q "^hpdiff: $T/missing.o: cannot open: No such file or directory$" "$T/err" || fail "missing: $(cat "$T/err")"

# Objects without -ffunction-sections: the same answer (the calls between
# functions of one .text are recovered from the instructions).
gcc -O2 -g -c "$T/old.c" -o "$T/old-nofs.o"
gcc -O2 -g -c "$T/new.c" -o "$T/new-nofs.o"
"$HPDIFF" "$T/old-nofs.o" "$T/new-nofs.o" > "$T/nofs" || fail "nofs: exit $?"
[ "$(awk '$1 != "summary:" { print $1, $2, $3 }' "$T/nofs")" = "CHANGED func parse_len" ] || fail "nofs: $(cat "$T/nofs")"

# --disasm: old and new instructions as a unified diff, the difference marked.
"$HPDIFF" --disasm "$T/old.o" "$T/new.o" > "$T/dis"
grep -q '^--- .*old.o: parse_len' "$T/dis" || fail "--disasm header: $(cat "$T/dis")"
grep -q '^+++ .*new.o: parse_len' "$T/dis" || fail "--disasm header"
grep -q '^- ' "$T/dis" && grep -q '^+ ' "$T/dis" || fail "--disasm marks no difference"
grep -q ' <- strlen' "$T/dis" || fail "--disasm does not name the call target"
grep -q 'twice' "$T/dis" && fail "--disasm shows an unchanged function"

# Usage errors.
rc=0; "$HPDIFF" "$T/old.o" 2> "$T/err" || rc=$?
[ $rc -eq 1 ] || fail "one argument: exit $rc"
[ "$(cat "$T/err")" = "hpdiff: expected two object files, got 1
Try 'hpdiff --help' for more information." ] || fail "usage error: $(cat "$T/err")"
"$HPDIFF" --help | grep -q '^usage: hpdiff' || fail "--help"
"$HPDIFF" --version | grep -q '^hpdiff (hotpatch) [0-9]' || fail "--version"
echo "ok hpdiff-cli"
