#!/bin/sh
# make package-check: the Debian package as an administrator meets it.
#
# Builds it (make deb, timed), installs it on this machine with dpkg -i, and
# checks it from the installed paths: every tool runs, the man pages are
# found by man, bash-completion loads the completion, the trust store's
# folder is root's and closed to others, the unit starts the installed hpd.
# Then the installed tools do the whole job on the live-server sample: build
# a patch, sign it, trust the key in /etc/hotpatch/trusted.d, apply it to the
# running server and revert it (hpapply's default trust store and audit log),
# install it in the store, let hpd --once patch a second server, uninstall
# it. Last, dpkg --purge, and every path the package listed must be gone,
# and nothing else left but /var/lib/hotpatch and /var/log/hotpatch.
#
# Root only: CI runs it on a throwaway machine. On a machine where hotpatch
# was used before: a hotpatch package already installed stops the test (it
# would be purged); /etc/hotpatch is put aside and restored; a store at
# /var/lib/hotpatch is left alone (the store checks then use a temporary one,
# so that hpd touches nothing but the sample's processes); the audit log gets
# the test's lines, as it would from any use.
set -eu
cd "$(dirname "$0")/.."
SRC=$(pwd)
MAKE=${MAKE:-make}
fail() { echo "package-check: FAIL: $*"; exit 1; }
say() { echo "package-check: $*"; }

[ "$(id -u)" = 0 ] || fail "run as root: it installs the package with dpkg -i and purges it"
status=$(dpkg-query -W -f='${db:Status-Abbrev}' hotpatch 2>/dev/null || true)
case $status in
'' | un*) ;;
*) fail "the hotpatch package is on this machine already ($status): this test installs and purges it; dpkg --purge hotpatch first" ;;
esac

T=$(mktemp -d)
installed=no
PIDS=
existed() { [ -e "$1" ] && echo yes || echo no; }
had_store=$(existed /var/lib/hotpatch)
had_log=$(existed /var/log/hotpatch)
had_run=$(existed /run/hotpatch)
cleanup()
{
	for p in $PIDS; do kill "$p" 2>/dev/null || true; done
	if [ $installed = yes ] && dpkg-query -W hotpatch > /dev/null 2>&1; then
		dpkg --purge hotpatch > /dev/null 2>&1 || true
	fi
	[ $had_store = yes ] || rm -rf /var/lib/hotpatch
	[ $had_log = yes ] || rm -rf /var/log/hotpatch
	[ $had_run = yes ] || rm -rf /run/hotpatch
	if [ -e "$T/etc-hotpatch" ]; then
		rm -rf /etc/hotpatch
		mv "$T/etc-hotpatch" /etc/hotpatch
	fi
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP
if [ -e /etc/hotpatch ]; then
	say "/etc/hotpatch exists (not from a package): put aside, restored at the end"
	mv /etc/hotpatch "$T/etc-hotpatch"
fi

# ----- build
start=$(date +%s)
$MAKE deb
build_s=$(($(date +%s) - start))
version=$(sed -n 's/^#define HP_VERSION "\(.*\)"$/\1/p' formats/base.h)
deb=build/deb/hotpatch_${version}_amd64.deb
[ -f "$deb" ] || fail "make deb made no $deb"
deb_size=$(stat -c %s "$deb")

# ----- install
installed=yes
dpkg -i "$deb" || fail "dpkg -i $deb"
[ "$(dpkg-query -W -f='${db:Status-Abbrev}' hotpatch)" = "ii " ] || fail "hotpatch is not installed after dpkg -i"
dpkg -L hotpatch > "$T/files"
installed_kib=$(dpkg-query -W -f='${Installed-Size}' hotpatch)
nfiles=$(while read -r f; do [ -d "$f" ] || echo "$f"; done < "$T/files" | wc -l)

# The tools, at their places, run; --version says the package's version.
for t in hpdiff hpbuild hpinspect hpsign hpverify hpapply hpstatus hpd; do
	case $t in hpd) p=/usr/sbin/$t ;; *) p=/usr/bin/$t ;; esac
	grep -qx "$p" "$T/files" || fail "$p is not in the package"
	v=$("$p" --version) || fail "$p --version failed"
	[ "$v" = "$t (hotpatch) $version" ] || fail "$p --version: '$v'"
	"$p" --help > "$T/help" || fail "$p --help failed"
	grep -q "^usage: $t" "$T/help" || fail "$p --help: $(head -n 1 "$T/help")"
done

# The man pages, when the package has some: man finds each.
pages=$(grep -E '^/usr/share/man/man[1-8]/[^/]+\.[1-8](\.gz)?$' "$T/files" || true)
if [ -n "$pages" ]; then
	command -v man > /dev/null || fail "the package has man pages and this machine no man"
	for p in $pages; do
		n=${p##*/}
		n=${n%.gz}
		s=${n##*.}
		w=$(man -w "$s" "${n%.*}" 2>&1) || fail "man -w $s ${n%.*}: $w"
		[ "$w" = "$p" ] || fail "man -w $s ${n%.*} finds $w, not $p"
	done
	if grep -q '/man1/hpapply\.1' "$T/files"; then
		[ "$(man -w hpapply)" = /usr/share/man/man1/hpapply.1.gz ] || fail "man -w hpapply: $(man -w hpapply 2>&1)"
	fi
	say "man pages: $(echo "$pages" | wc -l), each found by man -w"
else
	say "man pages: none in the package (man/ has none yet)"
fi

# The completion: where bash-completion looks, loaded on first use, working.
cdir=$(pkg-config --variable=completionsdir bash-completion 2>/dev/null || echo /usr/share/bash-completion/completions)
for t in hpdiff hpbuild hpinspect hpsign hpverify hpapply hpstatus hpd; do
	[ -r "$cdir/$t" ] || fail "no completion for $t in $cdir"
done
got=$(PATH=/usr/sbin:/usr/bin:/sbin:/bin bash -c '
	. /usr/share/bash-completion/bash_completion
	_completion_loader hpapply
	complete -p hpapply | grep -q -- "-F _hotpatch " || { echo "not loaded: $(complete -p hpapply 2>&1)"; exit; }
	COMP_WORDS=(hpapply --re) COMP_CWORD=1 COMP_LINE="hpapply --re" COMP_POINT=12
	_hotpatch hpapply --re hpapply
	echo "${COMPREPLY[*]}"' 2>&1)
[ "$got" = "--require --revert" ] || [ "$got" = "--revert --require" ] ||
	fail "bash completion of 'hpapply --re' from $cdir: $got"

# The trust store's folder: root's, writable by root only.
for d in /etc/hotpatch /etc/hotpatch/trusted.d; do
	[ -d "$d" ] || fail "$d is missing"
	[ "$(stat -c '%u %a' "$d")" = "0 755" ] || fail "$d: owner and mode $(stat -c '%u %a' "$d"), expected 0 755"
done
# The store and the log folder, made by postinst (left as they were if they were there).
[ $had_store = yes ] || [ "$(stat -c '%u %a' /var/lib/hotpatch)" = "0 700" ] ||
	fail "/var/lib/hotpatch: $(stat -c '%u %a' /var/lib/hotpatch 2>&1), expected 0 700"
[ $had_log = yes ] || [ "$(stat -c '%u %a' /var/log/hotpatch)" = "0 750" ] ||
	fail "/var/log/hotpatch: $(stat -c '%u %a' /var/log/hotpatch 2>&1), expected 0 750"

# The loader-time applier: a plugin in a private folder, needing libc alone.
so=/usr/lib/$(gcc -print-multiarch)/hotpatch/libhotpatch-load.so
[ -f "$so" ] || fail "$so: not installed"
[ "$(readelf -d "$so" | grep -c NEEDED)" = 1 ] && readelf -d "$so" | grep -q 'NEEDED.*libc.so.6' ||
	fail "$so: needs more than libc: $(readelf -d "$so" | grep NEEDED)"

# The unit: installed, starting the installed hpd, not enabled.
unit=/lib/systemd/system/hotpatch.service
grep -qx "$unit" "$T/files" || fail "$unit is not in the package"
[ "$(grep '^ExecStart=' "$unit")" = "ExecStart=/usr/sbin/hpd" ] || fail "$unit: $(grep '^ExecStart=' "$unit")"
doc=$(sed -n 's|^Documentation=file://||p' "$unit")
[ -f "$doc" ] || fail "$unit: Documentation=file://$doc, which is not there"
[ ! -e /etc/systemd/system/multi-user.target.wants/hotpatch.service ] || fail "the unit was enabled"

# The documents.
for f in README.md copyright formats/hpx-format.md differ/report-format.md docs/architecture.md docs/cli.md; do
	[ -f "/usr/share/doc/hotpatch/$f" ] || [ -f "/usr/share/doc/hotpatch/$f.gz" ] ||
		fail "/usr/share/doc/hotpatch/$f is missing"
done

# ----- the installed tools on the live-server sample
S=$SRC/samples/live-server
W=$T/work
mkdir "$W"
cd "$W"
F="-O2 -g -ffunction-sections -fdata-sections"
gcc $F -c "$S/server.c" -o server.o
gcc $F -c "$S/old/lookup.c" -o lookup-old.o
gcc $F -c "$S/new/lookup.c" -o lookup-new.o
gcc -Wl,--build-id -o server server.o lookup-old.o -lpthread

rc=0
/usr/bin/hpdiff lookup-old.o lookup-new.o > diff.txt || rc=$?
[ $rc = 0 ] && grep -q '^CHANGED  *func  *lookup ' diff.txt || fail "hpdiff: exit $rc: $(cat diff.txt)"
/usr/bin/hpbuild --target server lookup-old.o lookup-new.o -o fix.hpx || fail "hpbuild"
/usr/bin/hpinspect fix.hpx > inspect.txt || fail "hpinspect"
id=$(/usr/bin/hpinspect --json fix.hpx | python3 -c 'import json, sys; print(json.load(sys.stdin)["patch_id"])') ||
	fail "no patch id from hpinspect --json"
openssl genpkey -algorithm ed25519 -out team.pem 2> /dev/null
openssl pkey -in team.pem -pubout -out /etc/hotpatch/trusted.d/package-check.pem 2> /dev/null
chmod 0644 /etc/hotpatch/trusted.d/package-check.pem
/usr/bin/hpsign fix.hpx --key team.pem || fail "hpsign"
/usr/bin/hpverify fix.hpx --trust /etc/hotpatch/trusted.d > verify.txt || fail "hpverify: $(cat verify.txt)"

# start_server: a server in the background; its pid in $pid, its port in $port.
start_server()
{
	./server > "server.$1.log" &
	pid=$!
	PIDS="$PIDS $pid"
	for _ in $(seq 200); do grep -q listening "server.$1.log" && break; sleep 0.02; done
	port=$(sed -n 's/.*127\.0\.0\.1://p' "server.$1.log")
	[ -n "$port" ] || fail "the sample server did not start"
}
# ask PORT N: the server's answer to "GET N".
ask()
{
	python3 - "$1" "$2" <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
s.sendall(("GET %s\n" % sys.argv[2]).encode())
print(s.makefile().readline().strip())
PY
}
start_server 1
[ "$(ask $port 4)" = s3cr3t-admin-token ] || fail "the unpatched server does not leak: $(ask $port 4)"

# hpapply with its defaults: the trust store /etc/hotpatch/trusted.d, the
# audit log /var/log/hotpatch/audit.jsonl.
/usr/bin/hpapply --pid $pid fix.hpx || fail "hpapply --pid $pid"
[ "$(ask $port 4)" = "error: no such entry" ] || fail "patched, GET 4 answers $(ask $port 4)"
/usr/bin/hpstatus --pid $pid | grep -q "$(echo "$id" | cut -c1-16)" || fail "hpstatus --pid $pid: $(/usr/bin/hpstatus --pid $pid 2>&1)"
/usr/bin/hpapply --pid $pid --revert || fail "hpapply --revert"
[ "$(ask $port 4)" = s3cr3t-admin-token ] || fail "reverted, GET 4 answers $(ask $port 4)"
grep "\"pid\": $pid," /var/log/hotpatch/audit.jsonl | grep -q '"result": "reverted"' ||
	fail "no audit line for the revert in /var/log/hotpatch/audit.jsonl"

# The store (/var/lib/hotpatch, or a temporary one if the machine had a store
# before) and the agent: install applies to the running server, hpd --once
# patches a server started after, uninstall reverts both.
if [ $had_store = yes ]; then
	export HOTPATCH_STORE="$T/store"
	mkdir -m 0700 "$HOTPATCH_STORE"
	say "/var/lib/hotpatch was there before: the store checks use $HOTPATCH_STORE"
fi
store=${HOTPATCH_STORE:-/var/lib/hotpatch}
/usr/bin/hpapply --install fix.hpx || fail "hpapply --install"
grep -q "^$id " "$store/index" || fail "$store/index does not list $id"
[ "$(ask $port 4)" = "error: no such entry" ] || fail "installed, the running server is not patched"
first=$pid
start_server 2
rc=0
/usr/bin/hpstatus --store > store1.txt || rc=$?
[ $rc = 11 ] || fail "hpstatus --store with an unpatched server: exit $rc, expected 11: $(cat store1.txt)"
/usr/sbin/hpd --once || fail "hpd --once: exit $?"
[ "$(ask $port 4)" = "error: no such entry" ] || fail "hpd --once did not patch the new server"
/usr/bin/hpstatus --store > store2.txt || fail "hpstatus --store after hpd --once: $(cat store2.txt)"
/usr/bin/hpapply --uninstall "$id" || fail "hpapply --uninstall"
grep -q "^$id " "$store/index" && fail "$store/index still lists $id"
[ "$(ask $port 4)" = s3cr3t-admin-token ] || fail "uninstalled, the second server is still patched"
kill $first $pid
wait $first $pid 2> /dev/null || true
PIDS=
cd "$SRC"

# ----- purge
dpkg --purge hotpatch || fail "dpkg --purge hotpatch"
status=$(dpkg-query -W -f='${db:Status-Abbrev}' hotpatch 2>/dev/null || true)
case $status in '' | un*) ;; *) fail "after purge, hotpatch is '$status'" ;; esac
# Every path the package listed is gone, but folders other packages share.
while read -r f; do
	[ "$f" = /. ] && continue
	[ -e "$f" ] || [ -L "$f" ] || continue
	dpkg -S "$f" > /dev/null 2>&1 && continue # a folder another package has too
	fail "left after purge: $f"
done < "$T/files"
# Nothing else named after it, but the store and the logs (and /run/hotpatch
# when it was there before or the test made it: postrm keeps it on purpose).
left=$(find /etc /usr /lib /var /opt -xdev \( -path /var/lib/hotpatch -o -path /var/log/hotpatch \
	-o -path /usr/local \) -prune -o -name '*hotpatch*' -print 2> /dev/null | grep -v '^/var/lib/hotpatch$\|^/var/log/hotpatch$' || true)
[ -z "$left" ] || fail "left after purge: $left"
[ -d /var/lib/hotpatch ] || fail "the purge removed /var/lib/hotpatch"
[ -d /var/log/hotpatch ] || fail "the purge removed /var/log/hotpatch"
[ -e /etc/hotpatch ] && fail "the purge left /etc/hotpatch"
installed=no

say "ok: hotpatch $version: .deb $deb_size bytes ($((deb_size / 1024)) KiB), installed $installed_kib KiB in $nfiles files, built in $build_s s (make deb, lintian included)"
