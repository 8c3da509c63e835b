# -*- coding: utf-8 -*-
# Shared by the hotpatch.fleet modules: running the host's own hotpatch tools
# (hpinspect, hpstatus, hpapply) and reading their versioned JSON.
#
# The contract relied on is the project's docs/cli.md (exit codes) and
# docs/json.md (the "hpinspect" and "hpstatus-store" documents, version 1).

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import re

# docs/cli.md: one meaning per exit status, in every tool.
EXIT_MEANING = {
    0: "done",
    1: "error (usage, I/O, malformed input, the audit log cannot be written)",
    2: "refused: not the build the patch was made for, no such process, "
       "no such installed patch, or a patch not bound to a build-id",
    3: "nothing to do: already applied or installed",
    4: "signature or trust store check failed",
    5: "no safe moment before the deadline",
    6: "busy: another tool or a debugger holds a process",
    7: "a process's hotpatch record is untrusted or disagrees with its code",
    8: "interrupted; what was begun was undone",
    9: "refused by policy: older (by sequence) than a patch applied or installed before",
    10: "a process's confinement or kind forbids it (seccomp, ptrace policy, 32-bit)",
    11: "a process of a stored patch's binary does not carry it",
}

PATCH_ID_RE = re.compile(r"^[0-9a-f]{32}$")

# "hpapply: process 812: thread 815 is traced by ...": one line per process.
PROCESS_LINE_RE = re.compile(r"^hpapply: process (\d+): (.*)$")


def meaning(rc):
    return EXIT_MEANING.get(rc, "unknown exit status")


def tool(module, name):
    """The absolute path of a hotpatch tool in bin_dir, or fail."""
    bin_dir = module.params["bin_dir"]
    path = os.path.join(bin_dir, name)
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        module.fail_json(
            msg="%s: no executable %s here; install hotpatch on the host or "
                "set bin_dir to the directory that holds its tools" % (path, name))
    return path


def trust_args(module):
    """--trust for each trust store given, and --require."""
    args = []
    for t in module.params.get("trust") or []:
        args += ["--trust", t]
    if module.params.get("require") is not None:
        args += ["--require", str(module.params["require"])]
    return args


def last_line(text):
    lines = [ln for ln in (text or "").splitlines() if ln.strip()]
    return lines[-1] if lines else ""


def inspect_patch(module, path):
    """hpinspect --json PATH: the patch's id, sequence and target."""
    cmd = [tool(module, "hpinspect"), "--json", path]
    rc, out, err = module.run_command(cmd)
    if rc != 0:
        module.fail_json(
            msg="%s: hpinspect exited %d: %s" % (path, rc, last_line(err) or meaning(rc)),
            cmd=cmd, rc=rc, stdout=out, stderr=err)
    try:
        doc = json.loads(out)
    except ValueError as e:
        module.fail_json(msg="%s: hpinspect --json printed no JSON: %s" % (path, e),
                         cmd=cmd, stdout=out, stderr=err)
    if doc.get("format") != "hpinspect" or doc.get("version") != 1:
        module.fail_json(
            msg="hpinspect --json printed format %r version %r; this module reads "
                "format 'hpinspect' version 1" % (doc.get("format"), doc.get("version")))
    target = doc.get("target") or {}
    return {
        "patch_id": doc.get("patch_id"),
        "sequence": doc.get("sequence"),
        "target": target.get("name"),
        "build_id": target.get("build_id"),
        "signatures": len(doc.get("signatures") or []),
    }


def store_status(module):
    """hpstatus --store --json: the document and the exit status.

    0 (compliant), 11 (a process lacks a stored patch) and 4 (a stored patch
    does not verify) all print the document; anything else is an error.
    """
    cmd = [tool(module, "hpstatus"), "--json"]
    store = module.params.get("store")
    cmd.append("--store=%s" % store if store else "--store")
    cmd += trust_args(module)
    rc, out, err = module.run_command(cmd)
    if rc not in (0, 4, 11):
        module.fail_json(
            msg="hpstatus --store exited %d (%s): %s" % (rc, meaning(rc), last_line(err)),
            cmd=cmd, rc=rc, stdout=out, stderr=err)
    try:
        doc = json.loads(out)
    except ValueError as e:
        module.fail_json(msg="hpstatus --store --json printed no JSON (exit %d): %s" % (rc, e),
                         cmd=cmd, rc=rc, stdout=out, stderr=err)
    if doc.get("format") != "hpstatus-store" or doc.get("version") != 1:
        module.fail_json(
            msg="hpstatus --store --json printed format %r version %r; this module reads "
                "format 'hpstatus-store' version 1" % (doc.get("format"), doc.get("version")))
    return doc, rc


def find_patch(doc, patch_id):
    for p in doc.get("patches") or []:
        if p.get("patch_id") == patch_id:
            return p
    return None


def store_lines(doc):
    """The store's patches, one line each, for diff mode."""
    return "".join(
        "%s sequence %s target %s build-id %s\n"
        % (p.get("patch_id"), p.get("sequence"), p.get("target"), p.get("build_id"))
        for p in doc.get("patches") or [])


def process_reasons(*texts):
    """pid -> the last thing hpapply said about that process."""
    reasons = {}
    for text in texts:
        for line in (text or "").splitlines():
            m = PROCESS_LINE_RE.match(line.strip())
            if m:
                reasons[int(m.group(1))] = m.group(2)
    return reasons


def split_processes(entry, reasons=None):
    """(patched, not_patched) of a store entry; not_patched carries why."""
    patched, not_patched = [], []
    for p in (entry or {}).get("processes") or []:
        item = {"pid": p.get("pid")}
        if "ns_pid" in p:
            item["ns_pid"] = p["ns_pid"]
        if p.get("patched"):
            patched.append(item)
        else:
            why = p.get("why")
            said = (reasons or {}).get(p.get("pid"))
            # hpstatus knows hpd's reasons; what hpapply just said is fresher
            # than its generic "the patch is not applied".
            if said and (not why or why == "the patch is not applied"):
                why = said
            item["why"] = why
            not_patched.append(item)
    return patched, not_patched
