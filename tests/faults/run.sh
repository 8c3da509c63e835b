#!/bin/bash
# run.sh [short|long]: interrupt hpapply (apply and --revert) in every way we
# can, and check each time that the process it was patching came to no harm.
#
#   BIN=build/bin tests/faults/run.sh short    each kill point once, SIGKILL and
#                                              SIGINT (~520 trials; 2.5 min under load)
#   BIN=build/bin tests/faults/run.sh long     sweeps repeated, random kills
#                                              (~2500 trials; 12 min under load)
#   BIN=build/bin tests/faults/run.sh selftest the checks against known faults only
#
# The target (target.c) runs 16 workers that check every answer of the patched
# functions: a process left with a mix of old and new code aborts (and the
# reporter thread answers "mixed" when its functions disagree). A trial runs
# one apply or revert (whichever the target's state allows) and interrupts it:
#
#   sweep    strace kills it when it enters the Nth ptrace, process_vm_writev,
#            process_vm_readv, pwrite64 or pread64 call, for N = 1, 2, ... until
#            a run makes fewer than N such calls (strace -e inject=SC:signal=SIG:when=N);
#            with SIGKILL, SIGINT or SIGTERM
#   random   helper sends SIGKILL, SIGINT, SIGTERM or SIGSTOP (then, 200 ms on,
#            SIGCONT) after a random delay within an uninterrupted run's duration
#   baseline no interruption: the checks themselves must find nothing
#
# After each trial, counted per row of the table:
#   dead        the target died, aborted, or stopped answering
#   stopped     a target thread still stopped or traced after 1 s
#   disagree    hpstatus --pid (which may repair an interrupted operation first)
#               lists a patch and the code is old, or lists none and it is new
#   wedged      hpstatus exited non-zero twice in a row
#   no-intent   the attempt was interrupted after it had touched the target
#               (sweeps: a ptrace attach or a memory write had completed; random:
#               the target's code, record, mappings or threads show it) and the
#               audit log has no intent line (intent_logged below says what one is)
#   fresh-fail  a fresh hpapply apply or revert, whichever flips the state, did
#               not exit 0 or did not flip the code (exit 5, no safe moment, is retried once)
# Before any trial the checks are tried on a live target with known faults: all
# its threads stopped, one traced, one function changed alone (the workers must
# abort), and an untouched record and code that must agree. The baseline rows
# then show no check fires on uninterrupted runs.
# A target that failed any check is replaced by a fresh one. The adversarial
# checks of hostile.sh run at the end. Exit 1 if any count or check fails.
#
# Knobs (environment): FLAT (busy workers per target, default 1), LANES (1 or 2,
# default 2: two targets tested at once), KEEP=1 keeps the work directory.
set -u
MODE=${1:-short}
case $MODE in
short | long | selftest) ;;
*)
	echo "usage: run.sh [short|long|selftest]" >&2
	exit 2
	;;
esac
BIN=$(cd "${BIN:-bin}" && pwd) || exit 1
FAULTS_SRC=$(cd "$(dirname "$0")" && pwd)
. "$FAULTS_SRC/lib.sh"
FLAT=${FLAT:-1}
LANES=${LANES:-2}
# How long one hpapply or hpstatus may take before the trial calls it hung: far
# above an uninterrupted run (~70 ms), so that a loaded machine is not a failure.
OP_SECONDS=${OP_SECONDS:-30}
command -v strace > /dev/null || {
	echo "run.sh: strace is needed (apt-get install strace)" >&2
	exit 1
}
for t in hpapply hpstatus hpbuild hpsign hpinspect; do
	[ -x "$BIN/$t" ] || {
		echo "run.sh: no $BIN/$t; run make first" >&2
		exit 1
	}
done

W=$(mktemp -d "${TMPDIR:-/tmp}/hpfaults.XXXXXX")
LANE_PIDS=()
cleanup() {
	local p
	for p in "${LANE_PIDS[@]}"; do
		kill -TERM "$p" 2> /dev/null
	done
	for p in "${LANE_PIDS[@]}"; do
		wait "$p" 2> /dev/null
	done
	# Any target still running (checked by start time: a pid may have been
	# reused since), and the lock files hpapply left for our targets.
	if [ -d "$W" ]; then
		cat "$W"/lane-*/pids 2> /dev/null | while read -r p start; do
			kill_if_ours "$p" "$start"
			rm -f "/run/lock/hotpatch-$p.lock" "/tmp/hotpatch-$p.lock"
		done
	fi
	[ "${KEEP:-}" = 1 ] && echo "run.sh: work directory kept: $W" || rm -rf "$W"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

T0=$SECONDS
B=$W/build
faults_build "$B" || exit 1
H=$B/helper
TRUST=$B/trust
SYSCALLS=(ptrace process_vm_writev process_vm_readv pwrite64 pread64)
TRACED=$(
	IFS=,
	echo "${SYSCALLS[*]}"
)
MAXN=3000 # no sweep goes past this many calls of one system call

# ----- the checks, each in one place ------------------------------------------

# Whether an audit log holds an intent line: the line the applier writes before
# it touches the process. Adjust here when the format settles.
INTENT_RE='"(phase|result)" *: *"intent"'
intent_logged() { # AUDIT_FILE
	local l
	[ -r "$1" ] || return 1
	while IFS= read -r l; do
		[[ $l =~ $INTENT_RE ]] && return 0
	done < "$1"
	return 1
}

# hpstatus --pid's view: REC = patched, none or error; WEDGED = 1 when it failed
# twice in a row. The first call is also the recovery step.
record_state() { # DIR
	local rc s
	REC=error WEDGED=0 ST_RC=
	for try in 1 2; do
		"$H" run -t "$OP_SECONDS" -- "$BIN/hpstatus" --pid "$TPID" --json > "$1/status" 2> "$1/status.err"
		rc=$?
		ST_RC="$ST_RC$rc "
		[ "$rc" = 0 ] && break
	done
	if [ "$rc" != 0 ]; then
		WEDGED=1
		return
	fi
	read_file "$1/status" s
	if [[ $s == *'"patch_id"'* ]]; then
		REC=patched
	elif [[ $s == *'"patches": ['* ]]; then
		REC=none
	fi
}

# A strace log: CNT = calls of SYSCALL entered; TOUCHED = 1 when an attach or a
# write into the target completed before the end.
TOUCH_RE='^(ptrace\(PTRACE_(SEIZE|ATTACH),.*\) += 0|(pwrite64|process_vm_writev)\(.*\) += [0-9])'
scan_log() { # LOG SYSCALL
	local l
	CNT=0 TOUCHED=0
	[ -r "$1" ] || return
	while IFS= read -r l; do
		[[ $l =~ ^[0-9]+\ +(.*)$ ]] && l=${BASH_REMATCH[1]}
		[[ $l == "$2("* ]] && CNT=$((CNT + 1))
		[[ $l =~ $TOUCH_RE ]] && TOUCHED=1
	done < "$1"
}

selftest() {
	local d=$W/selftest
	mkdir -p "$d"
	printf '%s\n' '{"action": "apply", "result": "applied"}' > "$d/a"
	intent_logged "$d/a" && return 1
	printf '%s\n' '{"action": "apply", "phase": "intent", "pid": 1}' > "$d/b"
	intent_logged "$d/b" || return 1
	printf '%s\n' '{"action":"revert","result":"intent"}' > "$d/c"
	intent_logged "$d/c" || return 1
	printf '%s\n' '12345 ptrace(PTRACE_SEIZE, 5, NULL, 0) = 0' '12  ptrace(PTRACE_INTERRUPT, 5) = ?' > "$d/log"
	scan_log "$d/log" ptrace
	[ "$CNT" = 2 ] && [ "$TOUCHED" = 1 ] || return 1
	printf '%s\n' '12 ptrace(PTRACE_SEIZE, 5, NULL, 0) = -1 EPERM (Operation not permitted)' \
		'12 pread64(3, "", 4, 0) = 4' > "$d/log"
	scan_log "$d/log" pread64
	[ "$CNT" = 1 ] && [ "$TOUCHED" = 0 ] || return 1
}
selftest || {
	echo "run.sh: the harness's own checks fail their self-test" >&2
	exit 1
}

# ----- one lane: one target at a time, trials in a row --------------------------

VARIANT=
use_variant() { # fix|single: the target binary and patch
	case $1 in
	fix) TBIN=$B/target PATCH=$B/fix.signed.hpx ;;
	single) TBIN=$B/target-single PATCH=$B/single.signed.hpx ;;
	esac
	if [ "$VARIANT" != "$1" ]; then
		target_kill
		VARIANT=$1
	fi
}

STARTS=0
ensure_target() {
	if [ -n "$TPID" ] && target_alive; then
		return 0
	fi
	target_kill
	STARTS=$((STARTS + 1))
	# Niced: its busy workers take no CPU from the tools and checks (they are
	# still running, and stopped, like any thread).
	target_start "$TBIN" --nice 19 --flat "$FLAT"
	local rc=$?
	prof start
	return $rc
}

hpapply_op() { # OP: the apply or revert command line, in HPA
	HPA=("$BIN/hpapply" -q --trust "$TRUST" --timeout 5000 --pid "$TPID")
	if [ "$1" = apply ]; then HPA+=("$PATCH"); else HPA+=(--revert); fi
}

# Run OP uninterrupted (a fresh operation): 0 when it exited 0 and flipped the code.
flip() { # OP DIR
	local want=new rc
	[ "$1" = revert ] && want=old
	hpapply_op "$1"
	for try in 1 2; do
		HOTPATCH_AUDIT=$LANE_DIR/audit-fresh.jsonl "$H" run -t "$OP_SECONDS" -- "${HPA[@]}" \
			> "$2/fresh.out" 2> "$2/fresh.err"
		rc=$?
		[ "$rc" = 5 ] || break
	done
	FRESH_RC=$rc
	[ "$rc" = 0 ] || return 1
	target_query && [ "$VER" = "$want" ] || return 1
	wait_clear "$TPID" 1
}

# How a dead target died, when it is gone: DEATH = " (SIGSEGV)" and the like.
death_cause() {
	local s= st i
	DEATH=
	# An abort takes a moment after its message: up to 1 s to be gone.
	for ((i = 0; i < 50; i++)); do
		read -r s 2> /dev/null < "/proc/$TPID/stat" || break
		s=${s##*) }
		[ "${s%% *}" = Z ] && break
		nap 0.02
	done
	if read -r s 2> /dev/null < "/proc/$TPID/stat"; then
		s=${s##*) }
		[ "${s%% *}" = Z ] || return 0
	fi
	wait "$TLAUNCH" 2> /dev/null
	st=$?
	case $st in
	127) ;;
	129 | 13[0-9] | 14[0-9] | 15[0-9])
		local names=(- HUP INT QUIT ILL TRAP ABRT BUS FPE KILL USR1 SEGV USR2 PIPE ALRM TERM)
		DEATH=" (SIG${names[st - 128]:-$((st - 128))})"
		;;
	*) DEATH=" (exit $st)" ;;
	esac
}

# Where a lane's time goes (microseconds per phase), reported at its end.
declare -A PROF
P0=
prof() { # PHASE: the time since the last prof call goes to PHASE
	local e=$EPOCHREALTIME
	[ -n "$P0" ] && PROF[$1]=$((${PROF[$1]:-0} + ${e/./} - ${P0/./}))
	P0=$e
}

NTRIALS=0 KEPT=0
# trial ROW OP KIND SIG SC N: one interrupted operation and every check after it.
# KIND: sweep (SC, N: where strace kills), random (N: the delay in us), baseline.
trial() {
	local row=$1 op=$2 kind=$3 sig=$4 sc=$5 n=$6
	local d=$LANE_DIR/trial
	local rc fired=0 touched=0 dead=0 stopped=0 disagree=0 wedged=0 nointent=0 freshfail=0
	local held=- sent=0 maps0 maps1 ver0=$VER why=""
	NTRIALS=$((NTRIALS + 1))
	prof other
	rm -rf "$d" && mkdir -p "$d"
	maps_of "$TPID" maps0
	case $kind in
	sweep)
		hpapply_op "$op"
		HOTPATCH_AUDIT=$d/audit.jsonl "$H" run -t "$OP_SECONDS" -- strace -f -qq -o "$d/log" \
			-e trace="$TRACED" -e inject="$sc:signal=SIG$sig:when=$n" "${HPA[@]}" \
			> "$d/out" 2> "$d/err"
		rc=$?
		scan_log "$d/log" "$sc"
		[ "$CNT" -ge "$n" ] && fired=1
		touched=$TOUCHED
		;;
	random)
		hpapply_op "$op"
		HOTPATCH_AUDIT=$d/audit.jsonl "$H" run -t "$OP_SECONDS" -d "$n" -s "$sig" -p "$TPID" -r "$d/held" \
			-- "${HPA[@]}" > "$d/out" 2> "$d/err"
		rc=$?
		local r=
		read -r r < "$d/held" 2> /dev/null
		set -- $r
		sent=${1:-0}
		[ "$sig" = STOP ] && held=${2:-0}
		[ "$sent" = 1 ] && [ "$sig" != STOP ] && fired=1
		;;
	baseline)
		hpapply_op "$op"
		HOTPATCH_AUDIT=$d/audit.jsonl "$H" run -t "$OP_SECONDS" -- "${HPA[@]}" > "$d/out" 2> "$d/err"
		rc=$?
		[ "$rc" = 0 ] || why="$why baseline-exit-$rc"
		;;
	esac

	prof operation
	# 1. Alive, and no thread left stopped or traced after at most 1 s.
	if ! wait_clear "$TPID" 1; then
		stopped=1
		why="$why stopped:$HELD_WHO"
	fi
	if ! target_alive; then
		dead=1
		death_cause
		why="$why dead$DEATH"
	fi
	prof threads
	# 2. hpstatus (the recovery), then its view against the code's.
	if [ "$dead" = 0 ]; then
		record_state "$d"
		prof status
		local answered=1
		target_query || answered=0
		prof query
		if ! target_alive; then # it died meanwhile
			dead=1
			death_cause
			why="$why dead$DEATH"
		else
			if [ "$WEDGED" = 1 ]; then
				wedged=1
				why="$why wedged(hpstatus exits $ST_RC)"
			fi
			if [ "$answered" = 0 ]; then
				if [ "$stopped" = 0 ]; then
					dead=1
					why="$why unresponsive"
				fi
			elif [ "$VER" = mixed ]; then
				disagree=1
				why="$why mixed-code"
			elif [ "$WEDGED" = 0 ]; then
				if { [ "$REC" = patched ] && [ "$VER" != new ]; } ||
					{ [ "$REC" = none ] && [ "$VER" != old ]; } || [ "$REC" = error ]; then
					disagree=1
					why="$why record-$REC-code-$VER"
				fi
			fi
		fi
	fi
	# 3. The audit log has the intent line of an interrupted attempt that touched the target.
	if [ "$kind" = random ] && [ "$fired" = 1 ]; then
		maps_of "$TPID" maps1
		if [ "$maps0" != "$maps1" ] || [ "$VER" != "$ver0" ] || [ "$dead" = 1 ] ||
			[ "$stopped" = 1 ] || { [ "$REC" = patched ] && [ "$op" = apply ]; } ||
			{ [ "$REC" = none ] && [ "$op" = revert ]; }; then
			touched=1
		fi
	fi
	if [ "$fired" = 1 ] && [ "$touched" = 1 ] && ! intent_logged "$d/audit.jsonl"; then
		nointent=1
		why="$why no-intent"
	fi
	prof intent
	# 4. A fresh operation flips the state.
	if [ "$dead" = 0 ] && { [ "$VER" = old ] || [ "$VER" = new ]; }; then
		local next=apply
		[ "$VER" = new ] && next=revert
		if ! flip "$next" "$d"; then
			freshfail=1
			why="$why fresh-$next(exit $FRESH_RC, code $VER)"
		fi
	fi
	prof fresh
	TRIAL_RC=$rc
	echo "$row $op $sig $sc $n $fired $touched $dead $stopped $disagree $wedged $nointent $freshfail $rc $held" >> "$LANE_DIR/results"
	if [ -n "$why" ]; then
		{
			echo "trial $LANE_NAME/$NTRIALS: $row $op n=$n hpapply exit $rc:$why"
			[ -s "$TDIR/err" ] && sed 's/^/    target: /' "$TDIR/err" | head -3
			[ -s "$d/err" ] && grep -v WARNING "$d/err" | tail -2 | sed 's/^/    hpapply: /'
			[ -s "$d/status.err" ] && tail -2 "$d/status.err" | sed 's/^/    hpstatus: /'
			[ -s "$d/fresh.err" ] && [ "$freshfail" = 1 ] && tail -2 "$d/fresh.err" | sed 's/^/    fresh: /'
		} >> "$LANE_DIR/failures"
		if [ "$KEPT" -lt 10 ]; then
			KEPT=$((KEPT + 1))
			cp -r "$d" "$LANE_DIR/failed-$NTRIALS"
			cp "$TDIR/err" "$LANE_DIR/failed-$NTRIALS/target.err" 2> /dev/null
		fi
	fi
	# A target that failed a check is not trusted for the next trial.
	[ $((dead + stopped + disagree + wedged + freshfail)) = 0 ] || target_kill
	if [ $((NTRIALS % 100)) = 0 ]; then
		echo "  lane $LANE_NAME: $NTRIALS trials ($((SECONDS - T0)) s)"
	fi
}

# The state the target is in decides the operation: old code, apply; new, revert.
# Returns 1 when no healthy target can be had.
ready_state() {
	local tries
	for tries in 1 2 3 4 5; do
		if ensure_target && target_query && { [ "$VER" = old ] || [ "$VER" = new ]; }; then
			return 0
		fi
		target_kill
	done
	echo "lane $LANE_NAME: cannot get a healthy target" >&2
	return 1
}

# sweep SIG VARIANT: every injection point of apply and of revert, once each.
sweep() {
	local sig=$1 row=sweep
	use_variant "$2"
	[ "$2" = single ] && row=sweep-single
	local ai=0 an=1 ri=0 rn=1 ns=${#SYSCALLS[@]} retry=0
	# A run the injection did not reach ends the sweep of that system call,
	# unless hpapply failed on its own (say the target died of something
	# else): that point is tried again, twice at most.
	next() { # N: 0 to stay at N, 1 to go to N + 1, 2 to go to the next system call
		if [ "$CNT" -ge "$1" ] && [ "$1" -lt "$MAXN" ]; then
			retry=0
			return 1
		fi
		if [ "$TRIAL_RC" != 0 ] && [ "$retry" -lt 2 ]; then
			retry=$((retry + 1))
			return 0
		fi
		retry=0
		return 2
	}
	while [ "$ai" -lt "$ns" ] || [ "$ri" -lt "$ns" ]; do
		ready_state || return 1
		if [ "$VER" = old ]; then
			if [ "$ai" -ge "$ns" ]; then
				flip apply "$LANE_DIR" || target_kill
				continue
			fi
			trial "$row:$sig:${SYSCALLS[ai]}" apply sweep "$sig" "${SYSCALLS[ai]}" "$an"
			next "$an"
			case $? in 1) an=$((an + 1)) ;; 2) ai=$((ai + 1)) an=1 ;; esac
		else
			if [ "$ri" -ge "$ns" ]; then
				flip revert "$LANE_DIR" || target_kill
				continue
			fi
			trial "$row:$sig:${SYSCALLS[ri]}" revert sweep "$sig" "${SYSCALLS[ri]}" "$rn"
			next "$rn"
			case $? in 1) rn=$((rn + 1)) ;; 2) ri=$((ri + 1)) rn=1 ;; esac
		fi
	done
}

# How long an uninterrupted hpapply takes here, in us: the range of random delays.
measure() {
	local i s e sum=0
	use_variant fix
	for i in 1 2 3 4 5 6; do
		ready_state || return 1
		local op=apply
		[ "$VER" = new ] && op=revert
		s=$EPOCHREALTIME
		flip "$op" "$LANE_DIR" || target_kill
		e=$EPOCHREALTIME
		sum=$((sum + ${e/./} - ${s/./}))
	done
	target_kill # in this subshell: the caller does not know the target
	echo $((sum / 6))
}

# random COUNT VARIANT: SIGKILL, SIGINT, SIGTERM, SIGSTOP in turn, at random moments.
random_trials() {
	local i sigs=(KILL INT TERM STOP) max=${RANDOM_MAX_US:-20000}
	use_variant "$2"
	for ((i = 0; i < $1; i++)); do
		ready_state || return 1
		local op=apply
		[ "$VER" = new ] && op=revert
		local sig=${sigs[i % 4]}
		local delay=$((((RANDOM << 15) | RANDOM) % (max + 1)))
		trial "random:$sig" "$op" random "$sig" - "$delay"
	done
}

# baseline COUNT: uninterrupted applies and reverts, in turn, through every check.
baseline() {
	local i op
	use_variant fix
	for ((i = 0; i < $1; i++)); do
		op=apply
		[ $((i % 2)) = 1 ] && op=revert
		local tries=0
		while ready_state; do
			[ "$op" = apply ] && [ "$VER" = old ] && break
			[ "$op" = revert ] && [ "$VER" = new ] && break
			tries=$((tries + 1))
			[ "$tries" -le 3 ] || return 1
			flip "$([ "$op" = apply ] && echo revert || echo apply)" "$LANE_DIR" || target_kill
		done
		trial baseline "$op" baseline - - 0
	done
}

lane() { # NAME STEP...: each step "sweep SIG VARIANT", "random COUNT VARIANT" or "baseline COUNT"
	LANE_NAME=$1
	shift
	LANE_DIR=$W/lane-$LANE_NAME
	mkdir -p "$LANE_DIR"
	: > "$LANE_DIR/results"
	trap 'target_kill; exit 1' TERM INT
	trap 'target_kill' EXIT
	local step
	for step in "$@"; do
		set -- $step
		case $1 in
		sweep) sweep "$2" "$3" ;;
		random) random_trials "$2" "$3" ;;
		baseline) baseline "$2" ;;
		esac || echo "lane $LANE_NAME: step '$step' stopped early" >&2
	done
	target_kill
	prof other
	echo "$STARTS" > "$LANE_DIR/starts"
	local k line="lane $LANE_NAME: $NTRIALS trials; seconds in"
	for k in start operation threads status query intent fresh other; do
		line="$line $k $((${PROF[$k]:-0} / 1000000))"
	done
	echo "$line" > "$LANE_DIR/profile"
	: > "$LANE_DIR/done"
}

# Before any trial: each check must see what it is there to see, on a real target.
selftest_live() {
	LANE_NAME=selftest LANE_DIR=$W/lane-selftest
	mkdir -p "$LANE_DIR"
	use_variant fix
	ensure_target || return 1
	# A stopped process: every thread counts, until SIGCONT.
	kill -STOP "$TPID"
	nap 0.1
	wait_clear "$TPID" 0 && { echo "selftest: stopped threads not seen"; return 1; }
	kill -CONT "$TPID"
	wait_clear "$TPID" 1 || { echo "selftest: threads still stopped after SIGCONT:$HELD_WHO"; return 1; }
	# A thread traced by another tool.
	local tid t
	for t in /proc/$TPID/task/*; do [ "${t##*/}" != "$TPID" ] && tid=${t##*/}; done
	strace -qq -o /dev/null -p "$tid" &
	local sp=$! i
	for ((i = 0; i < 250; i++)); do
		held_threads "$TPID"
		[ "$HELD" -ge 1 ] && break
		nap 0.02
	done
	kill "$sp"
	wait "$sp" 2> /dev/null
	[ "$HELD" -ge 1 ] || { echo "selftest: a traced thread not seen"; return 1; }
	wait_clear "$TPID" 2 || { echo "selftest: a thread still traced:$HELD_WHO"; return 1; }
	# Its record and code agree, untouched.
	record_state "$LANE_DIR"
	target_query
	[ "$REC" = none ] && [ "$VER" = old ] || { echo "selftest: record $REC, code $VER"; return 1; }
	# One function changed alone (fx_b returns 12345): the workers abort.
	python3 - "$TPID" "$TBIN" << 'PY' || { echo "selftest: cannot change fx_b"; return 1; }
import os, subprocess, sys
pid, exe = sys.argv[1], os.path.realpath(sys.argv[2])
sym = [l.split() for l in subprocess.run(["nm", exe], capture_output=True, text=True).stdout.splitlines()]
off = next(int(a, 16) for a, *rest in sym if rest[-1:] == ["fx_b"])
base = next(int(l.split("-")[0], 16) for l in open(f"/proc/{pid}/maps")
            if l.split()[-1] == exe and int(l.split()[2], 16) == 0)
with open(f"/proc/{pid}/mem", "r+b", buffering=0) as m:
    m.seek(base + off)
    m.write(bytes([0xb8, 0x39, 0x30, 0, 0, 0xc3]))  # mov $12345, %eax; ret
PY
	for ((i = 0; i < 100; i++)); do
		target_alive || break
		nap 0.02
	done
	target_alive && { echo "selftest: the target did not notice a mix of functions"; return 1; }
	death_cause
	[ "$DEATH" = " (SIGABRT)" ] || { echo "selftest: the target died otherwise:$DEATH"; return 1; }
	target_kill
	VARIANT=
}
# In a subshell: bash reports the aborted target on its standard error.
(selftest_live) 2> "$W/selftest.stderr" || {
	grep -Ev '^[^ ]*: line [0-9]+: +[0-9]+ ' "$W/selftest.stderr" >&2
	echo "run.sh: the harness's checks fail their self-test on a live target" >&2
	exit 1
}
if [ "$MODE" = selftest ]; then
	echo "run.sh: the checks pass their self-tests"
	exit 0
fi

# ----- the plan --------------------------------------------------------------------

if [ "$MODE" = short ]; then
	PLAN_A=("baseline 6" "sweep KILL fix")
	PLAN_B=("sweep INT fix")
else
	PLAN_A=("baseline 20" "sweep KILL fix" "sweep INT fix" "sweep KILL single" "random 300 fix" "sweep KILL fix")
	PLAN_B=("sweep KILL fix" "sweep TERM fix" "random 300 fix" "sweep INT fix" "random 100 single")
fi
if [ "$MODE" = long ]; then
	# Random delays span an uninterrupted run (at least 20 ms).
	LANE_NAME=measure LANE_DIR=$W/lane-measure
	mkdir -p "$LANE_DIR"
	us=$(measure) || exit 1
	VARIANT=
	RANDOM_MAX_US=$((us > 20000 ? us : 20000))
	export RANDOM_MAX_US
	echo "run.sh: an uninterrupted apply or revert takes $((us / 1000)) ms here; random delays 0-$((RANDOM_MAX_US / 1000)) ms"
fi
echo "run.sh $MODE: $LANES lane(s), $FLAT busy worker(s) per target, work in $W"
# A lane's standard error goes to a file: bash reports there every target that
# died of a signal, which the table counts already.
if [ "$LANES" = 1 ]; then
	lane A "${PLAN_A[@]}" "${PLAN_B[@]}" 2> "$W/lane-A.stderr" &
	LANE_PIDS+=($!)
else
	lane A "${PLAN_A[@]}" 2> "$W/lane-A.stderr" &
	LANE_PIDS+=($!)
	lane B "${PLAN_B[@]}" 2> "$W/lane-B.stderr" &
	LANE_PIDS+=($!)
fi
for p in "${LANE_PIDS[@]}"; do wait "$p"; done
LANE_PIDS=()
T1=$SECONDS

# ----- the table ---------------------------------------------------------------------

cat "$W"/lane-*.stderr 2> /dev/null | grep -Ev '^[^ ]*: line [0-9]+: +[0-9]+ ' >&2
cat "$W"/lane-*/results > "$W/results" 2> /dev/null
echo
awk -v mode="$MODE" '
function add(k) {
	if (!(k in trials)) { order[++n] = k }
	trials[k]++; fired[k] += $6; dead[k] += $8; stopped[k] += $9; dis[k] += $10
	wedged[k] += $11; noint[k] += $12; fresh[k] += $13
}
{
	split($1, p, ":")
	key = sprintf("%-7s %-13s %-5s %-17s", $2, p[1], (p[2] == "" ? "-" : p[2]), (p[3] == "" ? "-" : p[3]))
	add(key)
	T["trials"]++; T["fired"] += $6; T["dead"] += $8; T["stopped"] += $9; T["dis"] += $10
	T["wedged"] += $11; T["noint"] += $12; T["fresh"] += $13
	if ($6) { if ($2 == "apply") ia++; else ir++ }
	rcs[p[1] " " (p[2] == "" ? "-" : p[2])] = rcs[p[1] " " (p[2] == "" ? "-" : p[2])] " " $14
	if ($15 != "-") { stops++; if ($15 > 0) held++ }
}
END {
	printf "%-7s %-13s %-5s %-17s %7s %7s %5s %8s %9s %7s %9s %10s\n", "op", "kind", "sig", "syscall",
		"trials", "interr", "dead", "stopped", "disagree", "wedged", "no-intent", "fresh-fail"
	m = 0
	for (i = 1; i <= n; i++) keys[i] = order[i]
	# sort rows by name
	for (i = 2; i <= n; i++) { k = keys[i]; j = i - 1; while (j > 0 && keys[j] > k) { keys[j + 1] = keys[j]; j-- } keys[j + 1] = k }
	for (i = 1; i <= n; i++) {
		k = keys[i]
		printf "%s %7d %7d %5d %8d %9d %7d %9d %10d\n", k, trials[k], fired[k], dead[k], stopped[k], dis[k],
			wedged[k], noint[k], fresh[k]
	}
	printf "%-45s %7d %7d %5d %8d %9d %7d %9d %10d\n", "total", T["trials"], T["fired"], T["dead"], T["stopped"],
		T["dis"], T["wedged"], T["noint"], T["fresh"]
	printf "\ninterrupted: %d applies, %d reverts\n", ia, ir
	if (stops) printf "SIGSTOP trials: %d; in %d of them target threads were held stopped while hpapply was (information only)\n", stops, held
	for (k in rcs) {
		delete c
		split(substr(rcs[k], 2), v, " ")
		for (x in v) c[v[x]]++
		line = ""
		for (x in c) line = line " " x "x" c[x]
		printf "hpapply exit statuses, %s:%s\n", k, line
	}
}' "$W/results"
harness=0
for l in "$W"/lane-*/; do
	case $l in */lane-measure/ | */lane-selftest/) continue ;; esac
	[ -e "$l/done" ] || {
		echo "run.sh: HARNESS ERROR: lane ${l%/} stopped before its end (see its stderr above)"
		harness=1
	}
done
fails=$(awk '{ s += $8 + $9 + $10 + $11 + $12 + $13 } END { print s + 0 }' "$W/results")
base=$(awk '$1 == "baseline" { s += $8 + $9 + $10 + $11 + $12 + $13 } END { print s + 0 }' "$W/results")
starts=$(cat "$W"/lane-*/starts 2> /dev/null | awk '{ s += $1 } END { print s + 0 }')
echo "targets started: $starts; trials took $((T1 - T0)) s"
cat "$W"/lane-*/profile 2> /dev/null
if [ "$base" != 0 ]; then
	echo "run.sh: THE HARNESS IS WRONG: $base failures on uninterrupted runs (baseline)"
fi
if [ -s "$W/lane-A/failures" ] || [ -s "$W/lane-B/failures" ]; then
	echo
	echo "first failures:"
	cat "$W"/lane-*/failures 2> /dev/null | grep -c '^trial' | sed 's/^/  trials with a failure: /'
	cat "$W"/lane-*/failures 2> /dev/null | head -40
fi

echo
echo "== hostile.sh"
BIN=$BIN bash "$FAULTS_SRC/hostile.sh"
hostile=$?
echo
echo "run.sh $MODE: $(wc -l < "$W/results") trials, $fails failed checks, hostile.sh exit $hostile, $((SECONDS - T0)) s in all"
[ "$fails" = 0 ] && [ "$hostile" = 0 ] && [ "$harness" = 0 ] && [ "$base" = 0 ]
