# Copyright: (c) rackwright contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Jinja filters of the migration role, over module_utils/rackwright_migration.py."""

# ruff: noqa: E402 - Ansible plugins keep DOCUMENTATION before the imports.

DOCUMENTATION = r"""
name: rackwright_migration
short_description: A server replacement's request, pre-flight judgment, state record and report
description:
  - C(migration_request) checks the pair of hosts and the old host's C(rackwright_service) before any host
    is contacted and returns the service; it fails with every problem at once.
  - C(migration_preflight) turns what both hosts reported into the list of reasons the replacement must not
    start (empty when it may).
  - C(migration_step) returns the state record with a step finished; C(migration_verdict) its result record's
    C({status, reasons}); C(migration_report) renders the state as the Markdown report.
"""

import json

from ansible.errors import AnsibleFilterError

from ansible_collections.rackwright.infra.plugins.module_utils import rackwright_migration as migration


def migration_request(hostvars, old, new, inventory_hosts):
    """OLD's rackwright_service when the request can be planned; otherwise every problem, in one error."""
    services = {host: (hostvars.get(host) or {}).get("rackwright_service") for host in (old, new) if host}
    problems = migration.request_problems(old, new, list(inventory_hosts or []), services)
    if problems:
        raise AnsibleFilterError("Refusing to replace a server: " + "; ".join(problems))
    return services[old]


def migration_preflight(facts, old, new, margin=0.1, health=None, acceptance="skip", dns=None):
    return migration.preflight_problems(old, new, facts, float(margin), health, acceptance, dns)


def migration_step(state, step, details=None, now=None):
    if isinstance(state, str):
        state = json.loads(state) if state.strip() else None
    try:
        return migration.record_step(state, step, details, now)
    except ValueError as exc:
        raise AnsibleFilterError(f"migration_step: {exc}") from None


def migration_verdict(state):
    return migration.verdict(state)


def migration_report(state, verification=None):
    return migration.report_markdown(state, verification)


class FilterModule:
    def filters(self):
        return {
            "migration_request": migration_request,
            "migration_preflight": migration_preflight,
            "migration_step": migration_step,
            "migration_verdict": migration_verdict,
            "migration_report": migration_report,
        }
