#!/bin/bash
# hostile.sh: the applier against a hostile machine. Each check prints PASS or
# FAIL and why; exit 1 if any fails.
#
#   forged record   a process that is not patched maps a memfd named
#                   "hotpatch-state" filled with garbage or with a plausible
#                   header and absurd contents (helper forge): hpstatus --pid,
#                   --all and --all --json must not crash (exit >= 128) nor list
#                   it as patched, hpapply --all --revert ID must not crash, and
#                   the process must be left exactly as it was
#   lock symlink    a symlink planted at each plausible lock path (LOCK_PATHS),
#                   pointing at a file in /tmp: apply and revert must neither
#                   create that file nor write to it
#   pid reuse       hpapply is held on entry to a chosen system call (strace
#                   delay_enter, and strace stopped meanwhile) once it has
#                   inspected the target; the target is killed and an unrelated
#                   program started under the same pid (clone3 with set_tid);
#                   when hpapply goes on, that program must come to no harm.
#                   Held at its first attach, between two system calls it runs
#                   in the target, at a write with nothing attached, inside the
#                   stop window (where the kernel keeps the pid: not applicable),
#                   and a revert at its first attach
#   foreign tracer  strace attached to one thread: apply and revert must refuse
#                   and leave the code and mappings exactly as they were
#   main exited     the main thread called pthread_exit, the others run: apply
#                   and revert must work
#
#   BIN=build/bin tests/faults/hostile.sh
set -u
BIN=$(cd "${BIN:-bin}" && pwd) || exit 1
FAULTS_SRC=$(cd "$(dirname "$0")" && pwd)
. "$FAULTS_SRC/lib.sh"
SNAPSHOT=$FAULTS_SRC/../e2e/apply/snapshot.py
command -v strace > /dev/null || {
	echo "hostile.sh: strace is needed (apt-get install strace)" >&2
	exit 1
}
W=$(mktemp -d "${TMPDIR:-/tmp}/hpfaults-hostile.XXXXXX")
LANE_DIR=$W/targets
mkdir -p "$LANE_DIR"
OTHER_PIDS=() # "PID START" of every other process this script started
PLANTED=()    # symlinks and directories to remove
cleanup() {
	local x
	target_kill
	for x in "${OTHER_PIDS[@]}"; do kill_if_ours $x; done
	for x in "${PLANTED[@]}"; do
		if [ -L "$x" ] || [ -f "$x" ]; then rm -f "$x"; else rmdir "$x" 2> /dev/null; fi
	done
	cat "$LANE_DIR/pids" 2> /dev/null | while read -r p start; do
		kill_if_ours "$p" "$start"
		rm -f "/run/lock/hotpatch-$p.lock" "/tmp/hotpatch-$p.lock"
	done
	[ "${KEEP:-}" = 1 ] && echo "hostile.sh: work directory kept: $W" || rm -rf "$W"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

B=$W/build
faults_build "$B" || exit 1
H=$B/helper
export HOTPATCH_AUDIT=$W/audit.jsonl
APPLY=("$BIN/hpapply" -q --trust "$B/trust" --timeout 3000)
PASSED=0 FAILED=0
verdict() { # OK NAME DETAIL
	if [ "$1" = 0 ]; then
		echo "PASS $2: $3"
		PASSED=$((PASSED + 1))
	else
		echo "FAIL $2: $3"
		FAILED=$((FAILED + 1))
	fi
}

run() { # OUT CMD...: run CMD bounded (10 s), output to OUT and OUT.err; RC
	local out=$1
	shift
	"$H" run -t 10 -- "$@" > "$out" 2> "$out.err"
	RC=$?
}

first_err() { # FILE: its first line that is not the --insecure-unsigned warning
	local l
	ERR=
	while IFS= read -r l; do
		ERR=$l
		return
	done 2> /dev/null < "$1"
}

start_other() { # OUT CMD...: a process in the background, recorded for the cleanup
	local out=$1
	shift
	"$@" > "$out" 2>&1 &
	OPID=$!
	start_time "$OPID"
	OTHER_PIDS+=("$OPID $STIME")
}

stop_other() { # PID
	local x
	for x in "${OTHER_PIDS[@]}"; do
		[ "${x% *}" = "$1" ] && kill_if_ours $x
	done
	wait "$1" 2> /dev/null
}

# ----- forged state records ------------------------------------------------------

FORGED_ID=00112233445566778899aabbccddeeff
for mode in garbage huge huge2 fields odd plausible; do
	start_other "$W/forge.out" "$H" forge "$mode"
	FP=$OPID
	for ((i = 0; i < 200; i++)); do
		line=
		read -r line 2> /dev/null < "$W/forge.out"
		[ "${line%% *}" = ready ] && break
		nap 0.02
	done
	python3 "$SNAPSHOT" "$FP" > "$W/forge.before"
	bad=0 detail=""
	run "$W/st" "$BIN/hpstatus" --pid "$FP"
	detail="hpstatus --pid exit $RC"
	[ "$RC" -ge 124 ] && bad=1 detail="$detail (crashed or hung)"
	if [ "$RC" = 0 ] && ! grep -q "^process $FP: no patch applied" "$W/st"; then
		bad=1 detail="$detail, lists it: $(head -1 "$W/st")"
	fi
	run "$W/all" "$BIN/hpstatus" --all
	detail="$detail; --all exit $RC"
	[ "$RC" -ge 124 ] && bad=1 detail="$detail (crashed or hung)"
	grep -q "^process $FP: [1-9]" "$W/all" && bad=1 detail="$detail, lists it"
	run "$W/allj" "$BIN/hpstatus" --all --json
	detail="$detail; --all --json exit $RC"
	[ "$RC" -ge 124 ] && bad=1 detail="$detail (crashed or hung)"
	grep -q "\"pid\": $FP," "$W/allj" && bad=1 detail="$detail, lists it"
	run "$W/rev" "${APPLY[@]}" --all --revert "$FORGED_ID"
	detail="$detail; hpapply --all --revert exit $RC"
	[ "$RC" -ge 124 ] && bad=1 detail="$detail (crashed or hung)"
	if ! kill -0 "$FP" 2> /dev/null; then
		bad=1 detail="$detail; the forger died"
	else
		held_threads "$FP"
		[ "$HELD" = 0 ] || bad=1 detail="$detail; threads left stopped:$HELD_WHO"
		python3 "$SNAPSHOT" "$FP" > "$W/forge.after"
		cmp -s "$W/forge.before" "$W/forge.after" || bad=1 detail="$detail; its code or mappings changed"
	fi
	verdict $bad "forged record ($mode)" "$detail"
	stop_other "$FP"
done

# ----- a symlink planted at the lock path -------------------------------------------

# Where a lock of process %d is, or may be: today's applier, its fallback, and
# the root-owned directory the new one is to use. Adjust as the applier changes.
LOCK_PATHS=${LOCK_PATHS:-"/run/lock/hotpatch-%d.lock /tmp/hotpatch-%d.lock /run/hotpatch/%d.lock /run/hotpatch/hotpatch-%d.lock /run/hotpatch/%d"}
VICTIM=/tmp/victim-file.$$
target_start "$B/target" --flat 1 || exit 1
for pattern in $LOCK_PATHS; do
	printf -v lock "$pattern" "$TPID"
	dir=${lock%/*}
	if [ ! -d "$dir" ]; then
		mkdir -p "$dir" && PLANTED+=("$dir")
	fi
	for exists in no yes; do
		rm -f "$VICTIM" "$lock"
		[ "$exists" = yes ] && printf 'precious\n' > "$VICTIM" && touch -d '2001-01-01' "$VICTIM"
		before=
		[ "$exists" = yes ] && before=$(stat -c '%s %Y %i' "$VICTIM")
		ln -s "$VICTIM" "$lock"
		PLANTED+=("$lock")
		run "$W/a" "${APPLY[@]}" --pid "$TPID" "$B/fix.signed.hpx"
		arc=$RC
		first_err "$W/a.err"
		aerr=$ERR
		run "$W/r" "${APPLY[@]}" --pid "$TPID" --revert
		rrc=$RC
		bad=0
		if [ "$exists" = no ]; then
			[ -e "$VICTIM" ] && bad=1
			what="absent target file $([ "$bad" = 1 ] && echo "CREATED" || echo "not created")"
		else
			after=$(stat -c '%s %Y %i' "$VICTIM")
			[ "$before" = "$after" ] && [ "$(cat "$VICTIM")" = precious ] || bad=1
			what="existing target file $([ "$bad" = 1 ] && echo "WRITTEN ($before -> $after)" || echo "untouched")"
		fi
		verdict $bad "lock symlink $lock" "$what; apply exit $arc${aerr:+ ($aerr)}, revert exit $rrc"
		rm -f "$lock" "$VICTIM"
		# A revert that failed leaves the patch: take it off for the next round.
		target_query
		[ "$VER" = new ] && run "$W/r2" "${APPLY[@]}" --pid "$TPID" --revert
	done
done
target_kill
for ((i = ${#PLANTED[@]} - 1; i >= 0; i--)); do
	x=${PLANTED[i]}
	[ -d "$x" ] && ! [ -L "$x" ] && rmdir "$x" 2> /dev/null
done
PLANTED=()

# ----- pid reuse -------------------------------------------------------------------

# Where to hold hpapply, from an uninterrupted apply's ptrace and pwrite64 calls:
#   WINDOW   the ptrace call with every thread of the target stopped: after the
#            run of PTRACE_SEIZE (one per thread) and as many PTRACE_INTERRUPT
#   SECOND   the second PTRACE_SEIZE: between two system calls run in the target
#   FREE_WR  the first pwrite64 while no thread is attached (the patch's code)
target_start "$B/target" --flat 1 || exit 1
"$H" run -t 10 -- strace -f -qq -o "$W/window.log" -e trace=ptrace,pwrite64 "${APPLY[@]}" \
	--pid "$TPID" "$B/fix.signed.hpx"
read -r WINDOW SECOND FREE_WR < <(awk '
/ptrace\(/ {
	n++
	if ($0 ~ /PTRACE_SEIZE/) { seizes++; if (seizes == 2) second = n; attached++; if (!run) first = n; run++ }
	else { if (run > 1 && !window) window = first + 2 * run; run = 0 }
	if ($0 ~ /PTRACE_DETACH/) attached--
}
/pwrite64\(/ { w++; if (attached == 0 && !free) free = w }
END { print window + 0, second + 0, free + 0 }' "$W/window.log")
target_kill

# reuse NAME OP SYSCALL N: hold hpapply OP on entry to its Nth SYSCALL, kill the
# target, start an unrelated process under its pid, let hpapply go on, and
# check that process. While hpapply holds the target's main thread attached the
# pid cannot be reused (the kernel keeps the zombie for the tracer): then the
# check passes as not applicable.
reuse() {
	local name=$1 op=$2 sc=$3 n=$4 nr
	case $sc in ptrace) nr=101 ;; pwrite64) nr=18 ;; esac
	if [ "$n" = 0 ]; then
		verdict 1 "pid reuse ($name)" "no such call in $W/window.log: not tested"
		return
	fi
	target_start "$B/target" --flat 1 || return 1
	local P=$TPID PSTART=$TSTART
	if [ "$op" = revert ]; then
		run "$W/pre" "${APPLY[@]}" --pid "$P" "$B/fix.signed.hpx"
		[ "$RC" = 0 ] || { verdict 1 "pid reuse ($name)" "could not apply first: $(cat "$W/pre.err")"; target_kill; return; }
	fi
	local args=(--pid "$P" "$B/fix.signed.hpx")
	[ "$op" = revert ] && args=(--pid "$P" --revert)
	"$H" run -t 60 -- strace -f -qq -o "$W/reuse.log" -e trace=ptrace,pwrite64 \
		-e inject="$sc:delay_enter=3000000:when=$n" "${APPLY[@]}" "${args[@]}" > "$W/reuse.out" 2> "$W/reuse.err" &
	local R=$! s= c= X= i parked=0 same=0 last= st=
	start_time "$R"
	OTHER_PIDS+=("$R $STIME")
	# hpapply is the child of strace, the child of helper R. It is held when it
	# sits in a tracing stop inside system call nr with the same arguments for
	# 300 ms (strace's output is buffered: its log cannot tell).
	for ((i = 0; i < 1000; i++)); do
		c= X= s= st=
		read -r c 2> /dev/null < "/proc/$R/task/$R/children"
		[ -n "$c" ] && read -r X 2> /dev/null < "/proc/${c%% *}/task/${c%% *}/children"
		X=${X%% *}
		[ -n "$X" ] && read -r s 2> /dev/null < "/proc/$X/syscall"
		[ -n "$X" ] && read -r st 2> /dev/null < "/proc/$X/stat"
		st=${st##*) }
		if [ -n "$s" ] && [ "${s%% *}" = "$nr" ] && [ "${st%% *}" = t ] && [ "$s" = "$last" ]; then
			same=$((same + 1))
			[ "$same" -ge 30 ] && parked=1 && break
		else
			same=0
		fi
		last=$s
		nap 0.01
	done
	if [ "$parked" = 0 ]; then
		verdict 1 "pid reuse ($name)" "hpapply never was held in $sc call $n: not tested"
		wait "$R"
		target_kill
		return
	fi
	# Stop strace itself while it delays the call: hpapply stays held, however
	# slow what follows, until strace gets SIGCONT.
	local S=${c%% *}
	kill -STOP "$S"
	# Kill the target; bash reaps it, unless hpapply's ptrace holds its zombie.
	kill_if_ours "$P" "$PSTART"
	for ((i = 0; i < 100; i++)); do
		[ -e "/proc/$P" ] || break
		nap 0.02
	done
	if [ -e "/proc/$P" ]; then
		kill -CONT "$S"
		wait "$R"
		local rc=$?
		target_kill
		verdict 0 "pid reuse ($name)" "not applicable: pid $P cannot be reused while hpapply holds its main thread (hpapply exit $rc)"
		return
	fi
	wait "$TLAUNCH" 2> /dev/null
	TPID= TLAUNCH=
	# The same pid, for a program with another build-id and its own FIFOs.
	target_start "$H" spawnat "$P" -- "$B/target-other" --flat 1
	if [ -z "$TPID" ] || [ "$TPID" != "$P" ]; then
		kill -CONT "$S"
		verdict 1 "pid reuse ($name)" "could not start a process as pid $P (see $TDIR/err): not tested"
		target_kill
		wait "$R"
		return
	fi
	python3 "$SNAPSHOT" "$P" > "$W/reuse.before"
	target_query
	local ver0=$VER
	# All of that must happen while hpapply is still held.
	if ! read -r s 2> /dev/null < "/proc/$X/syscall" || [ "${s%% *}" != "$nr" ]; then
		kill -CONT "$S"
		verdict 1 "pid reuse ($name)" "hpapply went on before the unrelated process was ready: not tested"
		wait "$R"
		target_kill
		return
	fi
	kill -CONT "$S"
	wait "$R"
	local rc=$? bad=0 detail
	first_err "$W/reuse.err"
	detail="hpapply exit $rc${ERR:+ ($ERR)}"
	if ! target_alive; then
		bad=1
		death_of_other=$(cat "$TDIR/err")
		detail="$detail; the unrelated process DIED${death_of_other:+: $death_of_other}"
	else
		wait_clear "$P" 1 || { bad=1; detail="$detail; threads left stopped:$HELD_WHO"; }
		target_query
		[ "$VER" = "$ver0" ] || { bad=1; detail="$detail; its code answers $VER, was $ver0"; }
		python3 "$SNAPSHOT" "$P" > "$W/reuse.after"
		cmp -s "$W/reuse.before" "$W/reuse.after" || {
			bad=1
			detail="$detail; its code or mappings changed ($(diff "$W/reuse.before" "$W/reuse.after" | grep -c '^[<>]') lines)"
		}
		run "$W/reuse.st" "$BIN/hpstatus" --pid "$P"
		grep -q "no patch applied" "$W/reuse.st" || { bad=1; detail="$detail; hpstatus: $(head -1 "$W/reuse.st" "$W/reuse.st.err" | tr '\n' ' ')"; }
	fi
	verdict $bad "pid reuse ($name)" "$detail"
	target_kill
}
reuse "apply, held at its first ptrace call" apply ptrace 1
reuse "apply, held at its second attach, between two system calls it runs in the target (ptrace call $SECOND)" apply ptrace "$SECOND"
reuse "apply, held at its first write with no thread attached (pwrite64 call $FREE_WR)" apply pwrite64 "$FREE_WR"
reuse "apply, held with the target's threads stopped (ptrace call $WINDOW)" apply ptrace "$WINDOW"
reuse "revert, held at its first ptrace call" revert ptrace 1

# ----- a foreign tracer ---------------------------------------------------------------

target_start "$B/target" --flat 1 || exit 1
TID=
n=0
for t in /proc/$TPID/task/*; do
	[ "${t##*/}" = "$TPID" ] && continue
	n=$((n + 1))
	[ "$n" = 4 ] && TID=${t##*/}
done
foreign() { # OP: OP while strace holds thread TID
	local op=$1
	start_other "$W/strace.out" strace -qq -o /dev/null -p "$TID"
	local SP=$OPID i k v
	for ((i = 0; i < 250; i++)); do
		while IFS=$'\t' read -r k v; do [ "$k" = TracerPid: ] && break; done < "/proc/$TPID/task/$TID/status"
		[ "$v" = "$SP" ] && break
		nap 0.02
	done
	python3 "$SNAPSHOT" "$TPID" > "$W/foreign.before"
	maps_of "$TPID" m0
	if [ "$op" = apply ]; then
		run "$W/f" "${APPLY[@]}" --pid "$TPID" "$B/fix.signed.hpx"
	else
		run "$W/f" "${APPLY[@]}" --pid "$TPID" --revert
	fi
	local rc=$RC bad=0
	first_err "$W/f.err"
	local detail="hpapply exit $rc${ERR:+ ($ERR)}"
	[ "$rc" != 0 ] || { bad=1; detail="$detail: it did not refuse"; }
	maps_of "$TPID" m1
	python3 "$SNAPSHOT" "$TPID" > "$W/foreign.after"
	[ "$m0" = "$m1" ] || { bad=1; detail="$detail; /proc/PID/maps changed"; }
	cmp -s "$W/foreign.before" "$W/foreign.after" || { bad=1; detail="$detail; the code changed"; }
	stop_other "$SP"
	wait_clear "$TPID" 1 || { bad=1; detail="$detail; threads left stopped:$HELD_WHO"; }
	target_alive || { bad=1; detail="$detail; the target died"; }
	verdict $bad "foreign tracer on thread $TID ($op)" "$detail"
}
foreign apply
# Patched, then the revert under a foreign tracer.
run "$W/pre" "${APPLY[@]}" --pid "$TPID" "$B/fix.signed.hpx"
if [ "$RC" = 0 ]; then
	foreign revert
else
	verdict 1 "foreign tracer (revert)" "could not apply first: $(cat "$W/pre.err")"
fi
target_kill

# ----- the main thread has exited ------------------------------------------------------

target_start "$B/target" --flat 1 --main-exit || exit 1
for ((i = 0; i < 100; i++)); do # "ready" comes just before pthread_exit
	s=
	read -r s < "/proc/$TPID/task/$TPID/stat"
	s=${s##*) }
	[ "${s%% *}" = Z ] && break
	nap 0.01
done
bad=0
run "$W/m" "${APPLY[@]}" --pid "$TPID" "$B/fix.signed.hpx"
first_err "$W/m.err"
detail="main thread state ${s%% *}; apply exit $RC${ERR:+ ($ERR)}"
[ "$RC" = 0 ] || bad=1
target_query
detail="$detail, code $VER"
[ "$VER" = new ] || bad=1
if [ "$RC" = 0 ]; then
	run "$W/m" "${APPLY[@]}" --pid "$TPID" --revert
	first_err "$W/m.err"
	target_query
	detail="$detail; revert exit $RC${ERR:+ ($ERR)}, code $VER"
	[ "$RC" = 0 ] && [ "$VER" = old ] || bad=1
fi
target_alive || { bad=1; detail="$detail; the target died"; }
verdict $bad "main thread exited" "$detail"
target_kill

echo "hostile.sh: $PASSED passed, $FAILED failed"
[ "$FAILED" = 0 ]
