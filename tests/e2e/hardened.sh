#!/bin/sh
# hpapply and hpstatus on services hardened the way systemd hardens them
# (issue 14). The live-server sample runs under tests/e2e/harden/launch, a
# systemd-like launcher, with MemoryDenyWriteExecute= (the kernel's MDWE, and
# the seccomp filter systemd uses in its place), SystemCallFilter=
# @system-service (EPERM, and kill), NoNewPrivileges=, ProtectSystem=strict
# with ReadWritePaths=, PrivatePIDs=, and all of them at once; and in a
# container (its own root, PID and mount namespaces), found by --exe and --all. Each hardening
# is first seen in effect (in /proc, and by a probe run under the same
# options); then the fix is applied (GET 4 stops leaking the admin token, GET 1
# still answers), shown by hpstatus, and reverted, the server alive throughout.
# Refused with exit 10, the process left exactly as it was (mappings and code)
# and alive: a seccomp filter that denies, or kills the process on, a system
# call hpapply would make in it (memfd_create, mmap), a 32-bit process (said
# as a skip where the kernel cannot run one), and a process the user may not
# ptrace (hpapply as nobody against a root service). A filter that kills on a
# call of the multi-function switch (sched_yield): patched all the same. Every case runs; the failures are listed at the end. Needs
# root (namespaces, mounts, setpriv) and libseccomp-dev, as and ld for i386.
set -eu
BIN=$(cd "${BIN:-bin}" && pwd)
E2E=$(cd "$(dirname "$0")" && pwd)
HERE=$E2E/harden
SAMPLE=$(cd "$E2E/../../samples/live-server" && pwd)
SNAP=$E2E/apply/snapshot.py
T=$(mktemp -d)
cleanup()
{
	# The launchers and the servers (a --private-pid server is PID 1 of its
	# namespace: only SIGKILL reaches it from here).
	[ -f "$T/pids" ] && for p in $(cat "$T/pids"); do kill -KILL "$p" 2>/dev/null || true; done
	rm -rf "$T"
}
trap cleanup EXIT
fail() { echo "FAIL: $CASE: $*"; exit 1; }
export HOTPATCH_AUDIT="$T/audit.jsonl"
export HOTPATCH_RUN_DIR="$T/run"
F="-O2 -g -ffunction-sections -fdata-sections"
cd "$T"

# --- the launcher, a probe, a 32-bit program, the server and its fix ----------------
gcc -std=c11 -O2 -Wall -o launch "$HERE/launch.c" -lseccomp
gcc -std=c11 -O2 -Wall -shared -fPIC -DLAUNCH_SHIM -o launch-shim.so "$HERE/launch.c" -lseccomp
# The probe, run under launch with a server's options: one line per check,
# the errno's name when the call fails.
cat > probe.c <<'EOF'
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>
static const char *res(long r) { return r < 0 ? strerrorname_np(errno) : "ok"; }
static void *idle(void *a) { return a; }
int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IONBF, 0);
	for (int i = 1; i < argc; i++) {
		const char *c = argv[i];
		if (!strcmp(c, "pid"))
			printf("pid %d\n", (int)getpid());
		else if (!strcmp(c, "mdwe")) /* PR_GET_MDWE */
			printf("mdwe %d\n", prctl(66, 0, 0, 0, 0));
		else if (!strcmp(c, "mprotect")) {
			void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
			printf("mprotect %s\n", res(mprotect(p, 4096, PROT_READ | PROT_EXEC)));
		} else if (!strcmp(c, "wx")) {
			void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
			printf("wx %s\n", res(p == MAP_FAILED ? -1 : 0));
		} else if (!strcmp(c, "mmap")) {
			void *p = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
			printf("mmap %s\n", res(p == MAP_FAILED ? -1 : 0));
		} else if (!strcmp(c, "settimeofday")) /* outside @system-service; a no-op */
			printf("settimeofday %s\n", res(syscall(SYS_settimeofday, NULL, NULL)));
		else if (!strcmp(c, "memfd_create"))
			printf("memfd_create %s\n", res(syscall(SYS_memfd_create, "probe", 0)));
		else if (!strcmp(c, "sched_yield"))
			printf("sched_yield %s\n", res(syscall(SYS_sched_yield)));
		else if (!strcmp(c, "join")) { /* where launch-shim.so loads --self-sandbox's filters */
			pthread_t t;
			pthread_create(&t, NULL, idle, NULL);
			printf("join %s\n", pthread_join(t, NULL) ? "failed" : "ok");
		} else if (!strcmp(c, "write") && i + 1 < argc) {
			char path[4096];
			snprintf(path, sizeof path, "%s/probe.%d", argv[++i], (int)getpid());
			int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
			printf("write %s %s\n", argv[i], res(fd));
			if (fd >= 0)
				unlink(path), close(fd);
		} else {
			fprintf(stderr, "probe: %s?\n", c);
			return 2;
		}
	}
	return 0;
}
EOF
gcc -O2 -Wall -o probe probe.c -lpthread
as --32 -o i386.o "$HERE/i386.S"
ld -m elf_i386 -o i386 i386.o
gcc $F -c "$SAMPLE/server.c" -o server.o
gcc $F -c "$SAMPLE/old/lookup.c" -o lookup-old.o
gcc $F -c "$SAMPLE/new/lookup.c" -o lookup-new.o
gcc -Wl,--build-id -o server server.o lookup-old.o -lpthread
"$BIN/hpbuild" --target server lookup-old.o lookup-new.o -o fix.hpx > /dev/null
# A fix of two functions (value, compute), switched together.
for v in 1 2; do gcc $F -DOFFSET=$v -c "$E2E/apply/work.c" -o work$v.o; done
gcc $F -c "$E2E/apply/target.c" -o target.o
gcc -Wl,--build-id -o target target.o work1.o -lpthread
"$BIN/hpbuild" --target target work1.o work2.o -o two.hpx > /dev/null
ID=$("$BIN/hpinspect" --json fix.hpx | python3 -c 'import json,sys; print(json.load(sys.stdin)["patch_id"])')
APPLY="$BIN/hpapply --insecure-unsigned --timeout 2000"
REVERT="$BIN/hpapply --timeout 2000"
TOKEN=s3cr3t-admin-token

expect() # expect CODE MESSAGE CMD...: run CMD, check its exit status and stderr
{
	code=$1 msg=$2; shift 2
	rc=0; "$@" 2> err > /dev/null || rc=$?
	[ $rc -eq "$code" ] || fail "$*: exit $rc, expected $code: $(cat err)"
	grep -q -- "$msg" err || fail "$*: message: $(cat err)"
}
ask() # ask N: send "GET N" to the server on $PORT, print the answer
{
	python3 - "$PORT" "$1" <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
s.sendall(b"GET " + sys.argv[2].encode() + b"\n")
print(s.makefile().readline().rstrip("\n"))
PY
}
answers() # answers N WANT: GET N must answer WANT
{
	got=$(ask "$1") || fail "GET $1: no answer (server dead?)"
	[ "$got" = "$2" ] || fail "GET $1 answered '$got', expected '$2'"
}
field() { awk -F'\t' -v n="$2:" '$1 == n { sub(/^[^\t]*\t/, ""); print }' "/proc/$1/status"; }
has() { case " $OPTS " in *" $1 "*) return 0;; esac; return 1; }
has_prefix() { case " $OPTS" in *" $1"*) return 0;; esac; return 1; }
alive() # alive: the server is running, not a zombie, and answers
{
	state=$(field "$PID" State) || true
	case "$state" in R* | S* | D*) ;; *) fail "the server is gone (state '$state')";; esac
	answers 1 bravo
}

start() # start LAUNCH-OPTIONS... [/PROG]: ./server (or /PROG) under launch; set PID (the server's, as seen here) and PORT
{
	prog=./server
	for a in "$@"; do case $a in /*) prog=$a;; esac; done
	[ "$prog" = ./server ] || set -- $(for a in "$@"; do [ "$a" = "$prog" ] || echo "$a"; done)
	OPTS="$*"
	rm -f out pid
	if has --private-pid; then set -- "$@" --pid-file="$T/pid"; fi
	./launch "$@" -- "$prog" > out 2>&1 &
	LPID=$!
	echo $LPID >> pids
	for i in $(seq 250); do grep -q listening out 2>/dev/null && break; sleep 0.02; done
	grep -q listening out || fail "the server did not start: $(cat out)"
	PORT=$(sed -n 's/.*127\.0\.0\.1://p' out)
	PID=$LPID
	if has --private-pid; then
		PID=$(cat pid)
		echo "$PID" >> pids
		[ "$(field "$PID" NSpid)" = "$(printf '%s\t1' "$PID")" ] ||
			fail "--private-pid: NSpid '$(field "$PID" NSpid)', not PID 1 of its own namespace"
	fi
	if has_prefix --self-sandbox; then # the filters come once main waits for its workers
		for i in $(seq 250); do [ "$(field "$PID" Seccomp)" = 2 ] && break; sleep 0.02; done
	fi
}
stop() { kill -KILL "$LPID" 2>/dev/null || true; [ "$PID" = "$LPID" ] || kill -KILL "$PID" 2>/dev/null || true; }

probe() # probe ARGS...: run the probe under launch with $OPTS; its output, then "exit N"
{
	rc=0
	# shellcheck disable=SC2086
	./launch $OPTS -- ./probe "$@" > probe.out 2> probe.err || rc=$?
	echo "exit $rc" >> probe.out
	cat probe.out
}
probed() # probed WANT ARGS...: the probe's output must contain the line WANT
{
	want=$1; shift
	probe "$@" > probed
	grep -qx -- "$want" probed || fail "probe $*: expected '$want', got: $(tr '\n' ';' < probed) $(cat probe.err)"
}

verify() # verify: each hardening in $OPTS is in effect, in the server and in a probe
{
	[ "$(field "$PID" NoNewPrivs)" = "$(has --no-new-privs && echo 1 || echo 0)" ] ||
		fail "NoNewPrivs: $(field "$PID" NoNewPrivs)"
	seccomp=0
	if has_prefix --mdwe-seccomp || has_prefix --system-service || has_prefix --deny=; then seccomp=2; fi
	[ "$(field "$PID" Seccomp)" = $seccomp ] || fail "Seccomp: $(field "$PID" Seccomp), expected $seccomp"
	probed "exit 0" pid
	if has --private-pid; then probed "pid 1" pid; fi
	if has --mdwe; then probed "mdwe 1" mdwe; else probed "mdwe 0" mdwe; fi
	if has_prefix --mdwe-seccomp; then # killed (SIGSYS) before MDWE would say EACCES
		probed "exit 159" mprotect
		probed "exit 159" wx
	elif has --mdwe; then
		probed "mprotect EACCES" mprotect
		probed "wx EACCES" wx
	else
		probed "mprotect ok" mprotect
	fi
	if has --system-service=kill; then
		probed "exit 159" settimeofday
	elif has --system-service; then
		probed "settimeofday EPERM" settimeofday
	fi
	if has --protect-system-strict; then
		probed "write / EROFS" write /
		probed "write $T ok" write "$T"
		probed "write /dev/shm ok" write /dev/shm
		mi=/proc/$PID/mountinfo
		awk '$5 == "/" { print $6 }' "$mi" | grep -q '^ro' || fail "/ is not read-only in the server"
		awk -v t="$T" '$5 == t { print $6 }' "$mi" | grep -q '^rw' || fail "$T is not writable in the server"
	fi
	if has --deny=memfd_create:kill; then probed "exit 159" memfd_create; fi
	if has --deny=sched_yield:kill; then probed "exit 159" sched_yield; fi
	if has --deny=mmap; then
		probed "mmap ok" mmap join mmap  # --self-sandbox: allowed until the first pthread_join
		probed "mmap EPERM" join mmap
	fi
}

works() # works LAUNCH-OPTIONS...: hardened, patched, reverted, alive throughout
{
	start "$@"
	verify
	answers 4 $TOKEN
	rc=0; $APPLY --pid "$PID" fix.hpx > applied 2> err || rc=$?
	[ $rc -eq 0 ] || fail "apply: exit $rc: $(cat err)"
	answers 4 "error: no such entry"
	answers 1 bravo
	"$BIN/hpstatus" --pid "$PID" > status 2> err || fail "hpstatus: exit $?: $(cat err)"
	grep -q '1 patch applied' status && grep -q "patch $ID" status && grep -q 'lookup at' status ||
		fail "hpstatus: $(cat status)"
	rc=0; $REVERT --pid "$PID" --revert > reverted 2> err || rc=$?
	[ $rc -eq 0 ] || fail "revert: exit $rc: $(cat err)"
	answers 4 $TOKEN
	"$BIN/hpstatus" --pid "$PID" | grep -q 'no patch applied' || fail "hpstatus after the revert"
	alive
	stop
}

refused() # refused MESSAGE LAUNCH-OPTIONS...: exit 10 saying MESSAGE, the process as it was
{
	msg=$1; shift
	start "$@"
	verify
	python3 "$SNAP" "$PID" > before
	expect 10 "$msg" $APPLY --pid "$PID" fix.hpx
	python3 "$SNAP" "$PID" > after
	cmp -s before after || { diff before after; fail "the process changed"; }
	alive
	answers 4 $TOKEN
	"$BIN/hpstatus" --pid "$PID" | grep -q 'no patch applied' || fail "hpstatus after the refusal"
	stop
}

FAILED="" SKIPPED=""
run() # run NAME FUNCTION ARGS...: one case, in a subshell; a failure is said and counted
{
	# Not "if (...)": set -e would be off inside.
	set +e
	(set -e; CASE=$1; shift; "$@")
	rc=$?
	set -e
	if [ $rc -eq 0 ]; then echo "ok   $1"; elif [ $rc -eq 77 ]; then SKIPPED="$SKIPPED $1;"; else FAILED="$FAILED
  $1"; fi
}

# --- hardened services that are patched ------------------------------------------
run "--mdwe" works --mdwe
run "--mdwe-seccomp" works --mdwe-seccomp
run "--system-service" works --system-service
run "--system-service=kill" works --system-service=kill
run "--no-new-privs" works --no-new-privs
run "--protect-system-strict" works --protect-system-strict --rw="$T"
run "--private-pid" works --private-pid
run "all at once" works --private-pid --protect-system-strict --rw="$T" --no-new-privs \
	--mdwe --mdwe-seccomp --system-service=kill

# --- a seccomp filter that denies what hpapply needs: refused, untouched ----------
run "--deny=memfd_create:kill" refused memfd_create --deny=memfd_create:kill
run "--deny=mmap" refused mmap --self-sandbox --deny=mmap

# --- a filter that kills on a call of the switch itself (sched_yield, made by the
# threads parked while several entries switch): patched all the same, the entries
# written by hpapply with every thread stopped; the process must not die ----------
two()
{
	OPTS="--deny=sched_yield:kill"
	./launch $OPTS -- ./target 4 > out 2>&1 &
	PID=$! LPID=$!
	echo $PID >> pids
	for i in $(seq 100); do grep -q '^value' out 2>/dev/null && break; sleep 0.02; done
	verify
	[ "$(last_value)" = 22 ] || fail "before: value $(last_value)"
	rc=0; $APPLY --pid "$PID" two.hpx > applied 2> err || rc=$?
	[ $rc -eq 0 ] || fail "apply: exit $rc: $(cat err)"
	sleep 0.1
	[ "$(last_value)" = 24 ] || fail "after the apply: value $(last_value)"
	rc=0; $REVERT --pid "$PID" --revert > reverted 2> err || rc=$?
	[ $rc -eq 0 ] || fail "revert: exit $rc: $(cat err)"
	sleep 0.1
	[ "$(last_value)" = 22 ] || fail "after the revert: value $(last_value)"
	case "$(field "$PID" State)" in R* | S*) ;; *) fail "the target is gone";; esac
	stop
}
last_value() { grep '^value' out | tail -n 1 | cut -d' ' -f2; }
run "--deny=sched_yield:kill, two functions" two

# --- a container: its own root (a copy of the server and its libraries), PID and
# mount namespaces. hpapply --exe names the host's copy of the build and --all
# the patch's build-id: both find the container's process by build-id; the
# image is read through /proc/PID/map_files; both pids are named ---------------
container()
{
	R=$T/rootfs
	mkdir -p "$R/srv" "$R/tmp" "$R/proc"
	cp server "$R/srv/server"
	for lib in $(ldd server | awk '$(NF-1) ~ /^\// { print $(NF-1) } $1 ~ /^\// { print $1 }'); do
		mkdir -p "$R$(dirname "$lib")"
		cp -L "$lib" "$R$lib"
	done
	start --private-pid --root="$R" --no-new-privs --system-service /srv/server
	# The host sees the container's path: no host path names its files.
	[ "$(readlink /proc/$PID/exe)" = /srv/server ] || fail "exe: $(readlink /proc/$PID/exe)"
	[ ! -e /srv/server ] || fail "/srv/server exists on the host: the case would prove nothing"
	answers 4 $TOKEN
	rc=0; $APPLY --exe "$T/server" fix.hpx > applied 2> err || rc=$?
	[ $rc -eq 0 ] || fail "apply --exe: exit $rc: $(cat err)"
	grep -q "process $PID (pid 1 in its namespace): applied" applied || fail "apply: $(cat applied)"
	answers 4 "error: no such entry"
	"$BIN/hpstatus" --pid "$PID" > status || fail "hpstatus: exit $?"
	grep -q "process $PID (pid 1 in its namespace): 1 patch applied" status || fail "hpstatus: $(cat status)"
	"$BIN/hpstatus" --json --pid "$PID" | grep -q '"ns_pid": 1,' || fail "hpstatus --json has no ns_pid"
	grep '"phase": "result"' "$HOTPATCH_AUDIT" | tail -n 1 | grep -q "\"pid\": $PID, \"ns_pid\": 1," ||
		fail "the audit line has no ns_pid: $(tail -n 1 "$HOTPATCH_AUDIT")"
	rc=0; $REVERT --all --revert "$ID" > reverted 2> err || rc=$?
	[ $rc -eq 0 ] || fail "revert --all: exit $rc: $(cat err)"
	grep -q "process $PID (pid 1 in its namespace): reverted" reverted || fail "revert: $(cat reverted)"
	answers 4 $TOKEN
	rc=0; $APPLY --all fix.hpx > applied 2> err || rc=$?
	[ $rc -eq 0 ] || fail "apply --all: exit $rc: $(cat err)"
	grep -q "process $PID (pid 1 in its namespace): applied" applied || fail "apply --all: $(cat applied)"
	answers 4 "error: no such entry"
	$REVERT -q --pid "$PID" --revert || fail "revert"
	answers 4 $TOKEN
	stop
}
run "container: own root, PID and mount namespaces" container

# --- a 32-bit process ----------------------------------------------------------------
i386()
{
	# Started by a plain execve (a shell would run a binary it cannot exec as a script).
	python3 -c 'import os, sys; os.execv(sys.argv[1], sys.argv[1:])' ./i386 > out 2>&1 &
	PID=$!
	LPID=$PID
	echo $PID >> pids
	for i in $(seq 100); do grep -q ready out 2>/dev/null && break; sleep 0.02; done
	if ! grep -q ready out; then
		if grep -q 'Exec format error' out; then
			# Not a pass: said as a skip, and counted apart.
			echo "SKIP 32-bit process: this kernel runs no 32-bit programs (execve: Exec format error)"
			exit 77
		fi
		fail "the 32-bit program did not start: $(cat out)"
	fi
	python3 "$SNAP" "$PID" > before
	expect 10 '32-bit' $APPLY --pid "$PID" fix.hpx
	python3 "$SNAP" "$PID" > after
	cmp -s before after || { diff before after; fail "the process changed"; }
	case "$(field "$PID" State)" in S*) ;; *) fail "the 32-bit process is gone";; esac
	stop
}
run "32-bit process" i386

# --- ptrace not permitted: hpapply as nobody against a root service ----------------
nobody()
{
	start
	chmod 711 "$T"
	mkdir nobody
	cp fix.hpx nobody/
	chown -R 65534:65534 nobody
	python3 "$SNAP" "$PID" > before
	expect 10 "process $PID.*trace" env HOTPATCH_RUN_DIR="$T/nobody/run" HOTPATCH_AUDIT="$T/nobody/audit.jsonl" \
		setpriv --reuid=65534 --regid=65534 --clear-groups $APPLY --pid "$PID" "$T/nobody/fix.hpx"
	[ -s err ] || fail "no message"
	python3 "$SNAP" "$PID" > after
	cmp -s before after || { diff before after; fail "the process changed"; }
	alive
	answers 4 $TOKEN
	stop
}
run "ptrace not permitted (nobody)" nobody

if [ -n "$FAILED" ]; then
	echo "FAIL hardened:$FAILED"
	exit 1
fi
echo "ok hardened${SKIPPED:+ (skipped:$SKIPPED)}"
