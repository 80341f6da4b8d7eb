# Copyright: (c) rackwright contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The controller's reports directory, defined once for every role and playbook."""

# ruff: noqa: E402 - Ansible plugins keep DOCUMENTATION before the imports.

DOCUMENTATION = r"""
name: reports_dir
author: rackwright contributors (!UNKNOWN)
short_description: The directory on the controller where result records and reports are written
description:
  - Returns C(rackwright_reports_dir) when the inventory or C(-e) sets it, else C(reports/) beside the
    C(playbooks/) directory (the parent of the running playbook's directory), as an absolute path.
  - The one definition every role, playbook and the C(rackwright.infra.result_records) lookup share.
options: {}
"""

EXAMPLES = r"""
- name: Show where this run's records go
  ansible.builtin.debug:
    msg: "{{ lookup('rackwright.infra.reports_dir') }}"
"""

RETURN = r"""
_value:
  description: The absolute path of the reports directory (a list of one path, as lookups return).
  type: list
  elements: path
"""

from ansible.errors import AnsibleLookupError
from ansible.plugins.lookup import LookupBase

from ansible_collections.rackwright.infra.plugins.plugin_utils.rackwright_reports import reports_dir


class LookupModule(LookupBase):
    def run(self, terms, variables=None, **kwargs):
        if terms or kwargs:
            raise AnsibleLookupError(f"reports_dir: takes no terms or options, got {terms!r} {kwargs!r}")
        return [reports_dir(variables)]
