#!/usr/bin/env python3
"""tests/fleet/state.py BIN PATCH_ID: a test host's real state, seen from inside
it (run.sh runs it with nsenter into the host's namespaces), without Ansible.

Prints one JSON object:
  stored       PATCH_ID is in the host's store (hpstatus --store --json)
  store        that document, as hpstatus printed it
  carrying     pids whose hotpatch record lists PATCH_ID (hpstatus --all --json)
  fixed        pids of the host's servers that answer "GET 4" with the fix's answer
  leaking      pids of those that still leak the admin token
"""

import glob
import json
import re
import socket
import subprocess
import sys

BIN, PATCH_ID = sys.argv[1], sys.argv[2]


def run_json(args, ok):
    p = subprocess.run([BIN + "/" + args[0]] + args[1:], capture_output=True, text=True)
    if p.returncode not in ok:
        sys.exit("state.py: %s exited %d: %s" % (" ".join(args), p.returncode, p.stderr.strip()))
    return json.loads(p.stdout)


store = run_json(["hpstatus", "--store", "--json"], (0, 4, 11))
assert store["format"] == "hpstatus-store" and store["version"] == 1, store
every = run_json(["hpstatus", "--all", "--json"], (0,))
assert every["format"] == "hpstatus-all" and every["version"] == 1, every

carrying = sorted(p["pid"] for p in every["processes"]
                  if any(x["patch_id"] == PATCH_ID for x in p["patches"]))
fixed, leaking = [], []
for out in sorted(glob.glob("/tmp/server.*.out")):
    port = int(re.search(r"127\.0\.0\.1:(\d+)", open(out).read()).group(1))
    pid = int(open(out.replace(".out", ".pid")).read())
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(b"GET 4\n")
        answer = s.makefile().readline().rstrip("\n")
    if answer == "error: no such entry":
        fixed.append(pid)
    elif answer == "s3cr3t-admin-token":
        leaking.append(pid)
    else:
        sys.exit("state.py: server %d answered %r" % (pid, answer))

print(json.dumps({
    "stored": any(p["patch_id"] == PATCH_ID for p in store["patches"]),
    "store": store,
    "carrying": carrying,
    "fixed": sorted(fixed),
    "leaking": sorted(leaking),
}))
