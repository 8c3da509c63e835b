# lib.sh: what run.sh and hostile.sh share (bash; sourced, never run).
#
#   faults_build DIR      compile the helper, the targets and the patches into DIR
#   nap SECS              sleep without starting a process
#   target_start CMD...   start a target (CMD REQ RESP), wait for "ready PID";
#                         sets TPID (that PID), TDIR, TSTART (its start time)
#   target_query          ask it which code it runs: sets VER (old, new, mixed or
#                         none when it did not answer within 1 s) and CALLS
#   target_alive          it exists, is not a zombie and printed no abort message
#   target_kill           SIGKILL it (only if it is still the process we started) and reap
#   held_threads PID      how many threads are stopped or traced: sets HELD, NTASKS
#   wait_clear PID SECS   until no thread is stopped or traced; 1 if some still are
#   read_file FILE VAR    the whole file into VAR, without a subshell
#   kill_if_ours PID START   SIGKILL PID if its start time is still START
#
# Process start-up costs milliseconds here, so the checks a trial repeats use
# shell builtins only: /proc is read with read, waits are read -t on a FIFO.

FX_FLAGS="-O2 -g -ffunction-sections -fdata-sections"

faults_build() { # DIR: everything the fault tests run, built from tests/faults/
	local d=$1 src=$FAULTS_SRC
	mkdir -p "$d" || return 1
	(
		set -e
		cd "$d"
		gcc -std=c11 -Wall -Wextra -Werror -O2 -g -o helper "$src/helper.c"
		for v in 1 2; do
			gcc $FX_FLAGS -DVERSION=$v -c "$src/fx.c" -o fx$v.o
			gcc $FX_FLAGS -DSINGLE -DVERSION=$v -c "$src/fx.c" -o fxs$v.o
		done
		gcc $FX_FLAGS -Wall -Wextra -Werror -c "$src/target.c" -o target.o
		gcc $FX_FLAGS -Wall -Wextra -Werror -DSINGLE -c "$src/target.c" -o target-single.o
		gcc -Wl,--build-id -o target target.o fx1.o -lpthread
		gcc -Wl,--build-id -o target-single target-single.o fxs1.o -lpthread
		# An unrelated program for the pid-reuse check: another build-id.
		gcc -Wl,--build-id -o target-other target.o fx2.o -lpthread
		"$BIN/hpbuild" --target target fx1.o fx2.o -o fix.hpx
		"$BIN/hpbuild" --target target-single fxs1.o fxs2.o -o single.hpx
		openssl genpkey -algorithm ed25519 -out key.pem 2>/dev/null
		mkdir -p trust
		openssl pkey -in key.pem -pubout -out trust/faults.pem 2>/dev/null
		"$BIN/hpsign" fix.hpx --key key.pem -o fix.signed.hpx
		"$BIN/hpsign" single.hpx --key key.pem -o single.signed.hpx
	) > "$d/build.log" 2>&1 || { cat "$d/build.log"; return 1; }
	# The patch replaces fx_a, fx_b and fx_c (single: fx_b), never fx_d.
	local n
	n=$("$BIN/hpinspect" "$d/fix.hpx" | grep '^  fx_[a-z]* in object' | cut -d' ' -f3 | sort | tr '\n' ' ')
	[ "$n" = "fx_a fx_b fx_c " ] || { echo "fix.hpx replaces $n, not fx_a fx_b fx_c"; return 1; }
	n=$("$BIN/hpinspect" "$d/single.hpx" | grep '^  fx_[a-z]* in object' | cut -d' ' -f3 | sort | tr '\n' ' ')
	[ "$n" = "fx_b " ] || { echo "single.hpx replaces $n, not fx_b"; return 1; }
}

NAP_FD=
nap() { # SECS
	if [ -z "$NAP_FD" ]; then
		local f
		f=$(mktemp -u "${TMPDIR:-/tmp}/hpfaults-nap.XXXXXX")
		mkfifo "$f" && exec {NAP_FD}<>"$f" && rm -f "$f"
	fi
	read -r -t "$1" -u "$NAP_FD" _ || true
}

read_file() { # FILE VAR
	local _v=
	[ -r "$1" ] && IFS= read -r -d '' _v 2> /dev/null < "$1"
	printf -v "$2" '%s' "$_v"
}

start_time() { # PID: field 22 of /proc/PID/stat into STIME ("" when gone)
	local s= a
	STIME=
	read -r s 2> /dev/null < "/proc/$1/stat" || return 1
	s=${s##*) }
	a=($s)
	STIME=${a[19]:-}
}

kill_if_ours() { # PID START
	start_time "$1" || return 0
	[ "$STIME" = "$2" ] && kill -KILL "$1" 2> /dev/null
	return 0
}

TPID= TLAUNCH= TLSTART= TDIR= TSTART= T_REQ= T_RESP= T_SEQ=0 T_COUNT=0
target_start() { # BINARY [ARGS...]: a fresh target under $LANE_DIR
	T_COUNT=$((T_COUNT + 1))
	TDIR=$LANE_DIR/target$T_COUNT
	rm -rf "$TDIR" && mkdir -p "$TDIR" && mkfifo "$TDIR/req" "$TDIR/resp" || return 1
	[ -n "$T_REQ" ] && exec {T_REQ}>&- {T_RESP}<&-
	exec {T_REQ}<> "$TDIR/req" {T_RESP}<> "$TDIR/resp"
	"$@" "$TDIR/req" "$TDIR/resp" > "$TDIR/out" 2> "$TDIR/err" &
	TLAUNCH=$! TPID=$!
	start_time "$TPID"
	TSTART=$STIME TLSTART=$STIME
	local i line
	for ((i = 0; i < 1000; i++)); do
		line=
		read -r line 2> /dev/null < "$TDIR/out"
		if [ "${line%% *}" = ready ]; then
			# The pid it reports: another than the one started when a launcher
			# (helper spawnat) runs it.
			TPID=${line#ready }
			start_time "$TPID"
			TSTART=$STIME
			echo "$TPID $TSTART" >> "$LANE_DIR/pids"
			return 0
		fi
		nap 0.005
	done
	echo "target $* did not start: $(cat "$TDIR/err")" >&2
	target_kill
	return 1
}

target_query() { # sets VER, CALLS
	T_SEQ=$((T_SEQ + 1))
	VER=none CALLS=0
	printf 'Q %d\n' "$T_SEQ" >&"$T_REQ" || return 1
	local seq ver calls
	while read -r -t 1 -u "$T_RESP" seq ver calls; do
		if [ "$seq" = "$T_SEQ" ]; then
			VER=$ver CALLS=$calls
			return 0
		fi
	done
	return 1
}

target_alive() {
	local s= a t
	read -r s 2> /dev/null < "/proc/$TPID/stat" || return 1
	s=${s##*) }
	a=($s)
	[ "${a[0]:-}" != X ] && [ "${a[19]:-}" = "$TSTART" ] || return 1
	if [ "${a[0]}" = Z ]; then
		# A main thread that called pthread_exit shows as a zombie while the
		# other threads run: alive if any thread is not a zombie.
		a=
		for t in /proc/$TPID/task/*; do
			read -r s 2> /dev/null < "$t/stat" || continue
			s=${s##*) }
			case ${s%% *} in Z | X) ;; *) a=1 ;; esac
		done
		[ -n "$a" ] || return 1
	fi
	[ ! -s "$TDIR/err" ]
}

target_kill() {
	[ -n "$TPID" ] || return 0
	kill_if_ours "$TPID" "$TSTART"
	[ "$TLAUNCH" != "$TPID" ] && kill_if_ours "$TLAUNCH" "$TLSTART"
	wait "$TLAUNCH" 2> /dev/null
	TPID= TLAUNCH=
}

held_threads() { # PID: HELD = threads stopped ('T', 't') or traced, NTASKS
	local t s k v
	HELD=0 NTASKS=0 HELD_WHO=
	for t in /proc/$1/task/*; do
		read -r s 2> /dev/null < "$t/stat" || continue
		NTASKS=$((NTASKS + 1))
		s=${s##*) }
		case ${s%% *} in
		t | T)
			HELD=$((HELD + 1))
			HELD_WHO="$HELD_WHO ${t##*/}:${s%% *}"
			continue
			;;
		esac
		while IFS=$'\t' read -r k v; do
			if [ "$k" = TracerPid: ]; then
				if [ "$v" != 0 ]; then
					HELD=$((HELD + 1))
					HELD_WHO="$HELD_WHO ${t##*/}:traced-by-$v"
				fi
				break
			fi
		done 2> /dev/null < "$t/status"
	done
}

wait_clear() { # PID SECS
	local i n=$(($2 * 50))
	for ((i = 0; i <= n; i++)); do
		held_threads "$1"
		[ "$HELD" = 0 ] && return 0
		nap 0.02
	done
	return 1
}

maps_of() { # PID VAR: /proc/PID/maps
	read_file "/proc/$1/maps" "$2"
}
