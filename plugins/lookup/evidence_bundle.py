# Copyright: (c) rackwright contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Read a sealed evidence bundle on the controller, verified against its SHA256SUMS first."""

# ruff: noqa: E402 - Ansible plugins keep DOCUMENTATION before the imports.

DOCUMENTATION = r"""
name: evidence_bundle
author: rackwright contributors (!UNKNOWN)
short_description: Read a verified evidence bundle (evidence_collect's files) on the controller
description:
  - Returns one dict file name -> text of the bundle directory given as the term, after checking every file
    against the bundle's C(SHA256SUMS) (no file missing, changed or unlisted). A bundle that does not
    verify is an error naming each problem, never read.
options:
  _terms:
    description: The bundle directory on the controller.
    required: true
    type: list
    elements: path
"""

EXAMPLES = r"""
- name: Triage the evidence
  ansible.builtin.set_fact:
    found: "{{ lookup('rackwright.infra.evidence_bundle', 'reports/incidents/web1-20261207T120000Z/bundle')
      | rackwright.infra.security_findings }}"
"""

RETURN = r"""
_value:
  description: The bundle, a dict file name -> text (a list of one dict, as lookups return).
  type: list
  elements: dict
"""

from ansible.errors import AnsibleLookupError
from ansible.plugins.lookup import LookupBase

from ansible_collections.rackwright.infra.plugins.module_utils import rackwright_security as security


class LookupModule(LookupBase):
    def run(self, terms, variables=None, **kwargs):
        if len(terms) != 1 or kwargs:
            raise AnsibleLookupError(f"evidence_bundle: takes one bundle directory, got {terms!r} {kwargs!r}")
        try:
            return [security.read_bundle(terms[0])]
        except security.EvidenceError as exc:
            raise AnsibleLookupError(f"evidence_bundle: {exc}") from None
