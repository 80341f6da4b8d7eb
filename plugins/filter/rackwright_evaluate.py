# Copyright: (c) rackwright contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Jinja filters of the evaluate role and the history (module_utils/rackwright_evaluate.py)."""

# ruff: noqa: E402 - Ansible plugins keep DOCUMENTATION before the imports.

DOCUMENTATION = r"""
name: rackwright_evaluate
short_description: Upgrade planning - a host's ranked plan, its history, the reports
description:
  - C(evaluate_history) reads a history file's samples (one JSON object per line), the last N.
  - C(evaluation) judges what evaluate_facts read, the host's health record and its history into a ranked plan
    (now / this quarter / this year / watch), each row with its reason, evidence and date, with the
    filesystems' fill forecasts and the OS release's support dates.
  - C(evaluate_line) says one row in words; C(evaluate_report) renders a host's evaluate record as Markdown;
    C(evaluate_fleet_report) the fleet's.
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.rackwright.infra.plugins.module_utils import rackwright_evaluate as evaluate


def evaluation(facts, health=None, samples=None, today=None, kernel_max_age_days=180):
    if not isinstance(facts, dict) or "updates" not in facts:
        raise AnsibleFilterError(
            "evaluation: expected rackwright.infra.evaluate_facts' result (a dict with updates)"
        )
    if health is not None and not isinstance(health, dict):
        raise AnsibleFilterError("evaluation: the health record must be a dict or none")
    return evaluate.evaluate(facts, health, list(samples or []), today, int(kernel_max_age_days))


class FilterModule:
    def filters(self):
        return {
            "evaluate_history": evaluate.history,
            "evaluation": evaluation,
            "evaluate_status": evaluate.status,
            "evaluate_line": evaluate.line,
            "evaluate_report": evaluate.report_markdown,
            "evaluate_fleet_report": evaluate.fleet_markdown,
        }
