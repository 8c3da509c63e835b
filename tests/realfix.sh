#!/usr/bin/env bash
# realfix.sh BIN: hpbuild on real security fixes that no one here wrote (`make realfix`; not part
# of `make check`, since it downloads about 8 MB).
#
# Debian 12's expat source package carries its CVE fixes as quilt patches (debian/patches/series,
# applied in order). For each patch that touches expat/lib/xmlparse.c (a 9,000-line translation
# unit), the file is compiled before and after the patch with gcc and clang,
# -O2 -g -ffunction-sections -fdata-sections, and hpbuild runs on the pair. The verdict must be
# the one listed below: a fix that changes only code gives a patch (exit 0); a fix that grows
# struct XML_ParserStruct (every live parser has the old layout) is refused (exit 2), and the
# refusal names the struct. A patch not listed is reported, not judged. CVE-2024-45490's patch
# is then applied live to a running, stripped process that uses the release's parser (below).
#
# The source is fetched with apt-get from a private list (docs/dependencies.md; nothing in the
# system's apt configuration changes) into .cache/realfix. Exits 1 if a verdict differs.
set -euo pipefail
BIN=$(cd "${1:-bin}" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
C=${REALFIX_CACHE:-$here/../.cache/realfix}
mkdir -p "$C"
C=$(cd "$C" && pwd)

# patch -> expected hpbuild exit, and the words a refusal must contain. CVE-2024-45491
# and -45492 add checks under #if UINT_MAX >= SIZE_MAX, false on x86-64: only line
# numbers move, so nothing changes (3).
declare -A expect=(
	[CVE-2024-45490.patch]=0
	[CVE-2024-45491.patch]=3
	[CVE-2024-45492.patch]=3
	[expat-2.5.0-CVE-2023-52425.patch]=2
	[expat-2.5.0-CVE-2024-50602.patch]=0
	[expat-2.5.0-CVE-2024-8176.patch]=2
)
refusal="uses struct XML_ParserStruct ("

# ----- live: CVE-2024-45490's fix applied to a running process ----------------------------
# The release's xmlparse.o linked with expat's other two files and tests/realfix/parse-loop.c
# into an executable, stripped as a distribution ships it; the patch is built against the
# unstripped one (--target), signed, applied to the running stripped copy, and reverted.
LIVE_PID=
trap '[ -z "$LIVE_PID" ] || kill "$LIVE_PID" 2>/dev/null || true' EXIT
live_value() { # live_value OUT: the last "value" line, once three more have come
	local n i=0
	n=$(wc -l <"$1")
	while [ "$(wc -l <"$1")" -lt $((n + 3)) ] && [ $i -lt 300 ]; do sleep 0.01; i=$((i + 1)); done
	grep '^value' "$1" | tail -n 1 | cut -d' ' -f2-
}
live() { # live OLD.o NEW.o
	local L=$W/live v
	rm -rf "$L"
	mkdir -p "$L/trust"
	for f in xmltok xmlrole; do
		"$cc" -O2 -g -DHAVE_EXPAT_CONFIG_H -I"$C" -I"$src/expat/lib" -w -c "$src/expat/lib/$f.c" -o "$L/$f.o"
	done
	"$cc" -O2 -g -I"$src/expat/lib" -c "$here/realfix/parse-loop.c" -o "$L/main.o"
	"$cc" -Wl,--build-id -o "$L/parse-loop" "$L/main.o" "$1" "$L/xmltok.o" "$L/xmlrole.o"
	strip -o "$L/parse-loop-stripped" "$L/parse-loop"
	"$BIN/hpbuild" --target "$L/parse-loop" "$1" "$2" -o "$L/fix.hpx"
	openssl genpkey -algorithm ed25519 -out "$L/key.pem" 2>/dev/null
	openssl pkey -in "$L/key.pem" -pubout -out "$L/trust/realfix.pem" 2>/dev/null
	"$BIN/hpsign" "$L/fix.hpx" --key "$L/key.pem"
	"$L/parse-loop-stripped" >"$L/out" &
	LIVE_PID=$!
	local apply=("$BIN/hpapply" --trust "$L/trust" --audit "$L/audit.jsonl" --pid "$LIVE_PID")
	v=$(live_value "$L/out")
	[ "$v" = "1 0" ] || { echo "  FAIL live: the release printed '$v', expected '1 0'"; return 1; }
	"${apply[@]}" "$L/fix.hpx" | sed 's/^/      /'
	v=$(live_value "$L/out")
	[ "$v" = "0 41" ] || { echo "  FAIL live: after the patch '$v', expected '0 41'"; return 1; }
	"${apply[@]}" --revert | sed 's/^/      /'
	v=$(live_value "$L/out")
	[ "$v" = "1 0" ] || { echo "  FAIL live: after the revert '$v', expected '1 0'"; return 1; }
	kill "$LIVE_PID"
	LIVE_PID=
	echo "  ok   $cc live: a stripped process using expat takes the fix (XML_ParseBuffer(-1) -> error 41) and gives it back"
}

# ----- the source package ----------------------------------------------------------------
if ! ls "$C"/expat_*.debian.tar.xz >/dev/null 2>&1; then
	mkdir -p "$C/apt/lists/partial"
	printf 'Types: deb-src\nURIs: http://deb.debian.org/debian\nSuites: bookworm\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
		>"$C/apt/src.sources"
	O=(-o Dir::Etc::SourceList=/dev/null -o "Dir::Etc::SourceParts=$C/apt" -o "Dir::State::Lists=$C/apt/lists")
	apt-get "${O[@]}" update -qq
	(cd "$C" && apt-get "${O[@]}" source --download-only expat >/dev/null 2>&1)
fi
dsc=$(ls "$C"/expat_*.dsc)
echo "realfix: $(basename "$dsc")"

# expat's configure writes expat_config.h; these are its answers on Linux x86-64.
cat >"$C/expat_config.h" <<'EOF'
#define BYTEORDER 1234
#define HAVE_GETRANDOM 1
#define HAVE_SYSCALL_GETRANDOM 1
#define HAVE_MEMMOVE 1
#define XML_CONTEXT_BYTES 1024
#define XML_DTD 1
#define XML_NS 1
#define XML_DEV_URANDOM 1
EOF

failed=0
for cc in gcc clang; do
	W=$C/work-$cc
	rm -rf "$W"
	mkdir -p "$W/src"
	tar -xf "$C"/expat_*.orig.tar.* -C "$W/src"
	src=$(ls -d "$W"/src/*/)
	tar -xf "$C"/expat_*.debian.tar.xz -C "$src"
	compile() { # compile OUTDIR
		mkdir -p "$1"
		"$cc" -O2 -g -ffunction-sections -fdata-sections -DHAVE_EXPAT_CONFIG_H -I"$C" \
			-I"$src/expat/lib" -w -c "$src/expat/lib/xmlparse.c" -o "$1/xmlparse.o"
	}
	compile "$W/o0"
	prev=$W/o0
	n=0
	while read -r p; do
		[ -n "$p" ] && [ "${p#\#}" = "$p" ] || continue
		n=$((n + 1))
		(cd "$src" && patch -s -p1 <"debian/patches/$p")
		grep -q '^+++ b/expat/lib/xmlparse.c' "$src/debian/patches/$p" || continue
		compile "$W/o$n"
		rc=0
		"$BIN/hpbuild" "$prev/xmlparse.o" "$W/o$n/xmlparse.o" -o "$W/fix$n.hpx" >"$W/out$n" 2>&1 || rc=$?
		nchanged=$("$BIN/hpdiff" "$prev/xmlparse.o" "$W/o$n/xmlparse.o" 2>/dev/null | grep -c '^CHANGED  func' || true)
		nref=$(grep -c '^hpbuild: ' "$W/out$n" || true)
		want=${expect[$p]:-}
		verdict="exit $rc, $nchanged functions changed"
		[ $rc -ne 2 ] || verdict="$verdict, $nref reasons"
		if [ -z "$want" ]; then
			echo "  ?    $cc $p: $verdict (not judged)"
		elif [ "$rc" != "$want" ] || { [ "$want" = 2 ] && ! grep -qF "$refusal" "$W/out$n"; }; then
			echo "  FAIL $cc $p: $verdict, expected exit $want"
			sed 's/^/      /' "$W/out$n" | head -5
			failed=$((failed + 1))
		else
			echo "  ok   $cc $p: $verdict"
			[ $rc -ne 2 ] || grep -m1 -F "$refusal" "$W/out$n" | cut -c1-200 | sed 's/^/      /'
		fi
		if [ "$p" = CVE-2024-45490.patch ] && [ "$rc" = 0 ]; then
			live "$prev/xmlparse.o" "$W/o$n/xmlparse.o" || failed=$((failed + 1))
		fi
		prev=$W/o$n
	done <"$src/debian/patches/series"
done
[ $failed -eq 0 ] || { echo "realfix: $failed verdicts differ"; exit 1; }
echo "realfix: every verdict as expected"
