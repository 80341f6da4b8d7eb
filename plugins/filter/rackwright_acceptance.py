# Copyright: (c) rackwright contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Jinja filters of the acceptance role, over module_utils/rackwright_acceptance.py (the one judge)."""

# ruff: noqa: E402 - Ansible plugins keep DOCUMENTATION before the imports.

DOCUMENTATION = r"""
name: rackwright_acceptance
short_description: Acceptance of a host against its rackwright_acceptance specification
description:
  - C(acceptance_probes) turns a specification into what C(rackwright.infra.net_probe) must do, as
    C({host, peers}) (positional C(gateway), C(address)).
  - C(acceptance_measured) builds the measured dict from facts and probe results (keywords C(hw_inventory),
    C(gpus), C(probes), C(ports), C(bmc), C(records)).
  - C(acceptance_rows) judges a specification (input) against the measured dict; one row
    C({item, expected, measured, status, reason}) per item, status C(pass), C(fail) or C(unknown).
  - C(acceptance_report) renders rows of a host as C({status, reasons, counts, rows, markdown, junit}), the
    status being the result record's (C(ok), C(critical) when a row fails, C(unknown) when some were not
    measured).
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.rackwright.infra.plugins.module_utils import rackwright_acceptance as acceptance


def _sound(spec, where):
    problems = acceptance.spec_problems("this host", spec)
    if problems:
        raise AnsibleFilterError(f"{where}: " + "; ".join(problems))
    return spec


def acceptance_probes(spec, gateway=None, address=None):
    """What net_probe must do for SPEC; GATEWAY from facts, ADDRESS the host's own for the ports."""
    return acceptance.probe_plan(_sound(spec, "acceptance_probes"), gateway or None, address or None)


def acceptance_measured(facts, hw_inventory=None, gpus=None, probes=None, ports=None, bmc=None, records=None):
    """The measured dict: facts (with hw_inventory and gpus) plus net_probe's results and the records.

    PROBES is net_probe's result on the host, PORTS the registered results of its loop over the peers, BMC the
    rmcp result, RECORDS {kind: record or None}. What is left None was not probed: its rows are unknown."""
    if not isinstance(facts, dict):
        raise AnsibleFilterError(f"acceptance_measured: facts must be a dict, got {type(facts).__name__}")
    measured = acceptance.measured_from_facts(facts, hw_inventory or None, gpus)
    if isinstance(probes, dict):
        for key in ("ping", "dns", "ntp"):
            measured[key] = probes.get(key)
    if isinstance(ports, list):  # the registered loop of net_probe over {key: peer, value: tcp probes}
        measured["ports"] = [
            dict(result, **{"from": run["item"]["key"]})
            for run in ports
            if isinstance(run, dict) and isinstance(run.get("item"), dict)
            for result in run.get("tcp") or []
        ]
    if bmc is not None:
        measured["bmc"] = bmc
    if records is not None:
        measured["records"] = records
    return measured


def acceptance_rows(spec, measured):
    """One row per item of SPEC against MEASURED."""
    if not isinstance(measured, dict):
        raise AnsibleFilterError(f"acceptance_rows: measured must be a dict, got {type(measured).__name__}")
    return acceptance.evaluate(_sound(spec, "acceptance_rows"), measured)


def acceptance_report(rows, host):
    """HOST's verdict (the record's status and reasons) and the rows rendered as Markdown and JUnit XML."""
    if not isinstance(rows, list) or not all(isinstance(r, dict) and "status" in r for r in rows):
        raise AnsibleFilterError("acceptance_report: give the rows of acceptance_rows")
    return dict(
        acceptance.summary(rows),
        rows=rows,
        markdown=acceptance.markdown(host, rows),
        junit=acceptance.junit_xml(host, rows),
    )


class FilterModule:
    """rackwright acceptance filters."""

    def filters(self):
        return {
            "acceptance_probes": acceptance_probes,
            "acceptance_measured": acceptance_measured,
            "acceptance_rows": acceptance_rows,
            "acceptance_report": acceptance_report,
        }
