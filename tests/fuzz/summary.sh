#!/bin/sh
# summary.sh TARGET LOG: one line from a libFuzzer log, for `make fuzz` and the
# README's table: executions, time, coverage (cov: edges, ft: features) and the
# size of the corpus at the end.
set -eu
t=$1
log=$2
execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
secs=$(grep -o 'DONE.*' "$log" | tail -1 | sed -n 's/.* \([0-9]*\)s$/\1/p' || true)
last=$(grep -E '^#[0-9]+' "$log" | tail -1)
cov=$(echo "$last" | sed -n 's/.*cov: \([0-9]*\).*/\1/p')
ft=$(echo "$last" | sed -n 's/.*ft: \([0-9]*\).*/\1/p')
corp=$(echo "$last" | sed -n 's/.*corp: \([0-9]*\/[0-9]*[a-zA-Z]*\).*/\1/p')
rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
echo "fuzz $t: ${execs:-?} executions (${rate:-?}/s), cov ${cov:-?}, ft ${ft:-?}, corpus ${corp:-?}, no crash"
