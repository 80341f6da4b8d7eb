# Copyright: (c) rackwright contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Jinja filter of the reports role: a server's specification sheet (plugin_utils/rackwright_spec.py)."""

# ruff: noqa: E402 - Ansible plugins keep DOCUMENTATION before the imports.

DOCUMENTATION = r"""
name: rackwright_spec
short_description: A customer-facing technical specification of a server, allow-listed
description:
  - C(spec_sheet) turns C({host, records, declared, reveal}) into C({host, sections, markdown, html}) - the
    records are the host's result records by kind (health, acceptance, backup, restore_test, evaluate),
    declared the inventory's storage, network, firewall, backup and maintenance window, reveal a list
    of C(addresses) and C(serials) to show (both are left out otherwise).
  - Every line of the sheet is chosen field by field (an allow-list); a field no line names never appears.
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.rackwright.infra.plugins.plugin_utils.rackwright_spec import SpecError, sheet


def spec_sheet(inputs):
    if not isinstance(inputs, dict) or not isinstance(inputs.get("host"), str):
        raise AnsibleFilterError(
            f"spec_sheet: expected {{host, records, declared, reveal}}, got {inputs!r}"[:300]
        )
    try:
        return sheet(inputs["host"], inputs.get("records") or {}, inputs.get("declared") or {},
                     inputs.get("reveal") or [])  # fmt: skip
    except SpecError as err:
        raise AnsibleFilterError(f"spec_sheet({inputs['host']}): {err}") from err


class FilterModule:
    def filters(self):
        return {"spec_sheet": spec_sheet}
