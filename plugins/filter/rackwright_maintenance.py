# Copyright: (c) rackwright contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Jinja filters of the maintenance role (module_utils/rackwright_maintenance.py)."""

# ruff: noqa: E402 - Ansible plugins keep DOCUMENTATION before the imports.

DOCUMENTATION = r"""
name: rackwright_maintenance
short_description: Maintenance gates, needrestart's answer and the maintenance report
description:
  - C(maintenance_gates) judges the gates a host must pass before (and after) its maintenance from what
    the role measured - C({backup, raid, health, health_reasons, acceptance, sample, free_paths,
    min_free_mb, services_before, services_after}) - into C([{gate, ok, reason}]);
    C(maintenance_gates_failed) says the failing ones in words.
  - C(running_services) lists the services C(systemctl list-units --state=running) names; C(needrestart_state)
    reads C(needrestart -b) (C({kernel_pending, running, expected, services})).
  - C(maintenance_reboot_why) says why a host needs a reboot (needrestart's kernel state,
    /run/reboot-required).
  - C(maintenance_check_plan) says, in check mode, what a run would update, restart and reboot, from the
    pending updates, their packages' files, the running services, needrestart and the window.
  - C(maintenance_report) renders the maintenance record as Markdown.
"""

from ansible_collections.rackwright.infra.plugins.module_utils import rackwright_evaluate as evaluate
from ansible_collections.rackwright.infra.plugins.module_utils import rackwright_maintenance as maintenance


def maintenance_gates(measured):
    gates = [
        maintenance.gate_free_space(
            measured.get("sample"), measured.get("free_paths"), measured.get("min_free_mb", 0)
        ),
        maintenance.gate_backup(measured.get("backup")),
        maintenance.gate_raid(measured.get("raid")),
        maintenance.gate_hardware(measured.get("health"), measured.get("health_reasons")),
        maintenance.gate_acceptance(measured.get("acceptance")),
    ]
    if measured.get("services_after") is not None:
        gates.append(
            maintenance.gate_services(
                measured.get("services_before"), measured["services_after"], measured.get("services_ignore")
            )
        )
    return gates


def maintenance_check_plan(measured):
    return maintenance.check_plan(
        measured.get("wanted"),
        measured.get("package_files"),
        measured.get("running"),
        evaluate.needrestart_state(measured.get("needrestart")),
        measured.get("reboot_required"),
        measured.get("reboot_packages"),
        measured.get("window"),
        reboot=measured.get("reboot", True),
        never_restart=measured.get("never_restart"),
    )


class FilterModule:
    def filters(self):
        return {
            "maintenance_gates": maintenance_gates,
            "maintenance_gates_failed": maintenance.failed,
            "running_services": maintenance.running_services,
            "needrestart_state": evaluate.needrestart_state,
            "maintenance_check_plan": maintenance_check_plan,
            "maintenance_reboot_why": maintenance.reboot_why,
            "maintenance_report": maintenance.report_markdown,
        }
