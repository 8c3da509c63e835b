#!/usr/bin/env python3
"""tests/fleet/health.py: the health check the fleet test gives rollout.yml.

Run on a test host (inside its namespaces): every live-server of the host
(/tmp/server.N.out names its port) must answer "GET 1" with "bravo" and
"GET 4" with "error: no such entry" (the leak is closed: the patch is live).
The file /tmp/fleet-unhealthy, which the test creates on a host to make its
batch fail, makes the check fail as a broken service would. Exit 0 healthy.
"""

import glob
import os
import re
import socket
import sys


def ask(port, n):
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(b"GET %d\n" % n)
        return s.makefile().readline().rstrip("\n")


def main():
    if os.path.exists("/tmp/fleet-unhealthy"):
        print("unhealthy: /tmp/fleet-unhealthy says so (the test's deliberate failure)")
        return 1
    outs = sorted(glob.glob("/tmp/server.*.out"))
    if not outs:
        print("unhealthy: no server runs here")
        return 1
    bad = 0
    for out in outs:
        m = re.search(r"127\.0\.0\.1:(\d+)", open(out).read())
        if not m:
            print("%s: no port" % out)
            bad += 1
            continue
        port = int(m.group(1))
        try:
            a1, a4 = ask(port, 1), ask(port, 4)
        except OSError as e:
            print("port %d: %s" % (port, e))
            bad += 1
            continue
        ok = a1 == "bravo" and a4 == "error: no such entry"
        print("port %d: GET 1 -> %s, GET 4 -> %s: %s" % (port, a1, a4, "ok" if ok else "BAD"))
        bad += not ok
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
