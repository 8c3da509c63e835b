#!/usr/bin/env python3
"""fleet/report.py: one compliance report for a fleet, as JSON and HTML.

Reads, on standard input (or from --in FILE), a JSON array with one object per
host, as fleet/report.yml writes it:

    {"host": "web1", "address": "10.0.0.5",
     "hpstatus": {...the host's `hpstatus --store --json`...} or null,
     "error": null or "why the host gave no hpstatus"}

and writes --json FILE (format "hotpatch-fleet-report", version 1; members in
fleet/README.md) and --html FILE. Prints one summary line per patch and one
for the fleet. Exit 0 whatever the fleet's state (the report says it), 1 when
the input cannot be read. Python 3 standard library only.
"""

import argparse
import datetime
import html
import json
import os
import sys
import tempfile

FORMAT, VERSION = "hotpatch-fleet-report", 1


def host_entry(item):
    """One host of the report from one input object."""
    host = {"host": str(item.get("host")), "address": item.get("address"),
            "answered": False, "error": item.get("error"), "store": None,
            "compliant": None, "processes": 0, "unpatched": 0, "unverified": 0,
            "patches": []}
    doc = item.get("hpstatus")
    if not isinstance(doc, dict):
        host["error"] = host["error"] or "no hpstatus --store output"
        return host
    if doc.get("format") != "hpstatus-store" or doc.get("version") != 1:
        host["error"] = "hpstatus printed format %r version %r; this report reads hpstatus-store version 1" % (
            doc.get("format"), doc.get("version"))
        return host
    host.update(answered=True, error=None, store=doc.get("store"),
                compliant=bool(doc.get("compliant")),
                processes=int(doc.get("processes", 0)), unpatched=int(doc.get("unpatched", 0)),
                unverified=int(doc.get("unverified", 0)))
    for p in doc.get("patches") or []:
        procs = []
        for q in p.get("processes") or []:
            e = {"pid": q.get("pid"), "patched": bool(q.get("patched")), "why": q.get("why")}
            if "ns_pid" in q:
                e["ns_pid"] = q["ns_pid"]
            procs.append(e)
        host["patches"].append({k: p.get(k) for k in (
            "patch_id", "sequence", "target", "build_id", "installed_at", "verified", "why")})
        host["patches"][-1]["processes"] = procs
    return host


def build(items, now=None):
    hosts = [host_entry(i) for i in items]
    patches = {}
    for h in hosts:
        for p in h["patches"]:
            e = patches.setdefault(p["patch_id"], {
                "patch_id": p["patch_id"], "sequence": p["sequence"], "target": p["target"],
                "build_id": p["build_id"], "hosts": [], "unverified_hosts": [],
                "processes": 0, "patched": 0, "not_patched": []})
            e["hosts"].append(h["host"])
            if not p["verified"]:
                e["unverified_hosts"].append({"host": h["host"], "why": p["why"]})
            for q in p["processes"]:
                e["processes"] += 1
                if q["patched"]:
                    e["patched"] += 1
                else:
                    n = {"host": h["host"], "pid": q["pid"], "why": q["why"]}
                    if "ns_pid" in q:
                        n["ns_pid"] = q["ns_pid"]
                    e["not_patched"].append(n)
    answered = [h for h in hosts if h["answered"]]
    summary = {
        "hosts": len(hosts),
        "answered": len(answered),
        "compliant_hosts": sum(1 for h in answered if h["compliant"]),
        "patches": len(patches),
        "processes": sum(h["processes"] for h in answered),
        "unpatched": sum(h["unpatched"] for h in answered),
        "unverified": sum(h["unverified"] for h in answered),
    }
    summary["patched"] = summary["processes"] - summary["unpatched"]
    summary["compliant"] = bool(hosts) and len(answered) == len(hosts) and all(h["compliant"] for h in answered)
    now = now or datetime.datetime.now(datetime.timezone.utc)
    return {"format": FORMAT, "version": VERSION,
            "generated_at": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "summary": summary, "patches": list(patches.values()), "hosts": hosts}


def pid_text(q):
    return "%s (%s in its namespace)" % (q["pid"], q["ns_pid"]) if "ns_pid" in q else str(q["pid"])


CSS = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 2em; color: #222; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 2em; }
table { border-collapse: collapse; margin: .5em 0; }
th, td { border: 1px solid #ccc; padding: .25em .6em; text-align: left; vertical-align: top; }
th { background: #f3f3f3; }
td.num { text-align: right; }
.ok { color: #176b1c; font-weight: bold; } .bad { color: #b00020; font-weight: bold; }
.unknown { color: #8a5a00; font-weight: bold; }
code { font-size: .95em; }
"""


def verdict(v):
    if v is None:
        return '<span class="unknown">no answer</span>'
    return '<span class="ok">compliant</span>' if v else '<span class="bad">NOT compliant</span>'


def render_html(r):
    e = html.escape
    s = r["summary"]
    out = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
           "<title>hotpatch fleet compliance %s</title>" % e(r["generated_at"]),
           "<style>%s</style></head><body>" % CSS,
           "<h1>hotpatch fleet compliance</h1>",
           "<p>Generated %s from each host's <code>hpstatus --store --json</code>. Fleet: %s</p>"
           % (e(r["generated_at"]), verdict(s["compliant"]) if s["answered"] == s["hosts"] else
              '<span class="bad">NOT compliant</span> (%d of %d hosts gave no answer)' % (s["hosts"] - s["answered"], s["hosts"])),
           "<table><tr><th>hosts</th><th>answered</th><th>compliant hosts</th><th>patches</th>"
           "<th>processes</th><th>patched</th><th>not patched</th><th>unverified patches</th></tr>",
           "<tr>%s</tr></table>" % "".join('<td class="num">%d</td>' % s[k] for k in (
               "hosts", "answered", "compliant_hosts", "patches", "processes", "patched", "unpatched", "unverified"))]

    out.append("<h2>Patches</h2>")
    if not r["patches"]:
        out.append("<p>No host stores a patch.</p>")
    else:
        out.append("<table><tr><th>patch</th><th>sequence</th><th>target</th><th>build-id</th>"
                   "<th>hosts</th><th>processes patched</th><th>unverified on</th></tr>")
        for p in r["patches"]:
            out.append("<tr><td><code>%s</code></td><td class=\"num\">%s</td><td>%s</td><td><code>%s</code></td>"
                       "<td>%s</td><td class=\"num\">%d of %d</td><td>%s</td></tr>" % (
                           e(str(p["patch_id"])), e(str(p["sequence"])), e(str(p["target"])), e(str(p["build_id"])),
                           e(", ".join(p["hosts"])), p["patched"], p["processes"],
                           e("; ".join("%s: %s" % (u["host"], u["why"]) for u in p["unverified_hosts"])) or "-"))
        out.append("</table>")

    out.append("<h2>Not covered</h2>")
    missing = [(p, n) for p in r["patches"] for n in p["not_patched"]]
    silent = [h for h in r["hosts"] if not h["answered"]]
    if not missing and not silent:
        out.append('<p class="ok">Every process of every stored patch\'s binary carries it, on every host.</p>')
    else:
        out.append("<table><tr><th>host</th><th>process</th><th>patch</th><th>why</th></tr>")
        for p, n in missing:
            out.append("<tr><td>%s</td><td class=\"num\">%s</td><td><code>%s</code> (%s)</td><td>%s</td></tr>" % (
                e(n["host"]), e(pid_text(n)), e(str(p["patch_id"])), e(str(p["target"])), e(str(n["why"]))))
        for h in silent:
            out.append("<tr><td>%s</td><td>-</td><td>-</td><td>no answer: %s</td></tr>" % (
                e(h["host"]), e(str(h["error"]))))
        out.append("</table>")

    out.append("<h2>Hosts</h2>")
    out.append("<table><tr><th>host</th><th>address</th><th>state</th><th>store</th><th>patch</th>"
               "<th>processes</th></tr>")
    for h in r["hosts"]:
        if not h["answered"]:
            out.append("<tr><td>%s</td><td>%s</td><td>%s</td><td colspan=\"3\">%s</td></tr>" % (
                e(h["host"]), e(str(h["address"])), verdict(None), e(str(h["error"]))))
            continue
        rows = h["patches"] or [None]
        for i, p in enumerate(rows):
            cells = ""
            if i == 0:
                span = ' rowspan="%d"' % len(rows)
                cells = "<td%s>%s</td><td%s>%s</td><td%s>%s</td><td%s><code>%s</code></td>" % (
                    span, e(h["host"]), span, e(str(h["address"])), span, verdict(h["compliant"]),
                    span, e(str(h["store"])))
            if p is None:
                cells += "<td>-</td><td>none</td>"
            else:
                procs = "<br>".join(
                    ("pid %s: patched" % e(pid_text(q))) if q["patched"]
                    else 'pid %s: <span class="bad">not patched</span>: %s' % (e(pid_text(q)), e(str(q["why"])))
                    for q in p["processes"]) or "no process maps the binary"
                ver = "" if p["verified"] else ' <span class="bad">does not verify: %s</span>' % e(str(p["why"]))
                cells += "<td><code>%s</code> seq %s, %s%s</td><td>%s</td>" % (
                    e(str(p["patch_id"])), e(str(p["sequence"])), e(str(p["target"])), ver, procs)
            out.append("<tr>%s</tr>" % cells)
    out.append("</table></body></html>")
    return "\n".join(out) + "\n"


def write(path, text):
    """Write atomically: a reader never sees half a report."""
    d = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=d, prefix=".report.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def main(argv=None):
    ap = argparse.ArgumentParser(description="Build the fleet's compliance report (JSON and HTML).")
    ap.add_argument("--in", dest="input", help="the hosts' input (default: standard input)")
    ap.add_argument("--json", required=True, help="where to write the JSON report")
    ap.add_argument("--html", required=True, help="where to write the HTML page")
    a = ap.parse_args(argv)
    try:
        items = json.load(open(a.input, encoding="utf-8") if a.input else sys.stdin)
    except (OSError, ValueError) as ex:
        print("report.py: %s: %s" % (a.input or "standard input", ex), file=sys.stderr)
        return 1
    if not isinstance(items, list):
        print("report.py: the input is not a JSON array of hosts", file=sys.stderr)
        return 1
    r = build(items)
    write(a.json, json.dumps(r, indent=2) + "\n")
    write(a.html, render_html(r))
    s = r["summary"]
    for p in r["patches"]:
        print("patch %s (%s): on %d hosts, %d of %d processes patched" % (
            p["patch_id"], p["target"], len(p["hosts"]), p["patched"], p["processes"]))
    print("fleet: %d hosts, %d answered, %d compliant; %d processes, %d patched, %d not; %s" % (
        s["hosts"], s["answered"], s["compliant_hosts"], s["processes"], s["patched"], s["unpatched"],
        "COMPLIANT" if s["compliant"] else "NOT COMPLIANT"))
    print("report: %s, %s" % (a.json, a.html))
    return 0


if __name__ == "__main__":
    sys.exit(main())
