#!/usr/bin/env bash
# tests/fleet/run.sh: the Ansible collection (fleet/) against a real fleet made
# on this machine: FLEET_HOSTS (5) hosts, each a network namespace with its own
# PID and mount namespaces, its own sshd on a private address (10.77.0.11 ...
# on the bridge hpfleet0, which only this machine's root namespace, the
# controller, shares; no default route, no NAT), its own hotpatch store, trust
# store, audit log, /run/hotpatch, /tmp and /var/tmp bind-mounted over the
# standard paths, and FLEET_PROCS (2) copies of the live-server sample (the old,
# leaking build). The controller is ansible-playbook in the root namespace; it
# reaches the hosts over ssh as root, with a key this test makes. The hotpatch
# tools are the checkout's (BIN, default build/bin), the modules' bin_dir.
#
# What it checks, each host's real state read from inside the host (nsenter,
# hpstatus, and the servers' own answers), never from Ansible's word:
#   - the collection builds and installs offline; ansible-doc reads its docs;
#   - a module's argument errors fail with a clear message (tests/fleet/args.yml);
#   - --check on a fresh fleet predicts an install on every host and changes nothing;
#   - a health check that fails on one host of a batch uninstalls the patch on
#     every host of that batch and stops the rollout: the canary keeps it,
#     later batches are never touched;
#   - with hotpatch_rollback_scope=host and max_fail_percentage 50, only the
#     failing host goes back and the rollout goes on;
#   - the rollout (canary, 10%, the rest) patches every process on every host;
#   - a second run changes nothing (changed=0 on every host), nor does --check;
#   - the compliance report (JSON, HTML) agrees with every host's real state,
#     names a process started since (not covered, and why), and a host that
#     cannot be reached.
# Then it prints the figures: hosts, processes patched, time per batch, total.
# Everything is torn down on exit, failure included; the playbooks' output and
# the reports are kept in FLEET_LOGS (build/fleet-test). Needs root.
set -euo pipefail
export LC_ALL=C.UTF-8
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
BIN=$(cd "${BIN:-$ROOT/build/bin}" && pwd)
N=${FLEET_HOSTS:-5}
PROCS=${FLEET_PROCS:-2}
BR=hpfleet0 NET=10.77.0 NS=hpfleet-h
SAMPLE=$ROOT/samples/live-server
LOGS=${FLEET_LOGS:-$ROOT/build/fleet-test} # kept: the playbooks' output, the reports

die() { echo "tests/fleet/run.sh: $*" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || die "needs root (network namespaces, sshd)"
for t in ansible-playbook ansible-galaxy ansible-doc ssh ssh-keygen ip unshare nsenter openssl gcc python3; do
	command -v "$t" > /dev/null || die "$t is missing (make fleet-test installs what it needs)"
done
[ -x /usr/sbin/sshd ] || die "/usr/sbin/sshd is missing (openssh-server)"
[ "$N" -ge 4 ] || die "FLEET_HOSTS=$N: at least 4 hosts (a canary, a failing batch of two, one never reached)"
for t in hpbuild hpsign hpinspect hpapply hpstatus; do [ -x "$BIN/$t" ] || die "$BIN/$t is missing: run make"; done
! ip link show "$BR" > /dev/null 2>&1 || die "the bridge $BR exists (another run, or one killed: ip link del $BR)"
! ip netns list | grep -q "^$NS" || die "namespaces $NS* exist (another run, or one killed: ip netns del ...)"
ip -4 route show | grep -q "^$NET\." && die "this machine already routes $NET.0/24"

T=$(mktemp -d /run/hpfleet.XXXXXX) # /run: root's, not world-writable, as sshd's StrictModes wants
# Each host gets a /tmp and a /var/tmp of its own, which hide the machine's,
# and a checkout may be there (a CI clone in mktemp -d): what the hosts run,
# the tools and the two probes, is copied here first.
mkdir "$T/bin" "$T/probes"
cp "$BIN"/hp* "$T/bin/"
cp "$HERE/state.py" "$HERE/health.py" "$T/probes/"
BIN=$T/bin PROBES=$T/probes
INITS=()
MADE=() # directories this test made in the machine's tree, removed at the end
cleanup()
{
	local rc=$?
	set +e
	for p in "${INITS[@]}"; do kill -KILL "$p" 2> /dev/null; done
	for p in "${INITS[@]}"; do wait "$p" 2> /dev/null; done
	for i in $(seq "$N"); do ip netns del "$NS$i" 2> /dev/null; done
	ip link del "$BR" 2> /dev/null
	for ((k = ${#MADE[@]} - 1; k >= 0; k--)); do rmdir "${MADE[k]}" 2> /dev/null; done
	# What to look at afterwards: Ansible's logs and the reports.
	mkdir -p "$LOGS" && rm -rf "$LOGS"/*.log "$LOGS"/report "$LOGS"/report2 &&
		cp -r "$T"/*.log "$T"/report* "$LOGS" 2> /dev/null
	rm -rf "$T"
	exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

PASS=0 FAIL=0
ok() { PASS=$((PASS + 1)); echo "ok - $*"; }
not_ok() { FAIL=$((FAIL + 1)); echo "not ok - $*"; }
check() # check DESCRIPTION CMD...: one test
{
	local d=$1; shift
	if "$@"; then ok "$d"; else not_ok "$d"; fi
}
checkl() # checkl LOG DESCRIPTION CMD...: one test, LOG's end shown when it fails
{
	local log=$1 d=$2; shift 2
	if "$@"; then ok "$d"; else not_ok "$d"; show "$log"; fi
}
finish()
{
	echo "fleet-test: $PASS passed, $FAIL failed"
	[ "$FAIL" -eq 0 ]
}
abort() { not_ok "$*"; finish || true; exit 1; }

mkroot() # mkroot MODE DIR: a directory of the machine's, made if missing (and removed at the end)
{
	[ -d "$2" ] && return
	mkdir -m "$1" "$2"
	MADE+=("$2")
}
now() { date +%s.%N; }
secs() { python3 -c "import sys; print('%.2f' % (float(sys.argv[2]) - float(sys.argv[1])))" "$1" "$2"; }

# --- the patch: the live-server sample, its fix bound to the binary, signed ----------
cd "$T"
F="-O2 -g -ffunction-sections -fdata-sections"
gcc $F -c "$SAMPLE/server.c" -o server.o
gcc $F -c "$SAMPLE/old/lookup.c" -o lookup-old.o
gcc $F -c "$SAMPLE/new/lookup.c" -o lookup-new.o
# A build-id of its own: an agent (hpd) another test runs on this machine sees
# these servers too, and must find no patch of its own for them.
gcc -Wl,--build-id=0x$(openssl rand -hex 20) -o server server.o lookup-old.o -lpthread
"$BIN/hpbuild" -q --target server --sequence 1 lookup-old.o lookup-new.o -o fix.hpx
mkdir -m 700 keys
(umask 077 && openssl genpkey -algorithm ed25519 -out keys/release.pem 2> /dev/null)
openssl pkey -in keys/release.pem -pubout -out release.pub.pem 2> /dev/null
"$BIN/hpsign" -q fix.hpx --key keys/release.pem
PATCH_ID=$("$BIN/hpinspect" --json fix.hpx | python3 -c 'import json,sys; print(json.load(sys.stdin)["patch_id"])')
echo "patch $PATCH_ID: live-server's lookup(), signed with an Ed25519 key made by openssl"

# --- Ansible, configured for this fleet only -------------------------------------------
export ANSIBLE_CONFIG=$T/ansible.cfg ANSIBLE_HOME=$T/ansible-home ANSIBLE_NOCOLOR=1
cat > "$T/ansible.cfg" <<EOF
[defaults]
inventory = $T/inventory.ini
collections_path = $T/collections
forks = 10
local_tmp = $T/ansible-local
remote_tmp = /tmp/.ansible-remote
interpreter_python = /usr/bin/python3
retry_files_enabled = False
# Generous: on a loaded machine (CI's 2 cores) a namespace's sshd was seen
# taking over 3 s to answer, and the hosts were then counted unreachable.
timeout = 30
[ssh_connection]
pipelining = True
control_path_dir = $T/cp
ssh_args = -o ControlMaster=auto -o ControlPersist=30s -o IdentitiesOnly=yes -o BatchMode=yes -o ConnectTimeout=20 -o ServerAliveInterval=5 -o ServerAliveCountMax=6 -o UserKnownHostsFile=$T/known_hosts -o StrictHostKeyChecking=yes
EOF
# --- the collection, built and installed offline --------------------------------------
ansible-galaxy collection build "$ROOT/fleet/ansible_collections/hotpatch/fleet" --output-path "$T" > galaxy.log 2>&1 ||
	abort "ansible-galaxy collection build: $(cat galaxy.log)"
TARBALL=$(ls "$T"/hotpatch-fleet-*.tar.gz)
ansible-galaxy collection install --offline -p "$T/collections" "$TARBALL" > galaxy.log 2>&1 ||
	abort "ansible-galaxy collection install: $(cat galaxy.log)"
ok "collection built and installed offline: $(basename "$TARBALL")"

# --- the hosts -------------------------------------------------------------------------------
mkroot 0755 /etc/hotpatch
mkroot 0755 /etc/hotpatch/trusted.d
mkroot 0755 /var/lib/hotpatch
mkroot 0700 /var/log/hotpatch
mkroot 0700 /run/hotpatch
mkroot 0755 /run/sshd # sshd's privilege separation directory
ssh-keygen -q -t ed25519 -N '' -C hpfleet-controller -f "$T/id_ed25519"
install -m 600 "$T/id_ed25519.pub" "$T/authorized_keys"
: > "$T/known_hosts"
ip link add "$BR" type bridge
ip addr add "$NET.1/24" dev "$BR"
ip link set "$BR" up
addr() { echo "$NET.$((10 + $1))"; }
for i in $(seq "$N"); do
	H=$T/h$i
	mkdir -p "$H"
	mkdir -m 700 "$H/store" "$H/log" "$H/run-hotpatch"
	mkdir -m 755 "$H/trusted"
	mkdir -m 1777 "$H/tmp" "$H/vartmp"
	install -m 644 release.pub.pem "$H/trusted/release.pem"
	ssh-keygen -q -t ed25519 -N '' -C "h$i" -f "$H/ssh_host_ed25519_key"
	cat > "$H/sshd_config" <<-EOF
		ListenAddress $(addr "$i"):22
		HostKey $H/ssh_host_ed25519_key
		PidFile none
		PermitRootLogin prohibit-password
		PubkeyAuthentication yes
		AuthorizedKeysFile $T/authorized_keys
		PasswordAuthentication no
		KbdInteractiveAuthentication no
		UsePAM no
		StrictModes yes
		AllowTcpForwarding no
		X11Forwarding no
		Subsystem sftp /usr/lib/openssh/sftp-server
	EOF
	echo "$(addr "$i") $(cut -d' ' -f1,2 "$H/ssh_host_ed25519_key.pub")" >> "$T/known_hosts"
	ip netns add "$NS$i"
	ip link add "$BR-h$i" type veth peer name eth0 netns "$NS$i"
	ip link set "$BR-h$i" master "$BR" up
	ip -n "$NS$i" link set lo up
	ip -n "$NS$i" addr add "$(addr "$i")/24" dev eth0
	ip -n "$NS$i" link set eth0 up
	ip netns exec "$NS$i" unshare --pid --mount --fork --kill-child --mount-proc \
		bash "$HERE/host.sh" "$H" "$T/server" "$PROCS" > "$H/init.log" 2>&1 &
	INITS+=($!)
done
initpid() { cat "/proc/${INITS[$1 - 1]}/task/${INITS[$1 - 1]}/children" | awk '{print $1}'; }
inhost() { local i=$1; shift; nsenter -t "$(initpid "$i")" -n -m -p -- "$@"; }
SSH=(ssh -i "$T/id_ed25519" -o IdentitiesOnly=yes -o BatchMode=yes -o ConnectTimeout=2
	-o UserKnownHostsFile="$T/known_hosts" -o StrictHostKeyChecking=yes)
for i in $(seq "$N"); do
	n=0
	until [ -f "$T/h$i/ready" ] && "${SSH[@]}" "root@$(addr "$i")" true 2> /dev/null; do
		n=$((n + 1))
		[ $n -lt 100 ] || abort "host h$i did not come up: $(cat "$T/h$i/init.log" "$T/h$i/sshd.log" 2> /dev/null)"
		kill -0 "${INITS[$i - 1]}" 2> /dev/null || abort "host h$i died: $(cat "$T/h$i/init.log")"
		sleep 0.1
	done
done
# Each host is what it should be: its own processes, its own store, no way out.
for i in $(seq "$N"); do
	[ "$(inhost "$i" ip -4 route show default)" = "" ] || abort "h$i has a default route"
	[ "$(inhost "$i" sh -c 'ls /proc | grep -c "^[0-9]"')" -lt 20 ] || abort "h$i sees the machine's processes"
done
ok "$N hosts up ($(addr 1) ... $(addr "$N")), each with sshd and $PROCS servers in its own namespaces"

state() { inhost "$1" python3 "$PROBES/state.py" "$BIN" "$PATCH_ID"; }
validate() # validate REPORT: against fleet/schema/, with Debian's python3-jsonschema
{
	echo "hotpatch-fleet-report $1" > "$T/manifest"
	/usr/bin/python3 "$ROOT/tests/e2e/lib/json_schema.py" "$ROOT/fleet/schema" "$T/manifest" > "$T/schema.out" 2>&1 ||
		{ sed 's/^/  /' "$T/schema.out"; return 1; }
}
# expect_host I WANT: the host's real state: WANT is "patched" (stored, every
# server carries the patch and answers as fixed) or "clean" (not stored, none
# carries it, every server leaks as the old build does).
expect_host()
{
	state "$1" > "$T/state.h$1.json" || return 1
	python3 - "$T/state.h$1.json" "$2" "$PROCS" <<-'PY'
		import json, sys
		s = json.load(open(sys.argv[1])); want = sys.argv[2]; procs = int(sys.argv[3])
		servers = s["fixed"] + s["leaking"]
		ok = len(servers) >= procs
		if want == "patched":
		    mine = [p for x in s["store"]["patches"] for p in x["processes"]]
		    ok = ok and s["stored"] and s["carrying"] == sorted(servers) and s["leaking"] == [] \
		        and all(p["patched"] for p in mine) and s["store"]["compliant"]
		else:
		    ok = ok and not s["stored"] and s["carrying"] == [] and s["fixed"] == []
		if not ok:
		    print("  state: %s" % json.dumps({k: s[k] for k in ("stored", "carrying", "fixed", "leaking")}))
		sys.exit(0 if ok else 1)
	PY
}
hosts_are() # hosts_are WANT I...
{
	local want=$1 i bad=""; shift
	for i in "$@"; do expect_host "$i" "$want" || bad="$bad h$i"; done
	[ -z "$bad" ] || { echo "  not $want:$bad"; return 1; }
}

{
	echo "[hotpatch]"
	for i in $(seq "$N"); do echo "h$i ansible_host=$(addr "$i")"; done
	echo "[hotpatch:vars]"
	echo "ansible_user=root"
	echo "ansible_ssh_private_key_file=$T/id_ed25519"
	echo "hotpatch_bin_dir=$BIN"
} > "$T/inventory.ini"
HEALTH="python3 $PROBES/health.py"
play() # play LOG ARGS...: ansible-playbook, output in LOG; returns its exit status
{
	local log=$1; shift
	ansible-playbook "$@" > "$log" 2>&1
}
# recap LOG HOST FIELD: the number in the play recap
recap() { sed -n "s/^$2 *: .*$3=\([0-9]*\).*/\1/p" "$1" | tail -n 1; }
changed_total() { local i t=0 c; for i in $(seq "$N"); do c=$(recap "$1" "h$i" changed); t=$((t + ${c:-0})); done; echo $t; }
show() { echo "  --- $1 (last 40 lines)"; tail -n 40 "$1" | sed 's/^/  | /'; }

check "ansible-doc reads both modules' documentation" \
	sh -c 'ansible-doc hotpatch.fleet.hotpatch_patch > /dev/null && ansible-doc hotpatch.fleet.hotpatch_facts > /dev/null'

# --- argument errors: fail_json with a clear message -----------------------------------
rc=0; play "$T/args.log" "$HERE/args.yml" -e "patch=$T/fix.hpx" || rc=$?
checkl "$T/args.log" "hotpatch_patch refuses bad arguments, each with its message; uninstalling what is not installed: changed=false" \
	test "$rc" -eq 0
sed -n 's/^fatal: \[h1\]: FAILED! => .*"msg": "\([^"]*\)".*/  refused: \1/p' "$T/args.log"

ROLLOUT=("$ROOT/fleet/rollout.yml" -e "hotpatch_patch_file=$T/fix.hpx" -e "hotpatch_health_check='$HEALTH'")

# --- check mode on a fresh fleet: predicts, touches nothing -----------------------------
rc=0; play "$T/check0.log" "${ROLLOUT[@]}" --check --diff || rc=$?
checkl "$T/check0.log" "--check on a fresh fleet: exit 0, an install predicted on each of the $N hosts" \
	test "$rc" -eq 0 -a "$(changed_total "$T/check0.log")" -eq "$N"
check "--check --diff shows the patch entering each store" \
	test "$(grep -c "^+$PATCH_ID sequence 1 target server" "$T/check0.log")" -eq "$N"
check "... and changed nothing: no host stores or carries the patch" hosts_are clean $(seq "$N")

# --- a batch whose health check fails is rolled back, and the rollout stops -------------
# Batches 1 (h1), 2 (h2, h3), the rest; h3's health check fails.
touch "$T/h3/tmp/fleet-unhealthy"
t0=$(now)
rc=0; play "$T/fail.log" "${ROLLOUT[@]}" -e '{"hotpatch_serial": [1, 2, "100%"]}' || rc=$?
FAIL_S=$(secs "$t0" "$(now)")
checkl "$T/fail.log" "a failing health check in batch 2 fails the rollout (exit $rc)" test "$rc" -ne 0
check "the log says batch h2,h3 failed on h3 and was rolled back" \
	grep -q "hotpatch batch h2,h3: .*FAILED on h3, rolled back" "$T/fail.log"
check "the canary h1 (batch 1, healthy) keeps the patch" hosts_are patched 1
check "h2 and h3 (batch 2) are rolled back: not stored, no process carries it, the servers leak as before" \
	hosts_are clean 2 3
check "h2 was reverted although its own health check passed (the batch is the unit)" \
	grep -q "fatal: \[h2\]: FAILED! => .*failed on h3; patch uninstalled here, $PROCS processes reverted" "$T/fail.log"
check "h3 says why: its health check" \
	grep -q "fatal: \[h3\]: FAILED! => .*This host: Health check: .*unhealthy: /tmp/fleet-unhealthy" "$T/fail.log"
untouched=""
for i in $(seq 4 "$N"); do
	[ -z "$(recap "$T/fail.log" "h$i" ok)" ] && [ ! -s "$T/h$i/log/audit.jsonl" ] || untouched="$untouched h$i"
done
check "the rollout stopped: h4..h$N were never touched (no recap line, no audit record)" test -z "$untouched"
check "and their servers leak as before" hosts_are clean $(seq 4 "$N")

# --- the same with hotpatch_rollback_scope=host and max_fail_percentage 50 ----------------
# Only h3 goes back; 1 failed host of 2 is not over 50%, so the rollout goes on.
t0=$(now)
rc=0; play "$T/scope-host.log" "${ROLLOUT[@]}" -e '{"hotpatch_serial": [1, 2, "100%"]}' \
	-e hotpatch_rollback_scope=host -e hotpatch_max_fail_percentage=50 || rc=$?
SCOPE_S=$(secs "$t0" "$(now)")
checkl "$T/scope-host.log" "rollback_scope=host: the rollout goes on past h3 and exits $rc (a host failed)" \
	sh -c "[ $rc -ne 0 ] && grep -q 'hotpatch batch h4,h5: 2 hosts, .*healthy' '$T/scope-host.log'"
check "h1, h2, h4, h5 are patched" hosts_are patched 1 2 $(seq 4 "$N")
check "h3 alone is rolled back" hosts_are clean 3
rm "$T/h3/tmp/fleet-unhealthy"

# --- the rollout: canary, 10%, the rest ------------------------------------------------------
t0=$(now)
rc=0; play "$T/rollout.log" "${ROLLOUT[@]}" || rc=$?
t1=$(now)
ROLLOUT_S=$(secs "$t0" "$t1")
checkl "$T/rollout.log" "the rollout succeeds (exit $rc)" test "$rc" -eq 0
check "every host stores the patch, every server process carries it and answers as fixed" \
	hosts_are patched $(seq "$N")
CARRYING=$(cat "$T"/state.h*.json | python3 -c 'import json,sys; print(sum(len(json.loads(l)["carrying"]) for l in sys.stdin))')
check "only h3 changed (the others had it already): changed=1 there, 0 elsewhere" \
	sh -c "[ '$(recap "$T/rollout.log" h3 changed)' = 1 ] && [ '$(changed_total "$T/rollout.log")' -eq 1 ]"
grep -o 'hotpatch batch [^"]*' "$T/rollout.log" > "$T/batches.txt" || true
check "three batches: 1 host, 10% (1 host), the rest ($((N - 2)) hosts)" \
	sh -c "[ \$(wc -l < '$T/batches.txt') -eq 3 ] && grep -q '^hotpatch batch h1: 1 hosts' '$T/batches.txt' &&
	       grep -q '^hotpatch batch h2: 1 hosts' '$T/batches.txt' && grep -q ': $((N - 2)) hosts' '$T/batches.txt'"

# --- idempotent: a second run and --check change nothing --------------------------------------
mkdir "$T/before"
for i in $(seq "$N"); do cp "$T/state.h$i.json" "$T/before/"; done
t0=$(now)
rc=0; play "$T/again.log" "${ROLLOUT[@]}" || rc=$?
AGAIN_S=$(secs "$t0" "$(now)")
checkl "$T/again.log" "a second run: exit 0 and changed=0 on all $N hosts" \
	test "$rc" -eq 0 -a "$(changed_total "$T/again.log")" -eq 0
rc=0; play "$T/check1.log" "${ROLLOUT[@]}" --check --diff || rc=$?
checkl "$T/check1.log" "--check --diff on the patched fleet: exit 0, changed=0" \
	test "$rc" -eq 0 -a "$(changed_total "$T/check1.log")" -eq 0
same=""
for i in $(seq "$N"); do
	state "$i" > "$T/now.json"
	python3 - "$T/before/state.h$i.json" "$T/now.json" <<-'PY' || same="$same h$i"
		import json, sys
		a, b = (json.load(open(f)) for f in sys.argv[1:])
		key = lambda s: (s["stored"], s["carrying"], s["fixed"], s["leaking"],
		                 [(p["patch_id"], p["installed_at"]) for p in s["store"]["patches"]])
		sys.exit(0 if key(a) == key(b) else 1)
	PY
done
check "... and every host is as it was (same store entry, same processes patched)" test -z "$same"

# --- the compliance report --------------------------------------------------------------------
# A server started on h2 after the rollout, with no agent running, is not covered.
inhost 2 sh -c "cd /tmp && '$T/server' > /tmp/server.9.out 2>&1 & echo \$! > /tmp/server.9.pid"
for _ in $(seq 100); do grep -q listening "$T/h2/tmp/server.9.out" 2> /dev/null && break; sleep 0.05; done
LATE=$(cat "$T/h2/tmp/server.9.pid")
rc=0; play "$T/report.log" "$ROOT/fleet/report.yml" -e "hotpatch_report_dir=$T/report" || rc=$?
checkl "$T/report.log" "report.yml: exit 0, report.json and report.html written" \
	test "$rc" -eq 0 -a -s "$T/report/report.json" -a -s "$T/report/report.html"
for i in $(seq "$N"); do state "$i" > "$T/state.h$i.json"; done
check "the report agrees with every host's real state" \
	python3 - "$T/report/report.json" "$PATCH_ID" "$N" "$LATE" "$T" <<-'PY'
		import json, sys
		r = json.load(open(sys.argv[1])); pid = sys.argv[2]; n = int(sys.argv[3]); late = int(sys.argv[4]); t = sys.argv[5]
		assert r["format"] == "hotpatch-fleet-report" and r["version"] == 1
		hosts = {h["host"]: h for h in r["hosts"]}
		assert sorted(hosts) == sorted("h%d" % i for i in range(1, n + 1)), sorted(hosts)
		total = patched = 0
		for i in range(1, n + 1):
		    s = json.load(open("%s/state.h%d.json" % (t, i))); h = hosts["h%d" % i]
		    assert h["answered"] and h["error"] is None, h
		    # the store, as the host itself printed it
		    assert [p["patch_id"] for p in h["patches"]] == [p["patch_id"] for p in s["store"]["patches"]] == [pid], h
		    rp = {q["pid"]: q["patched"] for q in h["patches"][0]["processes"]}
		    # processes the report calls patched: those whose record lists the patch,
		    # and those whose server answers as fixed
		    assert sorted(p for p, v in rp.items() if v) == s["carrying"] == s["fixed"], (h, s)
		    assert sorted(p for p, v in rp.items() if not v) == s["leaking"], (h, s)
		    assert h["compliant"] == (not s["leaking"]), h
		    total += len(rp); patched += len(s["carrying"])
		assert [q["pid"] for q in hosts["h2"]["patches"][0]["processes"] if not q["patched"]] == [late]
		miss = r["patches"][0]["not_patched"]
		assert miss == [{"host": "h2", "pid": late, "why": "the patch is not applied"}], miss
		sm = r["summary"]
		assert (sm["hosts"], sm["answered"], sm["processes"], sm["patched"], sm["unpatched"]) == (n, n, total, patched, 1), sm
		assert sm["compliant_hosts"] == n - 1 and sm["compliant"] is False, sm
		print("  report: %d hosts, %d processes, %d patched, 1 not covered (h2 pid %d)" % (n, total, patched, late))
	PY
check "report.json matches its schema (fleet/schema/)" validate "$T/report/report.json"
check "report.html names the process not covered and why" \
	grep -q "pid $LATE: <span class=\"bad\">not patched</span>: the patch is not applied" "$T/report/report.html"
# A host that cannot be reached is in the report, with the reason.
ip -n "$NS$N" link set eth0 down
rc=0; play "$T/report2.log" "$ROOT/fleet/report.yml" -e "hotpatch_report_dir=$T/report2" || rc=$?
check "a host that cannot be reached: the report is still written, the host marked as no answer" \
	python3 - "$T/report2/report.json" "h$N" "$N" <<-'PY'
		import json, sys
		r = json.load(open(sys.argv[1])); h = {x["host"]: x for x in r["hosts"]}[sys.argv[2]]
		assert not h["answered"] and h["error"], h
		assert r["summary"]["answered"] == int(sys.argv[3]) - 1 and r["summary"]["compliant"] is False, r["summary"]
	PY
check "... and matches its schema" validate "$T/report2/report.json"
ip -n "$NS$N" link set eth0 up

# --- figures ----------------------------------------------------------------------------------
PROCESSES=$(python3 -c 'import json,sys; s=json.load(open(sys.argv[1]))["summary"]; print(s["patched"])' "$T/report/report.json")
batches() { grep -o 'hotpatch batch [^"]*' "$1" | sed 's/^hotpatch batch /figures:     batch /'; }
echo
echo "figures: $N hosts (network, PID and mount namespaces, sshd each), $PROCS live-servers each (5 threads)"
echo "figures: load average $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores (shared with other work)"
echo "figures: failing rollout (batches 1, 2, rest; h3 unhealthy): $FAIL_S s"
batches "$T/fail.log"
echo "figures: rollback_scope=host, max_fail_percentage 50: $SCOPE_S s"
batches "$T/scope-host.log"
echo "figures: the rollout (1, 10%, rest; h3 installs, the others are checked): $ROLLOUT_S s"
batches "$T/rollout.log"
echo "figures: the same again, nothing to do: $AGAIN_S s"
echo "figures: the whole test: $SECONDS s"
echo "figures: processes carrying the patch (hpstatus --all on each host): $CARRYING of $((N * PROCS)); in the report: $PROCESSES patched, 1 started later not covered"
finish
