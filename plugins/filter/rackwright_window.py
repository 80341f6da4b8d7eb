# Copyright: (c) rackwright contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Jinja filter maintenance_window: is a host inside its declared maintenance window now?

Over module_utils/rackwright_window.py (the one judge of windows), for every capability that may only act
inside a window: a server replacement's cutover, a rolling reboot that otherwise stays pending.
"""

# ruff: noqa: E402 - Ansible plugins keep DOCUMENTATION before the imports.

DOCUMENTATION = r"""
name: rackwright_window
short_description: Whether a host is inside its declared maintenance window, and when the next one opens
description:
  - C(maintenance_window) judges a window spec (input; a host's C(rackwright_maintenance_window), a list of
    C({days, start, end, timezone})) at the instant C(now) and returns C({inside, allowed, override, window,
    opened, closes, next_opens, next_window, reason}). C(allowed) is true inside a window, or outside one when
    C(override) gives the reason the run proceeds anyway (then C(inside) stays false and C(override) holds the
    reason; an empty C(override) is none, and inside a window C(override) stays null).
  - C(now) is an ISO 8601 time with its UTC offset (C(2026-12-12T23:00:00+01:00)); left out, the controller's
    current time. C(name) is the variable the spec came from, which every problem names. C(timezone) is the
    zone of windows that name none (default C(UTC)).
  - An invalid spec is an error listing every problem at once; an empty spec declares no window (never inside,
    so allowed only by an override).
"""

from datetime import UTC, datetime

from ansible.errors import AnsibleFilterError

from ansible_collections.rackwright.infra.plugins.module_utils.rackwright_window import (
    NAME,
    window_problems,
    window_state,
)

NOW_EXAMPLE = "2026-12-12T23:00:00+01:00"


def _now(now):
    """(aware datetime, problem) of NOW: ISO 8601 with its offset, an aware datetime, or None for the current
    UTC time."""
    if now is None:
        return datetime.now(UTC), None
    moment = now if isinstance(now, datetime) else None
    if isinstance(now, str):
        try:
            moment = datetime.fromisoformat(now.strip())
        except ValueError:
            moment = None
    if moment is None or moment.utcoffset() is None:
        return None, f"now: expected an ISO 8601 time with its UTC offset such as {NOW_EXAMPLE}, got {now!r}"
    return moment, None


def _override_problem(override):
    if override is None or override == "" or (isinstance(override, str) and override.strip()):
        return None
    return (
        "override: expected the reason this run proceeds outside the maintenance window (a non-empty string "
        f"such as 'incident 4711: disk failing'), got {override!r}"
    )


def maintenance_window(spec, now=None, name=NAME, override=None, timezone=None):
    """SPEC judged at NOW: ``{inside, allowed, override, window, opened, closes, next_opens, next_window,
    reason}``. OVERRIDE (a non-empty reason) allows a run outside every window; TIMEZONE is the zone of the
    windows that name none. Every problem of the spec and the arguments is one error, all named at once."""
    moment, problem = _now(now)
    problems = window_problems(spec, name, default_timezone=timezone)
    problems += [p for p in (problem, _override_problem(override)) if p]
    if problems:
        listed = "\n".join(f"  - {p}" for p in problems)
        raise AnsibleFilterError(f"maintenance_window: {len(problems)} problem(s):\n{listed}")
    state = window_state(spec, moment, name=name, default_timezone=timezone)
    if state["inside"] or not override:
        return dict(state, allowed=state["inside"], override=None)
    reason = override.strip()
    return dict(
        state, allowed=True, override=reason, reason=f"{state['reason']}; proceeding by override: {reason}"
    )


class FilterModule:
    def filters(self):
        return {"maintenance_window": maintenance_window}
