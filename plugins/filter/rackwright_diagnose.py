# Copyright: (c) rackwright contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Jinja filters of the diagnose role, over module_utils/rackwright_diagnose.py."""

# ruff: noqa: E402 - Ansible plugins keep DOCUMENTATION before the imports.

DOCUMENTATION = r"""
name: rackwright_diagnose
short_description: Why a client cannot reach a server, layer by layer
description:
  - C(diagnose_request_problems) checks a diagnosis request (hosts, address, port, MTU, resolver) before any
    host is probed.
  - C(diagnosis) judges the evidence both ends gave (links, addresses, routes, ping at the path MTU, DNS, the
    port, what listens, the firewall) and names the first failing layer with what to do.
  - C(diagnosis_line) and C(diagnosis_report) render a layer as a line and the diagnosis as Markdown.
"""

from ansible_collections.rackwright.infra.plugins.module_utils import rackwright_diagnose as diagnose


def diagnose_request_problems(request, inventory_hosts, play_hosts):
    return diagnose.request_problems(request, list(inventory_hosts or []), list(play_hosts or []))


class FilterModule:
    def filters(self):
        return {
            "diagnose_request_problems": diagnose_request_problems,
            "diagnosis": diagnose.diagnose,
            "diagnosis_line": diagnose.line,
            "diagnosis_report": diagnose.report_markdown,
        }
