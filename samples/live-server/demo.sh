#!/usr/bin/env bash
# samples/live-server/demo.sh BIN: a security fix applied to a running server,
# end to end, then reverted. The server (server.c + old/lookup.c) leaks its
# admin token to "GET 4"; new/lookup.c is the fix. Nothing is restarted.
set -euo pipefail
BIN=$(cd "${1:-bin}" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
T=$(mktemp -d)
PID=
trap '[ -n "$PID" ] && kill "$PID" 2>/dev/null; rm -rf "$T"' EXIT
cd "$T"
export HOTPATCH_AUDIT=$T/audit.jsonl
step() { printf '\n== %s\n' "$*"; }
run() { printf '$ %s\n' "$*"; "$@"; }
ask() # ask N: send "GET N" to the server, print the answer
{
	exec 3<>"/dev/tcp/127.0.0.1/$PORT"
	printf 'GET %s\n' "$1" >&3
	local answer
	IFS= read -r answer <&3 || true
	exec 3>&-
	printf '   GET %-3s -> %s\n' "$1" "$answer"
}

step "Build the release and start it (4 worker threads)"
F="-O2 -g -ffunction-sections -fdata-sections"
gcc $F -c "$here/server.c" -o server.o
gcc $F -c "$here/old/lookup.c" -o lookup-old.o
gcc -Wl,--build-id -o server server.o lookup-old.o -lpthread
./server > server.log &
PID=$!
for _ in $(seq 100); do grep -q listening server.log && break; sleep 0.02; done
PORT=$(sed -n 's/.*127.0.0.1://p' server.log)
echo "   server running as process $PID on port $PORT"

step "The bug: entry 4 is past the end of the table and leaks the admin token"
ask 1
ask 4

step "Build the patch from the release's object and the fixed one"
gcc $F -c "$here/new/lookup.c" -o lookup-new.o
run "$BIN/hpbuild" -v --target server lookup-old.o lookup-new.o -o fix.hpx

step "The security team signs it with its own key (an HSM works the same way: see README)"
openssl genpkey -algorithm ed25519 -out team.pem 2>/dev/null
mkdir trusted && openssl pkey -in team.pem -pubout -out trusted/team.pem 2>/dev/null
run "$BIN/hpsign" fix.hpx --key team.pem
run "$BIN/hpverify" fix.hpx --trust trusted

step "Apply it to the running server while a client keeps asking"
( for i in $(seq 300); do ask 1; done > during.log 2>&1 ) &
client=$!
sleep 0.05
run "$BIN/hpapply" --trust trusted --pid "$PID" fix.hpx
wait "$client"
echo "   $(grep -c ' -> bravo' during.log) of 300 requests sent around the apply answered correctly"

step "Fixed, same process, no restart"
ask 1
ask 4
ask -1
run "$BIN/hpstatus" --pid "$PID"

step "Revert: the old code is back (the bug too)"
run "$BIN/hpapply" --pid "$PID" --revert
ask 4

step "The audit log: one line per attempt"
cat "$HOTPATCH_AUDIT"
