# Copyright: (c) rackwright contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Parse BMC sensor and event-log text from ipmitool and FreeIPMI.

Formats: ``ipmitool sdr [list]`` (3 columns), ``sdr elist`` (5 columns, also ``-c`` CSV), ``ipmitool sensor``
(10 columns), ``sdr -v`` blocks, ``sel elist``/``sel list``, FreeIPMI ``ipmi-sensors``/``ipmimonitoring``
and ``ipmi-sel`` tables with a header. Threshold status: ok / nc,lnc,unc (warning) / cr,lcr,ucr,nr,lnr,unr
(critical). Discrete sensors keep "ok" in the status column, so their state text ("Failure detected",
"Uncorrectable ECC", ...) is judged instead. Sensors without a reading (ns, na, Disabled) are listed with
health unknown and ``present: false`` and do not count towards the overall verdict.
"""

import re

from ansible_collections.rackwright.infra.plugins.module_utils.rackwright_health import (
    ParseError,
    Verdict,
    to_decimal,
    to_number,
)

TOOL = "ipmitool"
# A BMC has a few hundred sensors and its SEL holds at most a few thousand entries.
MAX_ROWS = 20000

THRESHOLD_STATUS = {
    "ok": "ok",
    "nc": "warning",
    "lnc": "warning",
    "unc": "warning",
    "cr": "critical",
    "lcr": "critical",
    "ucr": "critical",
    "nr": "critical",
    "lnr": "critical",
    "unr": "critical",
}
NO_READING = ("ns", "na", "n/a", "disabled", "not readable", "no reading", "unavailable")
FREEIPMI_STATE = {"nominal": "ok", "warning": "warning", "critical": "critical"}

# Discrete state / SEL event text -> health (first match wins; checked lower-case).
STATE_PATTERNS = (
    (
        re.compile(
            r"predictive failure|redundancy degraded|non-redundant|correctable ecc(?! logging limit)|"
            r"upper non-critical|lower non-critical|transition to non-critical|rebuild|"
            r"throttle|correctable memory error"
        ),
        "warning",
    ),
    (
        re.compile(
            r"failure detected|ac lost|power supply .*lost|uncorrectable|ierr|thermal trip|"
            r"non-recoverable|fully redundant lost|redundancy lost|drive fault|in failed array|"
            r"upper critical|lower critical|transition to critical|configuration error|machine check|"
            r"memory error|bus (?:fatal|uncorrectable) error|watchdog.*(?:reset|power)|"
            r"power off/down|critical interrupt|chassis intrusion|intrusion detected"
        ),
        "critical",
    ),
)
ENTITY_PREFIX = {3: "CPU", 10: "PSU", 29: "Fan", 32: "DIMM"}
_CORRECTABLE_RE = re.compile(r"\bcorrectable ecc|\bcorrectable memory")
# Sensor kind by the unit of its reading (matched lower-case), the units of each kind together.
_UNITS = {
    unit: kind
    for kind, units in (
        ("temperature", ("degrees c", "c")),
        ("fan", ("rpm",)),
        ("voltage", ("volts", "v")),
        ("power", ("watts", "w")),
        ("current", ("amps", "a")),
        ("percent", ("percent", "%")),
    )
    for unit in units
}
_READING_RE = re.compile(r"^([-+]?\d+(?:\.\d+)?)\s*(?:\(\+/- [\d.]+\)\s*)?(.*)$")
_HEX_RE = re.compile(r"^0x[0-9a-f]+$", re.IGNORECASE)
_DATE_RE = re.compile(r"^\d{2}/\d{2}/(\d{2}|\d{4})$|^Pre-Init$", re.IGNORECASE)
_TIME_RE = re.compile(r"^\d{2}:\d{2}:\d{2}(?: [A-Z]{1,5})?$|^\d{6,10}$")
_SEL_ID_RE = re.compile(r"^[0-9a-fA-F]{1,8}$")
_SDR_ID_RE = re.compile(r"^[0-9a-fA-F]{1,4}h$")
_DECIMAL_COMMA_RE = re.compile(r"^([-+]?\d+),(\d+)(\s|$)")
_INTRUSION_RE = re.compile(r"intrusion", re.IGNORECASE)
SEL_ROW = "'id | date | time | sensor | event | Asserted/Deasserted'"


def judge_state_text(text):
    """Health implied by a discrete state or event description; ok when nothing alarming is named."""
    lowered = (text or "").lower()
    if _CORRECTABLE_RE.search(lowered) and "uncorrectable" not in lowered:
        return "warning"
    for pattern, health in reversed(STATE_PATTERNS):
        if pattern.search(lowered):
            return health
    return "ok"


def parse_ipmi(text, source=None):
    """Parse any supported ipmitool/FreeIPMI text; returns ``{"format", "sensors", "events"}``."""
    lines = [(n, line) for n, line in enumerate(text.splitlines(), 1) if line.strip()]
    if len(lines) > MAX_ROWS:
        raise ParseError(
            TOOL,
            source,
            None,
            f"{len(lines)} lines: more sensors or SEL entries than any BMC holds (limit {MAX_ROWS}); "
            "several hosts' outputs pasted together, or not ipmitool output?",
        )
    if not lines:
        raise ParseError(
            TOOL, source, None, "empty output (expected ipmitool sdr/sensor/sel or FreeIPMI output)"
        )
    if all(line.strip() == "SEL has no entries" for _unused, line in lines):
        return {"format": "sel", "sensors": [], "events": [], "sel_empty": True}
    first = lines[0][1].strip()
    if first.startswith("Sensor ID") and ":" in first:
        return {"format": "sdr-verbose", "sensors": _parse_verbose(lines, source), "events": []}
    header = [cell.strip().lower() for cell in first.split("|")]
    if header[:2] == ["id", "name"]:
        return {
            "format": "freeipmi-sensors",
            "sensors": _parse_freeipmi_sensors(lines[1:], header, source),
            "events": [],
        }
    if header[:3] == ["id", "date", "time"]:
        return {
            "format": "freeipmi-sel",
            "sensors": [],
            "events": _parse_freeipmi_sel(lines[1:], header, source),
        }
    separator = "|" if "|" in first else ","
    rows = []
    for lineno, line in lines:
        if separator not in line:
            continue  # interleaved errors such as "Unable to send command: Invalid argument"
        cells = [cell.strip() for cell in line.split(separator)]
        if separator == "," and len(cells) == 5 and cells[1].isdigit() and cells[2].isdigit():
            # "sdr -c" CSV written with a decimal comma: "CPU Temp,95,000,degrees C,cr" is 4 columns
            cells = [cells[0], f"{cells[1]}.{cells[2]}", cells[3], cells[4]]
        rows.append((lineno, cells))
    if not rows:
        raise ParseError(TOOL, source, lines[0][0], f"no '|' or ',' separated columns: {first[:80]!r}")
    width = len(rows[0][1])
    if width in (6, 7) and _DATE_RE.match(rows[0][1][1]) is None and _SDR_ID_RE.match(rows[0][1][1]) is None:
        raise ParseError(
            TOOL, source, rows[0][0], f"not an ipmitool sel elist row (expected {SEL_ROW}): {first[:80]!r}"
        )
    # SEL rows: id | date | time | sensor | event [| direction [| reading vs threshold]]; a threshold
    # event carries the 7th column ("Reading 95 > Threshold 80 degrees C"), and widths mix within one log.
    if width == 6 or (width in (5, 6, 7) and _DATE_RE.match(rows[0][1][1])):
        return {"format": "sel", "sensors": [], "events": _parse_sel(rows, source)}
    parsers = {
        3: ("sdr", _sdr_row),
        4: ("sdr", _sdr_csv_row),
        5: ("sdr-elist", _elist_row),
        10: ("sensor", _sensor_row),
    }
    if width not in parsers:
        raise ParseError(TOOL, source, rows[0][0], f"unexpected {width}-column row {first[:80]!r}")
    name, parser = parsers[width]
    sensors = []
    for lineno, cells in rows:
        if len(cells) != width:
            raise ParseError(
                TOOL, source, lineno, f"expected {width} columns, got {len(cells)}: output cut off?"
            )
        if width == 5 and not _SDR_ID_RE.match(cells[1]):
            raise ParseError(
                TOOL,
                source,
                lineno,
                "not an ipmitool sdr elist row (expected 'name | NNh | status | entity | reading'): "
                f"{cells[1][:20]!r} is not a sensor id",
            )
        sensors.append(parser(cells))
    return {"format": name, "sensors": sensors, "events": []}


def _reading(text):
    """Split '20 degrees C', '3.29 Volts', '0 Watts, Presence detected, Failure detected', '0x00' or
    'Presence detected' into (number, unit, state_text); hex values are raw discrete states (no text)."""
    text = text.strip()
    if "," in text:  # "45,5 degrees C" from a decimal-comma locale
        comma = _DECIMAL_COMMA_RE.match(text)
        if comma:
            text = f"{comma.group(1)}.{comma.group(2)}{text[comma.end(2) :]}"
    value, _unused, state = text.partition(",")
    value = value.strip()
    if _HEX_RE.match(value):
        return None, None, state.strip() or None
    match = _READING_RE.match(value)
    if match:
        return to_number(match.group(1)), match.group(2).strip() or None, state.strip() or None
    return None, None, text.strip()


def _sensor(name, reading, unit, status, state_text, sensor_type=None, **extra):
    verdict = Verdict()
    lowered = (status or "").lower()
    present = not (lowered in NO_READING or (state_text or "").lower() in NO_READING)
    if not present:
        verdict.add("unknown", f"{name}: no reading ({status or state_text})")
    elif lowered in THRESHOLD_STATUS and THRESHOLD_STATUS[lowered] != "ok":
        verdict.add(
            THRESHOLD_STATUS[lowered],
            "{}: status {} (reading {} {})".format(name, status, reading, unit or ""),
        )
    elif lowered not in THRESHOLD_STATUS and lowered not in ("", "discrete"):
        verdict.add("unknown", f"{name}: status {status!r} not recognised")
    if present and state_text:
        for part in state_text.split(","):
            health = judge_state_text(part)
            if health != "ok":
                verdict.add(health, f"{name}: {part.strip().lower()}")
    sensor = {
        "name": name,
        "type": sensor_type
        or _UNITS.get((unit or "").lower(), "other" if reading is not None else "discrete"),
        "reading": reading,
        "unit": unit,
        "status": status,
        "state": state_text,
        "present": present,
    }
    sensor.update(extra)
    sensor.update(verdict.as_dict())
    sensor["reasons"] = [r.strip() for r in sensor["reasons"]]
    return sensor


def _sdr_row(cells):
    name, raw, status = cells
    reading, unit, state_text = _reading(raw)
    return _sensor(name, reading, unit, status, state_text)


def _sdr_csv_row(cells):
    name, raw, unit, status = cells
    reading = to_decimal(raw)
    return _sensor(name, reading, unit or None, status, None if reading is not None else raw)


def _elist_row(cells):
    name, sensor_id, status, entity, description = cells
    reading, unit, state_text = _reading(description)
    if reading is not None and unit is None:
        state_text = description
    return _sensor(_label(name, entity), reading, unit, status, state_text, id=sensor_id, entity=entity)


def _label(name, entity):
    """'Status' + entity '10.2' -> 'PSU2 Status': generic discrete names get their IPMI entity."""
    match = re.match(r"^(\d+)\.(\d+)$", entity or "")
    prefix = ENTITY_PREFIX.get(int(match.group(1))) if match else None
    if prefix is None or any(ch.isdigit() for ch in name):
        return name
    return f"{prefix}{match.group(2)} {name}"


def _sensor_row(cells):
    name, value, unit, status = cells[:4]
    thresholds = dict(
        zip(("lnr", "lcr", "lnc", "unc", "ucr", "unr"), (to_decimal(c) for c in cells[4:]), strict=False)
    )
    if unit == "discrete":
        return _sensor(
            name,
            None,
            None,
            status if not status.startswith("0x") else "ok",
            None,
            "discrete",
            raw_state=value,
            thresholds=thresholds,
        )
    return _sensor(name, to_decimal(value), unit, status, None, thresholds=thresholds)


def _parse_verbose(lines, source):
    sensors = []
    block = None
    for lineno, line in lines:
        key, sep, value = line.partition(":")
        if not sep:
            continue  # continuation lines such as "[State Asserted]"
        key, value = key.strip(), value.strip()
        if key == "Sensor ID":
            block = {"name": re.sub(r"\s*\(0x[0-9a-f]+\)$", "", value, flags=re.IGNORECASE), "line": lineno}
            sensors.append(block)
        elif block is None:
            raise ParseError(TOOL, source, lineno, f"field {key!r} before the first 'Sensor ID'")
        elif key.startswith("Sensor Type"):
            block["type"] = value.lower()
            block["discrete"] = "Discrete" in key
        else:
            block[key] = value
    result = []
    for block in sensors:
        raw = block.get("Sensor Reading")
        reading, unit, state_text = _reading(raw) if raw else (None, None, None)
        status = block.get("Status") or ("na" if raw is None else None)
        thresholds = {
            k.lower(): to_number(v) for k, v in block.items() if k.endswith(("critical", "non-critical"))
        }
        result.append(
            _sensor(
                block["name"], reading, unit, status, state_text, block.get("type"), thresholds=thresholds
            )
        )
    return result


def _columns(cells, header, source, lineno):
    if len(cells) != len(header):
        raise ParseError(TOOL, source, lineno, f"expected {len(header)} columns, got {len(cells)}")
    return dict(zip(header, cells, strict=False))


def _parse_freeipmi_sensors(lines, header, source):
    sensors = []
    for lineno, line in lines:
        row = _columns([c.strip() for c in line.split("|")], header, source, lineno)
        state = row.get("state", "N/A")
        event = row.get("event", "").strip("'")
        sensor = _sensor(
            row["name"],
            to_number(row.get("reading")),
            row.get("units") if row.get("units") != "N/A" else None,
            "ok" if state.lower() in FREEIPMI_STATE else state,
            None,
            (row.get("type") or "").lower(),
            id=row.get("id"),
            event=event,
        )
        health = FREEIPMI_STATE.get(state.lower())
        if health and health != "ok":
            sensor["health"] = health
            sensor["reasons"] = ["{}: state {} ({})".format(row["name"], state, event)]
        sensors.append(sensor)
    return sensors


def _event(event_id, date, time, sensor, description, direction, health):
    reasons = []
    if health != "ok":
        reasons.append(
            "SEL {} {} {}: {} {}{}".format(
                event_id, date, time, sensor, description, f" ({direction.lower()})" if direction else ""
            )
        )
    return {
        "id": event_id,
        "date": date,
        "time": time,
        "sensor": sensor,
        "description": description,
        "direction": direction,
        "health": health,
        "reasons": reasons,
    }


def _parse_sel(rows, source):
    """SEL events; a Deasserted entry clears every earlier assertion of the same sensor and event.

    A chassis intrusion is judged apart: still asserted is critical (the case is open or the switch
    stuck), closed again is a warning until someone confirms the opening was authorised and clears the SEL.
    """
    events = []
    open_events = {}
    for lineno, cells in rows:
        if len(cells) < 5:
            raise ParseError(TOOL, source, lineno, f"SEL row with {len(cells)} columns, expected {SEL_ROW}")
        event_id, date, time, sensor, description = cells[:5]
        if not (_SEL_ID_RE.match(event_id) and _DATE_RE.match(date) and _TIME_RE.match(time)):
            raise ParseError(
                TOOL,
                source,
                lineno,
                f"not an ipmitool sel elist row (expected {SEL_ROW}): {' | '.join(cells)[:80]!r}",
            )
        direction = cells[5] if len(cells) > 5 else None
        health = judge_state_text(description)
        key = (sensor, description)
        if len(cells) > 6 and cells[6]:
            description = f"{description}, {cells[6]}"
        if direction == "Deasserted":
            for cleared in open_events.pop(key, []):
                cleared["cleared_by"] = event_id
                if _INTRUSION_RE.search(cleared["description"]):
                    cleared["health"] = "warning"
                    cleared["reasons"] = [
                        "SEL {} {} {}: {} {} (deasserted by SEL {} {} {}): confirm the case was opened on "
                        "purpose, then clear the SEL".format(
                            cleared["id"],
                            cleared["date"],
                            cleared["time"],
                            sensor,
                            cleared["description"],
                            event_id,
                            date,
                            time,
                        )
                    ]
                else:
                    cleared["health"], cleared["reasons"] = "ok", []
            health = "ok"
        event = _event(event_id, date, time, sensor, description, direction, health)
        if direction != "Deasserted" and health != "ok":
            open_events.setdefault(key, []).append(event)
        events.append(event)
    return events


def _parse_freeipmi_sel(lines, header, source):
    events = []
    for lineno, line in lines:
        row = _columns([c.strip() for c in line.split("|")], header, source, lineno)
        health = FREEIPMI_STATE.get(row.get("state", "").lower(), "unknown")
        events.append(
            _event(row["id"], row["date"], row["time"], row["name"], row.get("event", ""), None, health)
        )
    return events
