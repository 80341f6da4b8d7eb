# Copyright: (c) rackwright contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The result record every rackwright capability publishes, and the one rollup that reads any kind of them.

A record is ``{kind, host, time, status, reasons, details}``: KIND names the capability (``health``,
``backup``, ``restore_test``, ``storage``, later acceptance, migration, ...), STATUS is one of the severity
states (ok < unknown < warning < critical), REASONS are one line each, DETAILS is the capability's own data.
roles/common/tasks/publish_result.yml writes it to ``reports/<kind>/<host>.json`` on the controller;
roles/common/tasks/rollup.yml reads those of a set of hosts into ``reports/<kind>/fleet.json``.
"""

# ruff: noqa: E402 - Ansible plugins keep DOCUMENTATION before the imports.

DOCUMENTATION = r"""
name: rackwright_record
short_description: Build result records and roll them up
description:
  - C(result_record) builds a record from a status, kind, host, reasons and details. Its C(time) is now (UTC,
    ISO 8601), except when C(previous) (the record published before) says the same thing, when its time is
    kept, so a record changes only when the verdict does and a second run reports no change.
  - C(record_rollup) groups records (a list, or a dict host -> record or null) into C(critical), C(warning),
    C(ok) and C(unknown) host lists with C(counts), the worst C(status), each host's C(reasons) and C(time).
    A host without a valid record counts as unknown, with the reason.
"""

import datetime
import json
import re

from ansible.errors import AnsibleFilterError

from ansible_collections.rackwright.infra.plugins.module_utils.rackwright_health import (
    HEALTH_STATES as SEVERITY,
)

KIND_RE = re.compile(r"^[a-z][a-z0-9_]*$")
FIELDS = ("kind", "host", "time", "status", "reasons", "details")


def _reasons(value, where):
    if value is None:
        return []
    if isinstance(value, str):
        return [value] if value else []
    if isinstance(value, (list, tuple)):
        return [str(reason) for reason in value]
    raise AnsibleFilterError(f"{where}: reasons must be a list of strings, not {type(value).__name__}")


def _now():
    return datetime.datetime.now(datetime.UTC).replace(microsecond=0).isoformat()


def result_record(status, kind, host, reasons=None, details=None, previous=None):
    """HOST's record of KIND; PREVIOUS (a record, its JSON or empty) keeps its time if it says the same."""
    where = f"result_record({kind!r}, {host!r})"
    if not isinstance(kind, str) or not KIND_RE.match(kind):
        raise AnsibleFilterError(f"{where}: kind must be a lower-case word like 'health', got {kind!r}")
    if not isinstance(host, str) or not host:
        raise AnsibleFilterError(f"{where}: host must be a host name, got {host!r}")
    if status not in SEVERITY:
        raise AnsibleFilterError(f"{where}: status {status!r} is not one of {', '.join(SEVERITY)}")
    if details is None:
        details = {}
    if not isinstance(details, dict):
        raise AnsibleFilterError(f"{where}: details must be a dict, not {type(details).__name__}")
    reasons = _reasons(reasons, where)
    record = {"kind": kind, "host": host, "status": status, "reasons": reasons, "details": details}
    if isinstance(previous, str) and previous.strip():
        try:
            previous = json.loads(previous)
        except ValueError:
            previous = None
    same = isinstance(previous, dict) and all(previous.get(k) == v for k, v in record.items())
    record["time"] = previous["time"] if same and isinstance(previous.get("time"), str) else _now()
    return {key: record[key] for key in FIELDS}


def _verdict(host, record, kind):
    """(status, reasons, time) of HOST's record; anything that is not a valid record is unknown, with why."""
    if not isinstance(record, dict):
        return "unknown", [f"no {kind or 'result'} record for this host"], None
    if record.get("status") not in SEVERITY:
        expected = ", ".join(SEVERITY)
        return "unknown", [f"record has status {record.get('status')!r}, expected one of {expected}"], None
    return record["status"], _reasons(record.get("reasons"), f"record of {host}"), record.get("time")


def record_rollup(records, kind=None):
    """Fleet view of result records: a list of records, or a dict host -> record (None: no record)."""
    if isinstance(records, (list, tuple)):
        if not all(isinstance(r, dict) and isinstance(r.get("host"), str) for r in records):
            raise AnsibleFilterError("record_rollup: a list must hold records, each with a host")
        records = {r["host"]: r for r in records}
    if not isinstance(records, dict):
        raise AnsibleFilterError(
            f"record_rollup expects a list of records or a dict host -> record, got {type(records).__name__}"
        )
    groups = {state: [] for state in ("critical", "warning", "ok", "unknown")}
    reasons, times = {}, {}
    for host in sorted(records):
        status, why, time = _verdict(host, records[host], kind)
        groups[status].append(host)
        if why:
            reasons[host] = why
        if time:
            times[host] = time
    worst = max((s for s in groups if groups[s]), key=SEVERITY.index, default="unknown")
    counts = {state: len(hosts) for state, hosts in groups.items()}
    counts["total"] = len(records)
    return {"kind": kind, "status": worst, "counts": counts, **groups, "reasons": reasons, "time": times}


class FilterModule:
    """rackwright result record filters."""

    def filters(self):
        return {"result_record": result_record, "record_rollup": record_rollup}
