#!/usr/bin/python
# -*- coding: utf-8 -*-
# hotpatch.fleet.hotpatch_facts: a host's compliance view as facts.

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: hotpatch_facts
short_description: A host's hotpatch compliance view as facts
description:
  - Runs the host's own C(hpstatus --store --json) and returns the document it prints as
    C(ansible_facts.hotpatch), unchanged (format C(hpstatus-store) version 1), each stored
    patch with its signatures verified again, and each process that maps the patch's binary,
    patched or not and why.
  - Never changes anything. A host that is not compliant (C(hpstatus) exit 11) or that stores
    a patch that no longer verifies (exit 4) is not an error here; C(compliant) and
    C(unverified) in the facts say so, and RV(hpstatus_rc) carries the exit status.
version_added: "1.0.0"
author:
  - hotpatch developers (!UNKNOWN)
options:
  store:
    description:
      - The patch store. Default, the tools' (C($HOTPATCH_STORE), else C(/var/lib/hotpatch)).
    type: path
  trust:
    description:
      - Trust stores the stored patches are verified against again; each becomes a C(--trust).
        Default, C(/etc/hotpatch/trusted.d).
    type: list
    elements: path
  require:
    description:
      - Signatures by this many distinct trusted keys. Default 1.
    type: int
  bin_dir:
    description:
      - The directory holding C(hpstatus) on the host.
    type: path
    default: /usr/bin
seealso:
  - module: hotpatch.fleet.hotpatch_patch
attributes:
  check_mode:
    description: Reads only; runs the same in check mode.
    support: full
  diff_mode:
    description: Nothing changes, so there is nothing to show.
    support: none
  facts:
    description: Sets ansible_facts.hotpatch.
    support: full
"""

EXAMPLES = r"""
- name: What every host stores and which processes carry it
  hotpatch.fleet.hotpatch_facts:

- name: Hosts where a process lacks a stored patch
  ansible.builtin.debug:
    msg: "{{ ansible_facts.hotpatch.unpatched }} processes lack a patch"
  when: not ansible_facts.hotpatch.compliant
"""

RETURN = r"""
ansible_facts:
  description: Facts to add to ansible_facts.
  returned: always
  type: complex
  contains:
    hotpatch:
      description:
        - The C(hpstatus-store) document, version 1, as C(hpstatus --store --json) printed it
          (its members are described in the project's docs/json.md).
      returned: always
      type: dict
      sample:
        format: hpstatus-store
        version: 1
        store: /var/lib/hotpatch
        patches:
          - patch_id: d346e777de67a6b46f3ec40f42b6358b
            sequence: 1
            build_id: 1a76c4afa46650a431de80b945fe7dcb07a9e131
            target: server
            installed_at: "2026-12-06T22:53:16Z"
            verified: true
            why: null
            processes:
              - {pid: 812, patched: true, why: null}
              - {pid: 901, patched: false, why: "the patch is not applied"}
        processes: 2
        unpatched: 1
        unverified: 0
        compliant: false
hpstatus_rc:
  description:
    - The exit status of hpstatus (0 compliant, 11 a process lacks a stored patch, 4 a stored patch does not verify).
    - Not named C(rc), which Ansible would take for a failure when it is not 0.
  returned: always
  type: int
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.hotpatch.fleet.plugins.module_utils.hotpatch import store_status


def main():
    module = AnsibleModule(
        argument_spec=dict(
            store=dict(type="path"),
            trust=dict(type="list", elements="path"),
            require=dict(type="int"),
            bin_dir=dict(type="path", default="/usr/bin"),
        ),
        supports_check_mode=True,
    )
    if module.params["require"] is not None and module.params["require"] < 1:
        module.fail_json(msg="require: %d; at least 1 signature must be required" % module.params["require"])
    doc, rc = store_status(module)
    module.exit_json(changed=False, hpstatus_rc=rc, ansible_facts=dict(hotpatch=doc))


if __name__ == "__main__":
    main()
