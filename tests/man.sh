#!/bin/sh
# The manual pages in man/: mandoc's lint and groff (through man) accept each
# without a warning, and every long option a tool's --help lists appears in
# the tool's page, so that a page cannot fall behind its tool. Only help ->
# page is checked: a page may document an option the tool does not have yet.
#   BIN=build/bin sh tests/man.sh
set -eu
BIN=${BIN:-bin}
cd "$(dirname "$0")/.."
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
failed=0
fail() { echo "FAIL: $*"; failed=1; }
for cmd in mandoc man; do
	command -v "$cmd" > /dev/null || { echo "FAIL: no $cmd (make deps installs mandoc; man is man-db's)"; exit 1; }
done
bs=$(printf '\b')

n=0
for page in man/*.[1-8]; do
	[ -f "$page" ] || continue
	n=$((n + 1))
	# mandoc: any message at warning level or above.
	mandoc -T lint -W warning "$page" > "$T/lint" 2>&1 || true
	[ -s "$T/lint" ] && fail "$page: mandoc -T lint:" && sed 's/^/  /' "$T/lint"
	# groff, as man(1) runs it: any warning on stderr.
	if ! LC_ALL=C.UTF-8 MANROFFSEQ='' MANWIDTH=80 man --warnings -E UTF-8 -l "$page" \
		> /dev/null 2> "$T/groff"; then
		fail "$page: man -l failed"
	fi
	[ -s "$T/groff" ] && fail "$page: groff warnings:" && sed 's/^/  /' "$T/groff"
done
[ "$n" -gt 0 ] || fail "no pages in man/"

# Every long option of every tool's --help, in its page (rendered wide, so
# that no option is broken across lines; bold and underline removed).
for tool in hpdiff hpbuild hpinspect hpsign hpverify hpapply hpstatus hpd; do
	page=man/$tool.1
	[ "$tool" = hpd ] && page=man/hpd.8
	if [ ! -f "$page" ]; then
		fail "$tool: no page $page"
		continue
	fi
	if ! "$BIN/$tool" --help > "$T/help" 2>&1; then
		fail "$tool --help failed"
		continue
	fi
	mandoc -T ascii -O width=1000 "$page" | sed "s/.$bs//g" > "$T/text"
	for opt in $(grep -o -- '--[a-z][a-z0-9-]*' "$T/help" | sort -u); do
		grep -q -e "$opt\([^a-z0-9-]\|\$\)" "$T/text" ||
			fail "$page: no $opt, which '$tool --help' lists"
	done
done

[ "$failed" = 0 ] || exit 1
echo "ok man ($n pages)"
