# Copyright: (c) rackwright contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Jinja filters over rackwright health results: worst_health, health_summary, disk_wear_forecast.

A fleet rollup of any kind of result is rackwright_record.record_rollup.

The severity order (ok < unknown < warning < critical) is the collection's module_utils one.
"""

# ruff: noqa: E402 - Ansible modules keep DOCUMENTATION/EXAMPLES/RETURN before the imports.

DOCUMENTATION = r"""
name: rackwright_health
short_description: Health roll-up and disk wear forecast filters
description:
  - C(worst_health) returns the worst of a list of health strings or of dicts carrying C(health).
  - C(health_summary) combines the results of several checks on one host (a dict check name -> module result;
    skipped checks are left out) into C(health), C(reasons) prefixed with the check's name, and C(checks).
  - C(disk_wear_forecast) estimates days until 100 % endurance and a replace-by date for a disk_health disk
    (or a list of them), from NVMe percentage_used or SSD wear attributes and power-on hours.
"""

import datetime
import math

from ansible.errors import AnsibleFilterError

from ansible_collections.rackwright.infra.plugins.module_utils.rackwright_health import (
    HEALTH_STATES as SEVERITY,
)

WEAR_ATTRIBUTES = (
    "Wear_Leveling_Count",
    "Media_Wearout_Indicator",
    "SSD_Life_Left",
    "Percent_Lifetime_Remain",
)


def _health_of(item):
    health = item.get("health") if isinstance(item, dict) else item
    if health not in SEVERITY:
        raise AnsibleFilterError(
            "not a health value: {!r} (expected one of {})".format(health, ", ".join(SEVERITY))
        )
    return health


def worst_health(items, default="ok"):
    """Worst health of health strings or dicts with a 'health' key; ``default`` for an empty list."""
    if isinstance(items, (str, dict)):
        items = [items]
    worst = default
    for item in items or []:
        health = _health_of(item)
        if SEVERITY.index(health) > SEVERITY.index(worst):
            worst = health
    return worst


_ANSIBLE_RESULT_KEYS = (
    "changed",
    "failed",
    "invocation",
    "warnings",
    "deprecations",
    "skipped",
    "skip_reason",
)


def _reasons(value):
    """A result's reasons as a list of strings (a lone string is one reason, not a list of characters)."""
    if isinstance(value, (list, tuple)):
        return [str(reason) for reason in value]
    return [str(value)] if value else []


def _check_verdict(result):
    """health/reasons of one check's result; a failed or malformed result is unknown, never dropped."""
    if result.get("failed") or result.get("unreachable"):
        return "unknown", ["check failed: {}".format(result.get("msg") or "no message")]
    health = result.get("health")
    if health not in SEVERITY:
        return "unknown", [f"result has health {health!r}, expected one of {', '.join(SEVERITY)}"]
    return health, _reasons(result.get("reasons"))


def health_summary(checks):
    """One host's verdict from ``{check: module result}``: worst health, reasons named by check.

    A check that failed (or returned no valid health) counts as unknown with its error as the reason, so a
    broken check can never leave the host looking ok.
    """
    if not isinstance(checks, dict):
        raise AnsibleFilterError(
            f"health_summary expects a dict check -> result, not {type(checks).__name__}"
        )
    ran = {}
    verdicts = []
    reasons = []
    for name, result in checks.items():
        if not isinstance(result, dict) or result.get("skipped"):
            continue
        health, why = _check_verdict(result)
        ran[name] = {k: v for k, v in result.items() if k not in _ANSIBLE_RESULT_KEYS}
        ran[name].update(health=health, reasons=why)
        verdicts.append(health)
        reasons.extend(f"{name}: {reason}" for reason in why)
    return {
        "health": worst_health(verdicts) if verdicts else "unknown",
        "reasons": reasons,
        "checks": ran,
    }


def _number(value, what, device):
    """A number from a number or numeric string; AnsibleFilterError naming the field otherwise."""
    if value is None:
        return None
    try:
        if isinstance(value, bool):
            raise ValueError
        number = float(value)  # OverflowError for ints beyond float range: caught below
        if not math.isfinite(number):
            raise ValueError
        return number
    except (TypeError, ValueError, OverflowError):
        raise AnsibleFilterError(
            f"disk_wear_forecast: {device or 'disk'} {what} is {value!r}, expected a number"
        ) from None


def _wear_used(disk):
    """(percent used, where it came from) or (None, reason)."""
    device = disk.get("device")
    if disk.get("percentage_used") is not None:
        return _number(disk["percentage_used"], "percentage_used", device), "percentage_used"
    attributes = disk.get("attributes") or {}
    for name in WEAR_ATTRIBUTES:
        if isinstance(attributes, dict) and attributes.get(name) is not None:
            return float(max(0, min(100, 100 - _number(attributes[name], name, device)))), name
    return None, "no endurance indicator (NVMe percentage_used or SSD wear attribute)"


def _forecast(disk, today):
    if not isinstance(disk, dict):
        raise AnsibleFilterError(
            f"disk_wear_forecast expects disk dicts (disk_health's disks), got {type(disk).__name__} {disk!r}"
        )
    device = disk.get("device")
    used, origin = _wear_used(disk)
    hours = _number(disk.get("power_on_hours"), "power_on_hours", device)
    if hours is not None:
        hours = int(hours) if hours == int(hours) else hours
    result = {
        "device": device,
        "percentage_used": used,
        "power_on_hours": hours,
        "wear_per_day": None,
        "days_remaining": None,
        "replace_by": None,
        "source": origin if used is not None else None,
        "reason": None,
    }
    if used is None:
        result["reason"] = origin
        return result
    if used >= 100:
        result.update(
            days_remaining=0, replace_by=today.isoformat(), reason=f"endurance exhausted ({used:g}% used)"
        )
        return result
    if not hours or hours < 0:
        result["reason"] = (
            f"power_on_hours {'unknown' if hours is None else hours}: cannot derive a wear rate"
        )
        return result
    if hours < 24 * 30:
        result["reason"] = f"only {hours:g} power-on hours: too little history to derive a wear rate"
        return result
    if used <= 0:
        result["reason"] = f"no measurable wear yet (0% used after {hours} power-on hours)"
        return result
    per_day = used / (hours / 24.0)
    days = int((100 - used) / per_day)
    result.update(
        wear_per_day=round(per_day, 6),
        days_remaining=days,
        replace_by=(today + datetime.timedelta(days=days)).isoformat(),
        reason=f"{used:g}% used after {hours} power-on hours at a constant rate",
    )
    return result


def disk_wear_forecast(disks, today=None):
    """Forecast for one disk dict (or a list): days until 100 % wear and a replace-by date (ISO).

    ``today`` (ISO date string) fixes the reference date; the default is the current date.
    Fields are null, with ``reason`` explaining why, when no forecast can be derived.
    """
    try:
        reference = datetime.date.fromisoformat(str(today)) if today else datetime.date.today()
    except ValueError:
        raise AnsibleFilterError(
            f"disk_wear_forecast: today must be a date YYYY-MM-DD, got {today!r}"
        ) from None
    if isinstance(disks, dict):
        return _forecast(disks, reference)
    if not isinstance(disks, (list, tuple)):
        raise AnsibleFilterError("disk_wear_forecast expects a disk dict or a list of them")
    return [_forecast(disk, reference) for disk in disks]


class FilterModule:
    """rackwright health filters."""

    def filters(self):
        return {
            "worst_health": worst_health,
            "health_summary": health_summary,
            "disk_wear_forecast": disk_wear_forecast,
        }
