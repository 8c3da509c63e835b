# -*- coding: utf-8 -*-
# The controller's half of hotpatch.fleet.hotpatch_patch: unless remote_src,
# copy the patch file from the controller into Ansible's temporary directory
# on the host, run the module on that copy, and remove the directory.
#
# Why an action plugin and not "copy, then the module on the remote path":
# in check mode ansible.builtin.copy copies nothing, so on a host that never
# saw the patch the module would have no file to read its id from and could
# predict nothing. Ansible's own temporary directory is not the host's state
# (it is removed after the task), so copying there in check mode too keeps
# check mode honest, and one task replaces two.

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.errors import AnsibleAction, AnsibleActionFail, AnsibleError
from ansible.module_utils.common.text.converters import to_text
from ansible.module_utils.parsing.convert_bool import boolean
from ansible.plugins.action import ActionBase


class ActionModule(ActionBase):

    TRANSFERS_FILES = True

    def run(self, tmp=None, task_vars=None):
        if task_vars is None:
            task_vars = dict()
        result = super(ActionModule, self).run(tmp, task_vars)
        del tmp

        args = self._task.args.copy()
        src = args.get("src")
        try:
            remote_src = boolean(args.get("remote_src", False), strict=True)
        except TypeError as e:
            result.update(failed=True, msg="remote_src: %s" % to_text(e))
            return result
        try:
            if src is not None and not remote_src:
                try:
                    local = self._loader.get_real_file(self._find_needle("files", src), decrypt=True)
                except AnsibleError as e:
                    raise AnsibleActionFail("src: %s" % to_text(e))
                remote = self._connection._shell.join_path(self._connection._shell.tmpdir, "patch.hpx")
                self._transfer_file(local, remote)
                self._fixup_perms2((self._connection._shell.tmpdir, remote))
                args["src"] = remote
                args["remote_src"] = True
            result.update(self._execute_module(module_name="hotpatch.fleet.hotpatch_patch",
                                               module_args=args, task_vars=task_vars))
            if src is not None and not remote_src:
                result["src"] = src  # the file meant, not the temporary copy's name
        except AnsibleAction as e:
            result.update(e.result)
        finally:
            self._remove_tmp_path(self._connection._shell.tmpdir)
        return result
