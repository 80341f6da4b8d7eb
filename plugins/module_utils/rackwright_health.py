# Copyright: (c) rackwright contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Shared health vocabulary for the rackwright parsers: severity order, verdicts, parse errors."""

import json
import math
import re

HEALTH_STATES = ("ok", "unknown", "warning", "critical")
_RANK = {state: rank for rank, state in enumerate(HEALTH_STATES)}
_NUMBER_RE = re.compile(r"[-+]?\d+(?:\.\d+)?")
_DECIMAL_RE = re.compile(r"[-+]?\d+(?:[.,]\d+)?")
_BOOLEANS = {
    "true": True,
    "yes": True,
    "on": True,
    "1": True,
    "false": False,
    "no": False,
    "off": False,
    "0": False,
}


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
    """Top-level Verdict from a list of items carrying health/reasons (their reasons prefixed by NAME_KEY)."""
    verdict = Verdict()
    if not items and empty_health != "ok":
        verdict.add(empty_health, empty_reason)
    for item in items:
        verdict.absorb(item, item.get(name_key))
    return verdict


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


def to_decimal(value):
    """Like to_number, but a decimal comma counts as a decimal point: "30,5%" -> 30.5 (locale output).

    Only for values that are never written with thousands separators (percentages, temperatures).
    """
    # Exact types on purpose: bool is a subclass of int, and true/false is not a number.
    if type(value) is int or type(value) is float:  # pylint: disable=unidiomatic-typecheck
        return value
    if isinstance(value, str):
        match = _DECIMAL_RE.search(value)
        if match and "," in match.group(0):
            return float(match.group(0).replace(",", "."))
    return to_number(value)


def coerce_thresholds(given, defaults, option="thresholds"):
    """``defaults`` updated with ``given``; raises ValueError naming the key and what was expected.

    Values may be numbers or numeric strings (AWX surveys and ``-e key=value`` produce strings); a boolean
    default takes a boolean or one of Ansible's boolean words.
    """
    if not given:
        return dict(defaults)
    if not isinstance(given, dict):
        raise ValueError(f"{option} must be a dict, got {type(given).__name__} {given!r}")
    unknown = sorted(str(key) for key in set(given) - set(defaults))
    if unknown:
        raise ValueError(f"unknown {option} {unknown}; valid keys: {sorted(defaults)}")
    limits = dict(defaults)
    for key, value in given.items():
        default = defaults[key]
        if isinstance(default, bool):
            word = str(value).strip().lower() if isinstance(value, (str, int)) else None
            if isinstance(value, bool):
                limits[key] = value
            elif word in _BOOLEANS:
                limits[key] = _BOOLEANS[word]
            else:
                raise ValueError(f"{option}.{key} must be true or false, got {value!r}")
            continue
        number = value
        if isinstance(value, str):
            text = value.strip()
            try:
                number = int(text)
            except ValueError:
                try:
                    number = float(text)
                except ValueError:
                    number = None
        if isinstance(number, bool) or not isinstance(number, (int, float)) or not _finite(number):
            raise ValueError(f"{option}.{key} must be a number, got {value!r}")
        limits[key] = number
    return limits


def _finite(number):
    return not isinstance(number, float) or math.isfinite(number)


def member(container, key, kind, tool, source, where=None):
    """``container[key]`` checked to be of ``kind`` (dict or list); missing or null -> an empty one.

    Raises ParseError naming the field when the value has another type (a string where an object belongs).
    """
    value = container.get(key) if isinstance(container, dict) else None
    if value is None:
        return kind()
    if not isinstance(value, kind) or isinstance(value, bool):
        label = f"{where}.{key}" if where else key
        expected = "an object" if kind is dict else "a list"
        raise ParseError(tool, source, None, f"'{label}' is {_type_name(value)}, expected {expected}")
    return value


def number_field(value, tool, source, label):
    """A JSON number, or a numeric string; None stays None; anything else raises ParseError."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise ParseError(tool, source, None, f"'{label}' is a boolean, expected a number")
    if isinstance(value, (int, float)):
        return value
    if isinstance(value, str):
        number = to_number(value)
        if number is not None and value.strip().lstrip("+-").replace(".", "", 1).isdigit():
            return number
    raise ParseError(
        tool, source, None, f"'{label}' is {_type_name(value)} {str(value)[:40]!r}, expected a number"
    )


def _type_name(value):
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__
