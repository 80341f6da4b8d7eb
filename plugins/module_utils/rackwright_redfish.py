# Copyright: (c) rackwright contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Turn Redfish resources (Thermal, Power, ComputerSystem, Chassis, Drive, Sensor, storage controllers)
into BMC sensor verdicts.

Rules follow check_redfish: components with State Absent are skipped, a missing Health with State Enabled
counts as OK, Health Warning warns and anything else than OK/Warning is critical. Readings are also checked
against the resource's own Upper/Lower thresholds (NonCritical -> warning, Critical/Fatal -> critical).
"""

from ansible_collections.rackwright.infra.plugins.module_utils.rackwright_health import (
    ParseError,
    Verdict,
    load_json,
    member,
    to_decimal,
)

TOOL = "redfish"
HEALTH = {"ok": "ok", "warning": "warning", "critical": "critical"}
_ROLLUPS = ("computersystem", "chassis")


def parse_redfish(text, source=None):
    """Sensors from one Redfish JSON document (text)."""
    doc = load_json(text, TOOL, source)
    return resource_sensors(doc, source)


def resource_sensors(doc, source=None):
    """Sensors from one decoded Redfish resource; raises ParseError for non-Redfish JSON."""
    if not isinstance(doc, dict) or not ("@odata.type" in doc or "@odata.id" in doc):
        raise ParseError(TOOL, source, None, "no @odata.type/@odata.id: not a Redfish resource")
    kind = _kind(doc)
    sensors = []

    def items(key):
        rows = member(doc, key, list, TOOL, source)
        for index, row in enumerate(rows):
            if not isinstance(row, dict):
                raise ParseError(TOOL, source, None, f"'{key}[{index}]' is not an object")
            _check_status(row, f"{key}[{index}]", source)
        return rows

    _check_status(doc, kind, source)
    if kind == "Thermal":
        for fan in items("Fans"):
            _add(
                sensors,
                fan,
                "fan",
                fan.get("Name") or fan.get("FanName"),
                _first(fan, "Reading", "CurrentReading"),
                fan.get("ReadingUnits") or fan.get("Units"),
            )
        for temp in items("Temperatures"):
            _add(sensors, temp, "temperature", temp.get("Name"), temp.get("ReadingCelsius"), "C")
        for group in items("Redundancy"):
            _add(sensors, group, "redundancy", group.get("Name"), None, None)
    elif kind == "Power":
        for psu in items("PowerSupplies"):
            name = psu.get("Name") or "PSU"
            if psu.get("MemberId") is not None and str(psu["MemberId"]) not in name:
                name = "{} {}".format(name, psu["MemberId"])
            _add(
                sensors,
                psu,
                "power_supply",
                name,
                _first(psu, "PowerOutputWatts", "LastPowerOutputWatts", "PowerInputWatts"),
                "W",
            )
        for volt in items("Voltages"):
            _add(sensors, volt, "voltage", volt.get("Name"), volt.get("ReadingVolts"), "V")
        for group in items("Redundancy"):
            _add(sensors, group, "redundancy", group.get("Name"), None, None)
        for control in items("PowerControl"):
            _add(
                sensors,
                control,
                "power",
                control.get("Name") or "Power control",
                control.get("PowerConsumedWatts"),
                "W",
            )
    elif kind == "Sensor":
        _add(
            sensors,
            doc,
            (doc.get("ReadingType") or "sensor").lower(),
            doc.get("Name"),
            doc.get("Reading"),
            doc.get("ReadingUnits"),
            thresholds=doc.get("Thresholds"),
        )
    else:
        name = doc.get("Name") or doc.get("Id") or kind
        if doc.get("Model") and kind not in ("ComputerSystem", "Chassis") and doc["Model"] not in name:
            name = "{} {}".format(name, doc["Model"])
        if kind == "Drive":
            label = ((doc.get("PhysicalLocation") or {}).get("PartLocation") or {}).get("ServiceLabel")
            name = f"{name} ({label})" if label else name
        _add(sensors, doc, kind.lower(), name, None, None, rollup=True)
        for summary in ("ProcessorSummary", "MemorySummary"):
            if isinstance(doc.get(summary), dict):
                _check_status(doc[summary], summary, source)
                _add(
                    sensors,
                    doc[summary],
                    summary[:-7].lower(),
                    f"{name} {summary}",
                    None,
                    None,
                    rollup=True,
                )
        oem = member(doc, "Oem", dict, TOOL, source)
        aggregate = (member(oem, "Hpe", dict, TOOL, source, "Oem")).get("AggregateHealthStatus") or {}
        for part, value in sorted(aggregate.items()) if isinstance(aggregate, dict) else ():
            if isinstance(value, dict) and isinstance(value.get("Status"), dict):
                _check_status(value, part, source)
                _add(sensors, value, "rollup", f"{name} {part} (iLO aggregate)", None, None)
    return sensors


def _check_status(item, where, source):
    """A Status must be an object {State, Health, HealthRollup} of strings (or null)."""
    status = item.get("Status")
    if status is None:
        return
    if not isinstance(status, dict):
        raise ParseError(
            TOOL, source, None, f"'{where}.Status' is {status!r}, expected an object {{State, Health}}"
        )
    for key in ("State", "Health", "HealthRollup"):
        if status.get(key) is not None and not isinstance(status[key], str):
            raise ParseError(
                TOOL, source, None, f"'{where}.Status.{key}' is {status[key]!r}, expected a string"
            )


def _reading(value):
    """A Redfish reading: a number; numeric strings (seen on some BMCs) are accepted, others dropped."""
    if isinstance(value, bool):
        return None
    return to_decimal(value) if isinstance(value, (int, float, str)) else None


def _kind(doc):
    odata = doc.get("@odata.type") or ""
    kind = odata.lstrip("#").split(".")[0]
    if kind:
        return kind
    for key in ("Fans", "Temperatures"):
        if key in doc:
            return "Thermal"
    return "Power" if "PowerSupplies" in doc else "Resource"


def _first(item, *keys):
    for key in keys:
        if item.get(key) is not None:
            return item[key]
    return None


def _add(sensors, item, sensor_type, name, reading, unit, thresholds=None, rollup=False):
    status = item.get("Status") or {}
    state = status.get("State")
    if state == "Absent":
        return
    health_text = (
        status.get("HealthRollup") if rollup and status.get("HealthRollup") else status.get("Health")
    )
    verdict = Verdict()
    reading = _reading(reading)
    name = str(name or item.get("MemberId") or sensor_type)
    if health_text is None:
        if state not in (None, "Enabled"):
            return  # Disabled/StandbyOffline parts without health carry no verdict
        if not status and reading is None:
            return
    else:
        level = HEALTH.get(health_text.lower(), "critical")
        if level != "ok":
            what = "health rollup" if health_text is status.get("HealthRollup") and rollup else "health"
            hint = " (find the failing component in the BMC event log)" if sensor_type in _ROLLUPS else ""
            verdict.add(level, f"{name} {what} {health_text}{hint}")
    if reading is not None:
        _check_thresholds(verdict, name, reading, unit, item, thresholds)
    sensor = {
        "name": name,
        "type": sensor_type,
        "reading": reading,
        "unit": unit,
        "status": health_text,
        "state": state,
        "present": True,
    }
    sensor.update(verdict.as_dict())
    sensors.append(sensor)


def _check_thresholds(verdict, name, reading, unit, item, thresholds):
    if isinstance(thresholds, dict) and thresholds:  # Sensor resource: {"UpperCritical": {"Reading": n}}
        limits = {
            key: _reading(value.get("Reading"))
            for key, value in thresholds.items()
            if isinstance(value, dict)
        }
        upper = [
            ("critical", limits.get("UpperFatal")),
            ("critical", limits.get("UpperCritical")),
            ("warning", limits.get("UpperCaution")),
        ]
        lower = [
            ("critical", limits.get("LowerFatal")),
            ("critical", limits.get("LowerCritical")),
            ("warning", limits.get("LowerCaution")),
        ]
    else:
        upper = [
            ("critical", _reading(item.get("UpperThresholdFatal"))),
            ("critical", _reading(item.get("UpperThresholdCritical"))),
            ("warning", _reading(item.get("UpperThresholdNonCritical"))),
        ]
        lower = [
            ("critical", _reading(item.get("LowerThresholdFatal"))),
            ("critical", _reading(item.get("LowerThresholdCritical"))),
            ("warning", _reading(item.get("LowerThresholdNonCritical"))),
        ]
    unit = unit or ""
    for level, limit in upper:
        if isinstance(limit, (int, float)) and limit > 0 and reading >= limit:
            verdict.add(level, f"{name} reading {reading} {unit} >= threshold {limit}")
            return
    for level, limit in lower:
        if isinstance(limit, (int, float)) and limit > 0 and reading <= limit:
            verdict.add(level, f"{name} reading {reading} {unit} <= threshold {limit}")
            return
