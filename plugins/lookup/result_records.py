# Copyright: (c) rackwright contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Read the published result records of a set of hosts (reports/<kind>/<host>.json on the controller)."""

# ruff: noqa: E402 - Ansible plugins keep DOCUMENTATION before the imports.

DOCUMENTATION = r"""
name: result_records
author: rackwright contributors (!UNKNOWN)
short_description: Read the result records published for some hosts
description:
  - Returns one dict host -> record (or null where the host has no readable record) for the C(kind) given
    as the term, read from C(<dir>/<kind>/<host>.json) on the controller, as
    C(roles/common/tasks/publish_result.yml) writes them. Feed it to the C(rackwright.infra.record_rollup)
    filter.
  - A file that is not a JSON object, or whose C(kind) or C(host) is not the one asked for, counts as no
    record (null), so the rollup reports that host as unknown instead of trusting it.
options:
  _terms:
    description: The record kind, for example C(health) or C(backup).
    required: true
    type: list
    elements: str
  hosts:
    description: The host names whose records to read.
    type: list
    elements: str
    required: true
  dir:
    description:
      - The reports directory (the parent of the per-kind directories).
      - Default the one C(rackwright.infra.reports_dir) returns (C(rackwright_reports_dir), else C(reports/)
        beside C(playbooks/)).
    type: path
"""

EXAMPLES = r"""
- name: Roll up the health records of every host
  ansible.builtin.debug:
    msg: "{{ lookup('rackwright.infra.result_records', 'health', hosts=groups['all'])
      | rackwright.infra.record_rollup('health') }}"
"""

RETURN = r"""
_value:
  description: A dict host -> record (null where no valid record was found).
  type: dict
"""

import json
import os
import re

from ansible.errors import AnsibleLookupError
from ansible.plugins.lookup import LookupBase

from ansible_collections.rackwright.infra.plugins.plugin_utils.rackwright_reports import reports_dir

KIND_RE = re.compile(r"^[a-z][a-z0-9_]*$")
MAX_BYTES = 4 * 1024 * 1024


def _read(path, kind, host):
    try:
        if os.path.getsize(path) > MAX_BYTES:
            return None
        with open(path, encoding="utf-8") as handle:
            record = json.load(handle)
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict) or record.get("kind") != kind or record.get("host") != host:
        return None
    return record


class LookupModule(LookupBase):
    def run(self, terms, variables=None, **kwargs):
        if len(terms) != 1 or not isinstance(terms[0], str) or not KIND_RE.match(terms[0]):
            raise AnsibleLookupError(f"result_records: give one record kind like 'health', got {terms!r}")
        kind = terms[0]
        hosts, directory = kwargs.get("hosts"), kwargs.get("dir", reports_dir(variables))
        if not isinstance(hosts, (list, tuple)) or not all(isinstance(host, str) for host in hosts):
            raise AnsibleLookupError(f"result_records: hosts must be a list of host names, got {hosts!r}")
        if not isinstance(directory, str) or not directory:
            raise AnsibleLookupError(f"result_records: dir must be the reports directory, got {directory!r}")
        base = os.path.join(directory, kind)
        records = {}
        for host in hosts:
            if "/" in host or host in ("", ".", ".."):
                raise AnsibleLookupError(f"result_records: {host!r} is not a host name")
            records[host] = _read(os.path.join(base, f"{host}.json"), kind, host)
        return [records]
