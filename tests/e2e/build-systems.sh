#!/bin/sh
# samples/build-system: live patches as make and ninja targets, built from two
# trees, then up to date on the next run, and the same bytes when rebuilt.
set -eu
BIN=${BIN:-bin}
HPBUILD=$(cd "$BIN" && pwd)/hpbuild
HPINSPECT=$(cd "$BIN" && pwd)/hpinspect
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
cp -r samples/build-system "$T/s"
cd "$T/s"

# make: the tree patch and one patch per object pair.
make -s HPBUILD="$HPBUILD" > "$T/make.log" 2>&1 || { cat "$T/make.log"; fail "make"; }
"$HPINSPECT" build/fix.hpx | grep -q '^  counter_hit in object 0' || fail "make: fix.hpx lacks counter_hit"
"$HPINSPECT" build/patches/counter.hpx | grep -q '^  counter_hit in object 0' || fail "make: counter.hpx"
[ "$(cat build/patches/counter.status)" = written ] || fail "make: counter.status"
[ "$(cat build/patches/main.status)" = "no change" ] || fail "make: main.o has no change: $(cat build/patches/main.status)"
[ ! -e build/patches/main.hpx ] || fail "make: a .hpx for a pair with no change"
for p in build/patches/*.hpx; do "$HPINSPECT" -q "$p" || fail "make: $p is not a patch"; done
make -q HPBUILD="$HPBUILD" || fail "make: not up to date after a build"
cp build/fix.hpx "$T/first.hpx"
rm build/fix.hpx
make -s HPBUILD="$HPBUILD" build/fix.hpx
cmp -s build/fix.hpx "$T/first.hpx" || fail "make: rebuilt patch differs"
# A change in the fix rebuilds only what depends on it.
sleep 1
sed -i 's/id >= MAX_CLIENTS/id >= MAX_CLIENTS || id == 13/' new/counter.c
make -s HPBUILD="$HPBUILD"
cmp -s build/fix.hpx "$T/first.hpx" && fail "make: patch not rebuilt after the fix changed"

# ninja: the same targets.
cp "$OLDPWD/samples/build-system/new/counter.c" new/counter.c
PATH=$(dirname "$HPBUILD"):$PATH ninja -f build.ninja > "$T/ninja.log" 2>&1 || { cat "$T/ninja.log"; fail "ninja"; }
"$HPINSPECT" build-ninja/fix.hpx | grep -q '^  counter_hit in object 0' || fail "ninja: fix.hpx lacks counter_hit"
[ "$(cat build-ninja/patches/main.status)" = "no change" ] && [ ! -e build-ninja/patches/main.hpx ] ||
	fail "ninja: main.o has no change"
"$HPINSPECT" build-ninja/patches/counter.hpx | grep -q '^  counter_hit in object 0' || fail "ninja: counter.hpx"
PATH=$(dirname "$HPBUILD"):$PATH ninja -f build.ninja -n | grep -q 'no work to do' || fail "ninja: not up to date"
echo "ok build-systems"
