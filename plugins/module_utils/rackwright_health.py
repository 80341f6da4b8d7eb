# Copyright: (c) rackwright contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Shared health vocabulary for the rackwright parsers: severity order, verdicts, parse errors."""

import json
import re

HEALTH_STATES = ("ok", "unknown", "warning", "critical")
_RANK = {state: rank for rank, state in enumerate(HEALTH_STATES)}
_NUMBER_RE = re.compile(r"[-+]?\d+(?:\.\d+)?")


class ParseError(Exception):
    """Output of a hardware tool that cannot be understood.

    ``line`` is 1-based, or None when a line number makes no sense (whole-document errors).
    """

    def __init__(self, tool, source, line, message):
        self.tool = tool
        self.source = source
        self.line = line
        self.message = message
        super().__init__(str(self))

    def __str__(self):
        where = self.source or "<input>"
        if self.line is not None:
            where = f"{where} line {self.line}"
        return f"{self.tool} output in {where}: {self.message}"


def worst(states, default="ok"):
    """Worst health of an iterable of health strings; ``default`` when empty."""
    result = default
    for state in states:
        if _RANK[state] > _RANK[result]:
            result = state
    return result


class Verdict:
    """Accumulates a health state and the human-readable reasons behind it."""

    __slots__ = ("health", "reasons")

    def __init__(self, health="ok"):
        self.health = health
        self.reasons = []

    def add(self, health, reason):
        """Record a finding; the verdict keeps the worst health seen."""
        if _RANK[health] > _RANK[self.health]:
            self.health = health
        self.reasons.append(reason)

    def absorb(self, item, prefix=None):
        """Fold an item's (dict with health/reasons) verdict in, prefixing its reasons with its name."""
        if _RANK[item["health"]] > _RANK[self.health]:
            self.health = item["health"]
        for reason in item["reasons"]:
            self.reasons.append(f"{prefix}: {reason}" if prefix else reason)

    def as_dict(self):
        return {"health": self.health, "reasons": list(self.reasons)}


def rollup(items, name_key, empty_health="ok", empty_reason=None):
    """Top-level verdict dict from a list of items carrying health/reasons."""
    verdict = Verdict()
    if not items and empty_health != "ok":
        verdict.add(empty_health, empty_reason)
    for item in items:
        verdict.absorb(item, item.get(name_key))
    return verdict.as_dict()


def load_json(text, tool, source):
    """json.loads that raises ParseError with the offending line."""
    try:
        return json.loads(text)
    except ValueError as exc:
        message = "invalid JSON: {}".format(getattr(exc, "msg", exc))
        raise ParseError(tool, source, getattr(exc, "lineno", None), message) from None


def to_number(value):
    """First number in a value such as 42, "42", " 36 C", "26.16 W", "N/A" -> 42/42/36/26.16/None."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return value
    match = _NUMBER_RE.search(str(value))
    if not match:
        return None
    text = match.group(0)
    return float(text) if "." in text else int(text)
