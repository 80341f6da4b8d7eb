# Copyright: (c) rackwright contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Jinja filters of a security incident and of the trusted baseline (module_utils/rackwright_security.py)."""

# ruff: noqa: E402 - Ansible plugins keep DOCUMENTATION before the imports.

DOCUMENTATION = r"""
name: rackwright_security
short_description: A security incident's triage and report; the trusted baseline kept up to date
description:
  - C(security_findings) triages a verified evidence bundle (the C(rackwright.infra.evidence_bundle) lookup)
    against the host's trusted baseline and what the inventory expects; C(security_status) is the incident's
    status, C(security_accounts_to_lock) the accounts a containment locks, C(security_report) the Markdown.
  - C(baseline_extend) folds the files of packages rackwright just installed into a host's baseline, leaving
    every other path's trusted value as it was.
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.rackwright.infra.plugins.module_utils import rackwright_security as security


def security_findings(bundle, baseline=None, expect=None):
    if not isinstance(bundle, dict) or not bundle:
        raise AnsibleFilterError("security_findings: expected the evidence bundle (a dict file -> text)")
    if baseline is not None and not isinstance(baseline, dict):
        raise AnsibleFilterError("security_findings: the baseline must be a dict {binaries, files} or none")
    return security.findings(bundle, baseline, expect or {})


def baseline_extend(old, new, owned):
    """OLD and NEW: {binaries: [entries], files: {path: text}}; OWNED: the paths of the packages just
    installed. NEW's value is taken for the owned paths only."""
    owned = {path.rstrip("/") for path in owned or [] if isinstance(path, str)}
    binaries = {entry["path"]: entry for entry in old.get("binaries") or []}
    binaries.update({entry["path"]: entry for entry in new.get("binaries") or [] if entry["path"] in owned})
    files = dict(old.get("files") or {})
    files.update({path: text for path, text in (new.get("files") or {}).items() if path in owned})
    return {"binaries": [binaries[path] for path in sorted(binaries)], "files": files}


class FilterModule:
    def filters(self):
        return {
            "security_findings": security_findings,
            "security_status": security.status,
            "security_accounts_to_lock": security.accounts_to_lock,
            "security_report": security.report_markdown,
            "baseline_extend": baseline_extend,
        }
