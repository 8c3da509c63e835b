#!/bin/sh
# make demo's live part, checked: the leak before, the fix applied to the
# running server with every request answered, the leak back after revert.
set -eu
BIN=${BIN:-bin}
out=$(bash samples/live-server/demo.sh "$BIN" 2>&1) || { echo "$out"; echo "FAIL: demo exited non-zero"; exit 1; }
fail() { echo "$out"; echo "FAIL: $*"; exit 1; }
echo "$out" | grep -q 'GET 4   -> s3cr3t-admin-token' || fail "the bug is not shown"
echo "$out" | grep -q 'hpapply: process [0-9]*: applied 1 function' || fail "not applied"
echo "$out" | grep -q '300 of 300 requests sent around the apply answered correctly' || fail "requests were lost"
echo "$out" | grep -q 'GET 4   -> error: no such entry' || fail "the fix does not show"
echo "$out" | grep -q 'GET -1  -> error: no such entry' || fail "negative index not fixed"
echo "$out" | sed -n '/^== Revert/,$p' | grep -q 'GET 4   -> s3cr3t-admin-token' || fail "revert does not bring the old code back"
# An intent line before each of the two attempts, a result line after.
[ "$(echo "$out" | grep -c '"phase": "intent"')" -eq 2 ] || fail "audit log intent lines"
[ "$(echo "$out" | grep -c '"phase": "result"')" -eq 2 ] || fail "audit log result lines"
echo "ok demo"
