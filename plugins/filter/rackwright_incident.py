# Copyright: (c) rackwright contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Jinja filters of the incident role, over module_utils/rackwright_incident.py."""

# ruff: noqa: E402 - Ansible plugins keep DOCUMENTATION before the imports.

DOCUMENTATION = r"""
name: rackwright_incident
short_description: An incident's judgments, timeline and report
description:
  - C(backup_freshness) says whether the host's backup jobs all saved a snapshot recently (their status
    files).
  - C(incident_disk_plan) says what to do about the array storage_layout located (the failed member, the
    new disk, whether to wait for one) or why nothing may be done; C(incident_disk_who) names a failed disk.
  - C(incident_step) appends a step to an incident's timeline; C(incident_report) renders the incident
    record as Markdown.
"""

import json

from ansible_collections.rackwright.infra.plugins.module_utils import rackwright_incident as incident


def backup_freshness(statuses, now, max_age_hours=24):
    docs = [json.loads(s) if isinstance(s, str) else s for s in statuses or []]
    return incident.backup_freshness(docs, now, float(max_age_hours))


class FilterModule:
    def filters(self):
        return {
            "backup_freshness": backup_freshness,
            "incident_disk_plan": incident.disk_plan,
            "incident_disk_who": incident.who,
            "incident_step": incident.step,
            "incident_report": incident.report_markdown,
        }
