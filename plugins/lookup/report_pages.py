# Copyright: (c) rackwright contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The reports people read, rendered from the result records (plugin_utils/rackwright_pages.py)."""

# ruff: noqa: E402 - Ansible plugins keep DOCUMENTATION before the imports.

DOCUMENTATION = r"""
name: report_pages
author: rackwright contributors (!UNKNOWN)
short_description: Render the fleet, evaluation, acceptance, migration, incident and maintenance pages
description:
  - Reads every result record in the reports directory (C(rackwright.infra.reports_dir)) with the Markdown
    beside it, and the hosts' history, and returns the pages as a dict of path (under the reports directory)
    to text - C(pages/<page>.html) (self-contained, inline CSS and SVG charts), C(pages/<page>.md) and
    C(pages/charts/*.svg).
  - Pages whose records do not exist yet are left out; the fleet page is always there.
requirements:
  - pygal and markdown-it-py on the controller (requirements.txt)
options: {}
"""

EXAMPLES = r"""
- name: Write the pages
  ansible.builtin.copy:
    dest: "{{ lookup('rackwright.infra.reports_dir') }}/{{ item.key }}"
    content: "{{ item.value }}"
    mode: "0644"
  loop: "{{ lookup('rackwright.infra.report_pages') | dict2items }}"
"""

RETURN = r"""
_value:
  description: The pages, a dict of path (relative to the reports directory) to text.
  type: list
  elements: dict
"""

from ansible.errors import AnsibleLookupError
from ansible.plugins.lookup import LookupBase

from ansible_collections.rackwright.infra.plugins.plugin_utils.rackwright_pages import PagesError, build
from ansible_collections.rackwright.infra.plugins.plugin_utils.rackwright_reports import reports_dir


class LookupModule(LookupBase):
    def run(self, terms, variables=None, **kwargs):
        if terms or kwargs:
            raise AnsibleLookupError(f"report_pages: takes no terms or options, got {terms!r} {kwargs!r}")
        try:
            return [build(reports_dir(variables))]
        except PagesError as err:
            raise AnsibleLookupError(f"report_pages: {err}") from err
