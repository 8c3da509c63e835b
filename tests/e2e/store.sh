#!/bin/sh
# The machine stays patched: the store (hpapply --install, --uninstall), the
# agent (hpd) and the compliance view (hpstatus --store), on real processes.
# A store others can write is refused; install patches the servers running and
# refuses a second install, an unbound patch and an older sequence; with hpd
# running, new servers, a restarted one and one running as nobody are patched
# without anyone asking, and a library patch reaches a program that dlopens
# the library after the install; without the kernel's process events, /proc
# scans find new ones; hpd killed with SIGKILL during its start-up sweep leaves every
# process with a record that agrees with its code, and once restarted
# patches the rest; a tampered stored container is refused by hpd, dropped
# from the store's verified list (what hotpatch-load trusts: each installed
# container's SHA-256, 0644) and reported by hpstatus --store (exit 4); a
# process hpd cannot patch (its seccomp filter kills on memfd_create) is
# reported with hpd's reason (exit 11); uninstall, with the agent running,
# reverts everywhere, for good, and empties the store.
set -eu
BIN=$(cd "${BIN:-bin}" && pwd)
E2E=$(cd "$(dirname "$0")" && pwd)
SAMPLE=$(cd "$E2E/../../samples/live-server" && pwd)
T=$(mktemp -d)
PIDS=""
HPD=""
cleanup()
{
	[ -n "$HPD" ] && kill -KILL "$HPD" 2>/dev/null
	for p in $PIDS; do kill -KILL "$p" 2>/dev/null || true; done
	rm -rf "$T"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; [ -f "$T/hpd.log" ] && sed 's/^/  hpd.log: /' "$T/hpd.log" | tail -n 20; exit 1; }
export HOTPATCH_AUDIT="$T/audit.jsonl"
export HOTPATCH_RUN_DIR="$T/run"
export HOTPATCH_STORE="$T/store"
F="-O2 -g -ffunction-sections -fdata-sections"
cd "$T"

# --- keys, the server and its fix, a library and a program that dlopens it ------
mkdir -m 700 keys trusted
openssl genpkey -algorithm ed25519 -out keys/team.pem 2> /dev/null
openssl pkey -in keys/team.pem -pubout -out trusted/team.pem 2> /dev/null
TRUST="--trust $T/trusted"
gcc $F -c "$SAMPLE/server.c" -o server.o
gcc $F -c "$SAMPLE/old/lookup.c" -o lookup-old.o
gcc $F -c "$SAMPLE/new/lookup.c" -o lookup-new.o
gcc -Wl,--build-id -o server server.o lookup-old.o -lpthread
"$BIN/hpbuild" -q --target server --sequence 2 lookup-old.o lookup-new.o -o fix.hpx
# An older fix of the same binary: other code (-O1), sequence 1.
gcc -O1 -g -ffunction-sections -fdata-sections -c "$SAMPLE/new/lookup.c" -o lookup-new-o1.o
"$BIN/hpbuild" -q --target server --sequence 1 lookup-old.o lookup-new-o1.o -o old-seq.hpx
"$BIN/hpbuild" -q lookup-old.o lookup-new.o -o unbound.hpx
for v in 1 2; do gcc $F -fPIC -DOFFSET=$v -c "$E2E/apply/work.c" -o pic$v.o; done
gcc -shared -Wl,--build-id -o libwork.so pic1.o
"$BIN/hpbuild" -q --target libwork.so pic1.o pic2.o -o lib.hpx
for f in fix old-seq unbound lib; do "$BIN/hpsign" $f.hpx --key keys/team.pem; done
ID=$("$BIN/hpinspect" --json fix.hpx | python3 -c 'import json,sys; print(json.load(sys.stdin)["patch_id"])')
LIBID=$("$BIN/hpinspect" --json lib.hpx | python3 -c 'import json,sys; print(json.load(sys.stdin)["patch_id"])')
cat > late.c <<'C'
/* Prints "value N" (value(10)) every 10 ms once it has dlopen()ed ./libwork.so,
 * which it does when the file "go" appears. */
#include <dlfcn.h>
#include <stdio.h>
#include <unistd.h>
/* Not on the stack: a word there that points into value() (this pointer)
 * would keep hpapply's stack check from ever finding a safe moment. */
static int (*value)(int);
int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("waiting\n");
	while (access("go", F_OK) != 0)
		usleep(10000);
	void *h = dlopen("./libwork.so", RTLD_NOW);
	value = h ? (int (*)(int))dlsym(h, "value") : NULL;
	if (!value)
		return 1;
	for (;;) {
		printf("value %d\n", value(10));
		usleep(10000);
	}
}
C
gcc -O2 -o late late.c -ldl
gcc -std=c11 -O2 -o launch "$E2E/harden/launch.c" -lseccomp

start() # start CMD...: a server; sets PID and PORT (output in out.PID)
{
	"$@" > out.tmp 2>&1 &
	PID=$!
	PIDS="$PIDS $PID"
	for i in $(seq 250); do grep -q listening out.tmp 2>/dev/null && break; sleep 0.02; done
	grep -q listening out.tmp || fail "a server did not start: $(cat out.tmp)"
	PORT=$(sed -n 's/.*127\.0\.0\.1://p' out.tmp)
	mv out.tmp "out.$PID"
	echo "$PORT" > "port.$PID"
}
ask() # ask PID N: the answer of server PID to "GET N"
{
	python3 - "$(cat "port.$1")" "$2" <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
s.sendall(b"GET " + sys.argv[2].encode() + b"\n")
print(s.makefile().readline().rstrip("\n"))
PY
}
patched() { [ "$(ask "$1" 4)" = "error: no such entry" ]; }
unpatched() { [ "$(ask "$1" 4)" = "s3cr3t-admin-token" ]; }
expect() # expect CODE MESSAGE CMD...
{
	code=$1 msg=$2; shift 2
	rc=0; "$@" > got 2> err || rc=$?
	[ $rc -eq "$code" ] || fail "$*: exit $rc, expected $code: $(cat err got)"
	grep -q -- "$msg" err got || fail "$*: message: $(cat err got)"
}
wait_for() # wait_for SECONDS CMD...: until CMD succeeds
{
	n=$(($1 * 50)); shift
	i=0
	while ! "$@" 2> /dev/null; do
		i=$((i + 1))
		[ $i -ge $n ] && return 1
		sleep 0.02
	done
}
status() { "$BIN/hpstatus" --store $TRUST "$@"; }

# --- the store's own safety --------------------------------------------------------
mkdir -m 777 open-store
expect 4 'writable by others' "$BIN/hpapply" $TRUST --store "$T/open-store" --install fix.hpx

# --- install: applied to what runs, kept for what starts later -----------------
start ./server; A=$PID
expect 0 'installed in' "$BIN/hpapply" $TRUST --install fix.hpx
patched $A || fail "install did not patch the running server"
expect 3 'already installed' "$BIN/hpapply" $TRUST --install fix.hpx
expect 2 'not bound to a build-id' "$BIN/hpapply" $TRUST --install unbound.hpx
expect 9 "sequence 1, below 2" "$BIN/hpapply" $TRUST --install old-seq.hpx
expect 1 'signed patches only' "$BIN/hpapply" --insecure-unsigned --install fix.hpx
expect 0 'installed in' "$BIN/hpapply" $TRUST --install lib.hpx
grep -q "^$ID 2 " store/index || fail "the index does not list the patch: $(cat store/index)"
# The verified list (what hotpatch-load trusts): the installed bytes' SHA-256, 0644.
SHA=$(sha256sum "store/$ID.hpx" | cut -d' ' -f1)
grep -q "^$SHA $ID\$" store/verified || fail "the verified list does not list the patch: $(cat store/verified)"
[ "$(stat -c %a store/verified store/index "store/$ID.hpx" | sort -u)" = 644 ] || fail "the store's files are not 0644: $(ls -l store)"
# Without the agent, a new server is not patched: the compliance view says so.
start ./server; B=$PID
unpatched $B || fail "a server started after the install is patched without the agent?"
expect 11 "process $B: NOT PATCHED" status
status --json > status.json || true
python3 - status.json "$B" <<'PY' || fail "hpstatus --store --json: $(cat status.json)"
import json, sys
s = json.load(open(sys.argv[1]))
assert s["format"] == "hpstatus-store" and s["version"] == 1 and s["compliant"] is False
procs = {p["pid"]: p for x in s["patches"] for p in x["processes"]}
assert procs[int(sys.argv[2])]["patched"] is False
PY

# --- the agent: the start-up sweep, then every new process -------------------------
"$BIN/hpd" $TRUST --sweep-ms 200 -v > hpd.log 2>&1 &
HPD=$!
wait_for 5 patched $B || fail "hpd's start-up sweep did not patch server $B"
for i in 1 2 3; do
	start ./server
	wait_for 5 patched $PID || fail "hpd did not patch new server $PID"
done
# A restarted service: the same binary, a new process.
kill -KILL $A
start ./server; A=$PID
wait_for 5 patched $A || fail "hpd did not patch the restarted server"
# A service that is not root's (User= in its unit): its /proc/PID/mem is its
# user's, which hpd opens with the capabilities it keeps.
chmod 755 "$T"
start setpriv --reuid=65534 --regid=65534 --clear-groups ./server; N=$PID
wait_for 5 patched $N || fail "hpd did not patch a server running as nobody: $(tail -n 3 hpd.log)"
# A library mapped after the install, by dlopen.
./late > out.late 2>&1 &
L=$!
PIDS="$PIDS $L"
wait_for 5 grep -q waiting out.late || fail "late did not start"
touch go
last_value() { grep '^value' out.late | tail -n 1 | cut -d' ' -f2; }
value_is() { [ "$(last_value)" = "$1" ]; }
wait_for 5 grep -q '^value' out.late || fail "late did not dlopen: $(cat out.late)"
wait_for 5 value_is 12 || fail "hpd did not patch the dlopened library: value $(last_value)"
expect 0 'compliant' status

# --- hpd killed during its sweep: nothing half-done; restarted, it catches up ------
kill -KILL $HPD; HPD=""
NEW=""
for i in 1 2 3 4 5 6; do start ./server; NEW="$NEW $PID"; done
"$BIN/hpd" $TRUST --sweep-ms 200 > hpd2.log 2>&1 &
HPD=$!
sleep 0.03
kill -KILL $HPD; HPD=""
for p in $NEW; do
	"$BIN/hpstatus" --pid $p > /dev/null 2> err || fail "after hpd was killed: hpstatus --pid $p: $(cat err)"
	ans=$(ask $p 4)
	if "$BIN/hpstatus" --pid $p | grep -q "patch $ID"; then want="error: no such entry"; else want=s3cr3t-admin-token; fi
	[ "$ans" = "$want" ] || fail "server $p answers '$ans' while its record says otherwise"
done
"$BIN/hpd" $TRUST --sweep-ms 200 -v >> hpd.log 2>&1 &
HPD=$!
for p in $NEW; do wait_for 5 patched $p || fail "the restarted hpd did not patch server $p"; done

# --- without the kernel's process events: new processes found by /proc scans -------
kill -KILL $HPD
"$BIN/hpd" $TRUST --no-events --sweep-ms 60000 -v > hpd3.log 2>&1 &
HPD=$!
wait_for 5 grep -q "stored patches loaded" hpd3.log || fail "hpd --no-events did not start: $(cat hpd3.log)"
start ./server
wait_for 5 patched $PID || fail "hpd --no-events did not patch new server $PID"
kill -KILL $HPD
"$BIN/hpd" $TRUST --sweep-ms 200 -v >> hpd.log 2>&1 &
HPD=$!

# --- a process hpd cannot patch: its reason in the compliance view -----------------
start ./launch --deny=memfd_create:kill -- ./server; C=$PID
wait_for 10 grep -q "process $C: patch server not applied" hpd.log || fail "hpd did not say why $C is not patched"
expect 11 "process $C: NOT PATCHED: hpd could not apply it.*memfd_create" status
unpatched $C || fail "the confined server was changed"
kill -KILL $C

# --- a tampered stored container ------------------------------------------------------
cp "store/$ID.hpx" saved.hpx
python3 - "store/$ID.hpx" <<'PY'
import sys
b = bytearray(open(sys.argv[1], "rb").read())
b[100] ^= 1
open(sys.argv[1], "wb").write(bytes(b))
PY
expect 4 'DOES NOT VERIFY' status
kill -HUP $HPD
wait_for 5 grep -q "stored patch $ID is refused" hpd.log || fail "hpd did not refuse the tampered patch"
not_listed() { ! grep -q " $ID\$" store/verified; }
wait_for 5 not_listed || fail "hpd kept the tampered patch in the verified list"
cp saved.hpx "store/$ID.hpx"
kill -HUP $HPD
wait_for 5 grep -q "^$SHA $ID\$" store/verified || fail "hpd did not list the restored patch as verified"

# --- uninstall, with hpd running: reverted everywhere, gone from the store, and
# not applied again by the agent -----------------------------------------------------
expect 0 "uninstalled" "$BIN/hpapply" --uninstall "$ID"
for p in $B $A $NEW; do unpatched $p || fail "uninstall did not revert server $p"; done
sleep 0.6 # three of hpd's sweeps
for p in $B $A $NEW; do unpatched $p || fail "hpd applied the uninstalled patch again to $p"; done
grep -q "^$ID " store/index && fail "the index still lists the patch"
grep -q " $ID\$" store/verified && fail "the verified list still lists the patch"
[ -e "store/$ID.hpx" ] && fail "the container is still in the store"
expect 0 "uninstalled" "$BIN/hpapply" --uninstall "$LIBID"
wait_for 2 value_is 11 || fail "the library patch was not reverted: value $(last_value)"
expect 0 'compliant' status
echo "ok store"
