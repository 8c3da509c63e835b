#!/usr/bin/python
# -*- coding: utf-8 -*-
# hotpatch.fleet.hotpatch_patch: install or uninstall a signed live patch in
# a host's hotpatch store, with the host's own hpapply.

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: hotpatch_patch
short_description: Install or uninstall a signed live patch on a host
description:
  - Runs the host's own C(hpapply --install) or C(hpapply --uninstall PATCH_ID), which
    verify the patch's signatures against the host's trust store, keep it in (or remove it
    from) the host's patch store, and apply it to (or revert it from) every running process
    of the binary it is bound to, without restarting them.
  - The patch file is on the controller by default; the action plugin of the same name copies
    it into Ansible's temporary directory on the host for the duration of the task (also in
    check mode, so that check mode can read the patch), and the store keeps its own copy. With
    O(remote_src=true), O(src) is a path on the host.
  - The patch id, sequence and target are read from the file with C(hpinspect --json); the
    store is compared before and after with C(hpstatus --store --json).
  - Idempotent. O(state=present) reports no change when the patch is installed already
    (C(hpapply) exit 3), O(state=absent) when it is not installed (exit 2).
  - Check mode predicts from the store without touching it, and fails where C(hpapply) would
    refuse for a reason the store and the file show (a patch not bound to a build-id, a
    sequence below one installed for the same binary).
  - Which processes a new patch will reach is only known once it is installed; in check mode
    RV(patched) and RV(not_patched) list the processes of the patches already stored.
version_added: "1.0.0"
author:
  - hotpatch developers (!UNKNOWN)
options:
  src:
    description:
      - The signed patch (C(.hpx)), built with C(hpbuild --target) so that it is bound to a
        binary's build-id.
      - A path on the controller (looked up like M(ansible.builtin.copy)'s O(src)), or on the
        host with O(remote_src=true).
      - Required with O(state=present). With O(state=absent), either O(src) or O(patch_id).
    type: path
  remote_src:
    description:
      - O(src) is already on the host.
    type: bool
    default: false
  patch_id:
    description:
      - The patch's id (32 lowercase hex digits, as C(hpinspect) and C(hpstatus) print it).
      - With O(state=absent), enough to uninstall without the file. With O(src) too, they must
        agree.
    type: str
  state:
    description:
      - V(present) installs the patch and applies it to every process of its binary;
        V(absent) reverts it everywhere and removes it from the store.
    type: str
    choices: [present, absent]
    default: present
  trust:
    description:
      - Trust stores (PEM public key files or directories of them); each becomes a
        C(--trust). Default, the tools' own default, C(/etc/hotpatch/trusted.d).
    type: list
    elements: path
  require:
    description:
      - Signatures by this many distinct trusted keys (C(--require)). Default, the tools' (1).
    type: int
  store:
    description:
      - The patch store (C(--store)). Default, the tools' (C($HOTPATCH_STORE), else
        C(/var/lib/hotpatch)).
    type: path
  audit:
    description:
      - The audit log (C(--audit)). Default, the tools' (C(/var/log/hotpatch/audit.jsonl)).
    type: path
  timeout:
    description:
      - Milliseconds C(hpapply) waits for a safe moment in each process (C(--timeout)).
    type: int
  bin_dir:
    description:
      - The directory holding C(hpapply), C(hpstatus) and C(hpinspect) on the host.
    type: path
    default: /usr/bin
notes:
  - Needs root (or the rights to trace the processes and write the store) on the host.
  - An install whose patch was stored but that could not reach every process (a process
    held by a debugger, a seccomp filter ...) fails with C(changed=true); RV(not_patched) says
    which processes and why. The agent C(hpd), where it runs, retries them.
  - Trust is the host's; this module never installs keys. Distribute the public keys to the
    hosts' trust stores by another channel than the patches they vouch for.
seealso:
  - module: hotpatch.fleet.hotpatch_facts
attributes:
  check_mode:
    description: Predicts from the store and the patch file whether it would change, and touches neither.
    support: full
  diff_mode:
    description: Shows the store's patches before and after, one line each.
    support: full
"""

EXAMPLES = r"""
- name: Install the fix and apply it to every running process of its binary
  hotpatch.fleet.hotpatch_patch:
    src: files/CVE-2026-0001.hpx
    state: present
    trust: [/etc/hotpatch/trusted.d]
  register: fix

- name: Show what it reached
  ansible.builtin.debug:
    msg: "{{ fix.patched | length }} patched, {{ fix.not_patched | length }} not: {{ fix.not_patched }}"

- name: The patch was already copied to the host
  hotpatch.fleet.hotpatch_patch:
    src: /var/tmp/CVE-2026-0001.hpx
    remote_src: true

- name: Roll it back everywhere, by id
  hotpatch.fleet.hotpatch_patch:
    patch_id: d346e777de67a6b46f3ec40f42b6358b
    state: absent

- name: Tools outside /usr/bin, a private store and two signatures required
  hotpatch.fleet.hotpatch_patch:
    src: files/fix.hpx
    bin_dir: /opt/hotpatch/bin
    store: /srv/hotpatch/store
    require: 2
"""

RETURN = r"""
patch_id:
  description: The patch's id.
  returned: always
  type: str
  sample: d346e777de67a6b46f3ec40f42b6358b
sequence:
  description: The patch's sequence number (from the file, else from the store).
  returned: when known
  type: int
  sample: 2
target:
  description: The name of the binary the patch is bound to.
  returned: when known
  type: str
  sample: server
build_id:
  description: The build-id of that binary.
  returned: when known
  type: str
  sample: 1a76c4afa46650a431de80b945fe7dcb07a9e131
installed:
  description: The patch is in the store after the task (predicted in check mode).
  returned: always
  type: bool
patched:
  description: The processes of the binary that carry the patch after the task.
  returned: always
  type: list
  elements: dict
  sample: [{"pid": 812}, {"pid": 8120, "ns_pid": 1}]
not_patched:
  description:
    - The processes of the binary that do not carry it, each with why (what C(hpapply) said
      about it, else C(hpstatus)'s reason, which is C(hpd)'s when the agent tried).
  returned: always
  type: list
  elements: dict
  sample: [{"pid": 901, "why": "thread 901 is traced by process 933 (a debugger or tracer); nothing done"}]
reverted:
  description: With O(state=absent), the processes that carried the patch before and were reverted.
  returned: when state is absent
  type: list
  elements: dict
compliant:
  description: C(hpstatus --store) finds every process of every stored patch's binary patched.
  returned: always
  type: bool
hpapply_rc:
  description:
    - The exit status of hpapply (the project's docs/cli.md); absent when it was not run.
    - Not named C(rc), which Ansible would take for a failure when it is 3 (already installed).
  returned: when hpapply ran
  type: int
cmd:
  description: The hpapply command run.
  returned: when hpapply ran
  type: list
  elements: str
stdout:
  description: What hpapply printed on stdout.
  returned: when hpapply ran
  type: str
stderr:
  description: What hpapply printed on stderr (one line per process, then the store's line).
  returned: when hpapply ran
  type: str
msg:
  description: One line saying what was done, or would be done.
  returned: always
  type: str
"""

import os

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.hotpatch.fleet.plugins.module_utils.hotpatch import (
    PATCH_ID_RE, find_patch, inspect_patch, last_line, meaning, process_reasons,
    split_processes, store_lines, store_status, tool, trust_args)


def hpapply(module, args):
    cmd = [tool(module, "hpapply")] + args
    if module.params.get("store"):
        cmd += ["--store", module.params["store"]]
    cmd += trust_args(module)
    if module.params.get("audit"):
        cmd += ["--audit", module.params["audit"]]
    if module.params.get("timeout") is not None:
        cmd += ["--timeout", str(module.params["timeout"])]
    rc, out, err = module.run_command(cmd)
    return cmd, rc, out, err


def state_of(doc):
    """What changed means: the stored patches and which process carries which."""
    return sorted(
        (p.get("patch_id"), tuple(sorted((q.get("pid"), bool(q.get("patched")))
                                         for q in p.get("processes") or [])))
        for p in doc.get("patches") or [])


def main():
    module = AnsibleModule(
        argument_spec=dict(
            src=dict(type="path"),
            remote_src=dict(type="bool", default=False),
            patch_id=dict(type="str"),
            state=dict(type="str", default="present", choices=["present", "absent"]),
            trust=dict(type="list", elements="path"),
            require=dict(type="int"),
            store=dict(type="path"),
            audit=dict(type="path"),
            timeout=dict(type="int"),
            bin_dir=dict(type="path", default="/usr/bin"),
        ),
        required_if=[("state", "present", ["src"])],
        required_one_of=[("src", "patch_id")],
        supports_check_mode=True,
    )
    p = module.params
    if p["require"] is not None and p["require"] < 1:
        module.fail_json(msg="require: %d; at least 1 signature must be required" % p["require"])
    if p["timeout"] is not None and p["timeout"] < 1:
        module.fail_json(msg="timeout: %d; a number of milliseconds above 0" % p["timeout"])

    info = {}
    if p["src"]:
        if not os.path.isfile(p["src"]):
            module.fail_json(msg="src: %s: no such file on the host" % p["src"])
        info = inspect_patch(module, p["src"])
    patch_id = p["patch_id"]
    if patch_id is not None:
        patch_id = patch_id.strip().lower()
        if not PATCH_ID_RE.match(patch_id):
            module.fail_json(msg="patch_id: %r is not a patch id (32 hex digits)" % p["patch_id"])
        if info and info["patch_id"] != patch_id:
            module.fail_json(msg="patch_id %s does not match src %s, whose id is %s"
                             % (patch_id, p["src"], info["patch_id"]))
    else:
        patch_id = info["patch_id"]

    before, before_rc = store_status(module)
    entry = find_patch(before, patch_id)
    result = dict(changed=False, patch_id=patch_id, installed=entry is not None)
    for k in ("sequence", "target", "build_id"):
        v = info.get(k, (entry or {}).get(k))
        if v is not None:
            result[k] = v

    def finish(doc, entry_after, reasons=None, **extra):
        patched, not_patched = split_processes(entry_after, reasons)
        result.update(patched=patched, not_patched=not_patched,
                      compliant=bool(doc.get("compliant")), **extra)
        if module._diff:
            result["diff"] = dict(before_header="%s (store)" % before.get("store"),
                                  after_header="%s (store)" % before.get("store"),
                                  before=store_lines(before), after=store_lines(doc))
        return result

    if p["state"] == "present":
        if entry is not None:
            result["msg"] = "patch %s is installed already" % patch_id
            if entry.get("verified") is False:
                module.warn("patch %s is installed but does not verify: %s" % (patch_id, entry.get("why")))
            module.exit_json(**finish(before, entry))
        # hpapply would refuse these; say so in check mode too.
        if not info.get("build_id"):
            module.fail_json(msg="%s: the patch is not bound to a build-id (build it with hpbuild "
                                 "--target); hpapply --install refuses it" % p["src"], **result)
        for other in before.get("patches") or []:
            if other.get("build_id") == info["build_id"] and (other.get("sequence") or 0) > (info.get("sequence") or 0):
                module.fail_json(
                    msg="patch %s has sequence %s, below %s of patch %s installed for the same "
                        "binary (%s); hpapply --install refuses it" % (
                            patch_id, info.get("sequence"), other.get("sequence"),
                            other.get("patch_id"), info.get("target")), **result)
        if module.check_mode:
            predicted = dict(before)
            predicted["patches"] = list(before.get("patches") or []) + [dict(
                patch_id=patch_id, sequence=info.get("sequence"), target=info.get("target"),
                build_id=info.get("build_id"), processes=[])]
            result.update(changed=True, installed=True,
                          msg="patch %s would be installed" % patch_id)
            module.exit_json(**finish(predicted, None, compliant_before=bool(before.get("compliant"))))
        cmd, rc, out, err = hpapply(module, ["--install", p["src"]])
    else:
        if entry is None:
            result["msg"] = "patch %s is not installed" % patch_id
            module.exit_json(**finish(before, None, reverted=[]))
        was_patched, _ = split_processes(entry)
        if module.check_mode:
            predicted = dict(before)
            predicted["patches"] = [x for x in before.get("patches") or [] if x is not entry]
            result.update(changed=True, installed=False,
                          msg="patch %s would be uninstalled, %d processes reverted" % (patch_id, len(was_patched)))
            module.exit_json(**finish(predicted, None, reverted=was_patched))
        cmd, rc, out, err = hpapply(module, ["--uninstall", patch_id])

    after, after_rc = store_status(module)
    entry_after = find_patch(after, patch_id)
    result.update(installed=entry_after is not None, changed=state_of(before) != state_of(after),
                  hpapply_rc=rc, cmd=cmd, stdout=out, stderr=err)
    reasons = process_reasons(err, out)
    extra = {}
    if p["state"] == "absent":
        still = set(q["pid"] for q in split_processes(entry_after)[0])
        extra["reverted"] = [q for q in was_patched if q["pid"] not in still]
    finish(after, entry_after, reasons, **extra)

    if p["state"] == "present" and rc in (0, 3) and entry_after is not None:
        n = len(result["patched"])
        result["msg"] = ("patch %s installed, %d processes patched, %d not" % (patch_id, n, len(result["not_patched"]))
                         if rc == 0 else "patch %s is installed already" % patch_id)
        module.exit_json(**result)
    if p["state"] == "absent" and (rc == 0 or (rc == 2 and entry_after is None)) and entry_after is None:
        result["msg"] = ("patch %s uninstalled, %d processes reverted" % (patch_id, len(extra["reverted"]))
                         if rc == 0 else "patch %s is not installed" % patch_id)
        module.exit_json(**result)
    what = "--install" if p["state"] == "present" else "--uninstall"
    module.fail_json(
        msg="hpapply %s exited %d (%s): %s%s" % (
            what, rc, meaning(rc), last_line(err) or last_line(out),
            "; the patch is stored" if entry_after is not None else "; the patch is not stored"),
        **result)


if __name__ == "__main__":
    main()
