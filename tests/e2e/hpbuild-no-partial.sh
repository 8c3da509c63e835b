#!/bin/sh
# A failed or interrupted hpbuild leaves nothing behind: no output, no
# temporary file, no report claiming a patch; and it never changes its inputs,
# whether it succeeds or fails.
set -eu
BIN=${BIN:-bin}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
FLAGS="-O2 -g -ffunction-sections -fdata-sections"

cat > "$T/old.c" <<'C'
static int calls;
int parse_len(const char *s, int max) { int n = 0; calls++; while (s[n]) n++; return n > max ? -1 : n; }
int twice(int x) { return 2 * x + calls; }
C
sed 's/n > max/n >= max/' "$T/old.c" > "$T/new.c"
sed 's/static int calls;/static int calls = 5;/' "$T/old.c" > "$T/init.c"
cat > "$T/main.c" <<'C'
int parse_len(const char *s, int max);
int main(int argc, char **argv) { return argc > 1 ? parse_len(argv[1], 8) : 0; }
C
for f in old new init main; do gcc $FLAGS -c "$T/$f.c" -o "$T/$f.o"; done
gcc -Wl,--build-id -o "$T/server" "$T/old.o" "$T/main.o"
gcc -Wl,--build-id -o "$T/other" "$T/new.o" "$T/main.o"
printf 'junk' > "$T/junk.o"
# Inputs dated in the past, so a rewrite would show in their times.
touch -d '2001-02-03 04:05:06' "$T"/*.o "$T/server" "$T/other"

inputs="$T/old.o $T/new.o $T/init.o $T/junk.o $T/server $T/other"
snapshot() { for f in $inputs; do stat -c '%n %s %Y %y' "$f"; sha256sum "$f"; done; }
snapshot > "$T/before"
# no_trace NAME: neither NAME nor a temporary file of it exists.
no_trace()
{
	[ -e "$1" ] && fail "a failed run left $1"
	ls -a "$(dirname "$1")" | grep -q "^$(basename "$1")\.tmp" && fail "a temporary $1.tmp* was left"
	return 0
}
# expect_fail CODE NAME -- ARGS: hpbuild ARGS exits CODE and leaves no NAME.
expect_fail()
{
	code=$1 out=$2
	shift 3
	rc=0
	"$BIN/hpbuild" "$@" 2> "$T/err" || rc=$?
	[ $rc -eq "$code" ] || fail "hpbuild $*: exit $rc, expected $code: $(cat "$T/err")"
	no_trace "$out"
}

# Refused (a changed initializer), an error reading (junk), a target that does
# not hold the old objects (found after the patch was linked), an output that
# is a directory (found when writing), a key that cannot be opened (after the
# container was made): no output, nothing temporary.
expect_fail 2 "$T/a.hpx" -- "$T/old.o" "$T/init.o" -o "$T/a.hpx"
expect_fail 1 "$T/b.hpx" -- "$T/junk.o" "$T/new.o" -o "$T/b.hpx"
expect_fail 1 "$T/c.hpx" -- --target "$T/other" "$T/old.o" "$T/new.o" -o "$T/c.hpx"
mkdir "$T/d.hpx"
rc=0; "$BIN/hpbuild" "$T/old.o" "$T/new.o" -o "$T/d.hpx" 2> "$T/err" || rc=$?
[ $rc -eq 1 ] || fail "output is a directory: exit $rc"
[ -z "$(ls -A "$T/d.hpx")" ] || fail "the directory named as output was changed"
ls "$T" | grep -q '^d\.hpx\.tmp' && fail "a temporary file was left beside the directory"
if "$BIN/hpbuild" --help | grep -q -- '--sign'; then
	expect_fail 1 "$T/e.hpx" -- --sign "$T/no-such-key.pem" "$T/old.o" "$T/new.o" -o "$T/e.hpx"
fi

# The report cannot be written: the patch is not written either.
expect_fail 1 "$T/f.hpx" -- --json "$T/no-such-dir/r.json" "$T/old.o" "$T/new.o" -o "$T/f.hpx"
# The patch cannot be written: the report says so, not "written".
rc=0; "$BIN/hpbuild" --json "$T/g.json" "$T/old.o" "$T/new.o" -o "$T/no-such-dir/g.hpx" \
	2> "$T/err" || rc=$?
[ $rc -eq 1 ] || fail "unwritable output: exit $rc"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["verdict"]=="error", d' \
	"$T/g.json" || fail "the report of a failed write does not say error"

# Interrupted while writing the patch: a SIGTERM that arrives then (raised
# here from inside fsync, through a preloaded shim) ends the run with nothing
# written and nothing temporary, as soon as the temporary file is gone.
cat > "$T/shim.c" <<'C'
#include <signal.h>
#include <unistd.h>
int fsync(int fd) { (void)fd; raise(SIGTERM); return 0; }
C
gcc -shared -fPIC -o "$T/shim.so" "$T/shim.c"
rc=0
env LD_PRELOAD="$T/shim.so" ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0" \
	"$BIN/hpbuild" "$T/old.o" "$T/new.o" -o "$T/h.hpx" 2> "$T/err" || rc=$?
[ $rc -eq 143 ] || fail "SIGTERM while writing: exit $rc, expected death by SIGTERM: $(cat "$T/err")"
no_trace "$T/h.hpx"
# A SIGTERM at any other moment ends the run before it writes anything.
for delay in 0 0.001 0.005 0.02; do
	"$BIN/hpbuild" "$T/old.o" "$T/new.o" -o "$T/i.hpx" 2>/dev/null &
	pid=$!
	sleep $delay
	kill -TERM $pid 2>/dev/null || true
	wait $pid 2>/dev/null || true
	ls "$T" | grep -q '^i\.hpx\.tmp' && fail "SIGTERM after ${delay}s left a temporary file"
	rm -f "$T/i.hpx"
done

# Success changes no input either.
"$BIN/hpbuild" --target "$T/server" "$T/old.o" "$T/new.o" -o "$T/ok.hpx"
snapshot > "$T/after"
cmp -s "$T/before" "$T/after" || fail "an input changed: $(diff "$T/before" "$T/after")"
echo "ok hpbuild-no-partial"
