# Copyright: (c) rackwright contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Parse ``smartctl --json -x`` (SATA, SAS/SCSI, NVMe) into a disk health verdict.

Rules follow check_smart, scrutiny and smartctl_exporter (see docs of the disk_health module):
JSON is evaluated even when smartctl's exit status is non-zero; only exit bits 0/1 mean "no data".
"""

import re

from ansible_collections.rackwright.infra.plugins.module_utils.rackwright_health import (
    ParseError,
    Verdict,
    coerce_thresholds,
    load_json,
    member,
    number_field,
    to_number,
)

TOOL = "smartctl"

# Defaults follow check_smart (raw counters > 0 warn, Load_Cycle_Count 550k/600k),
# scrutiny/smartctl_exporter (NVMe critical_warning, media_errors, available spare) and
# common datacenter temperature limits.
DEFAULT_THRESHOLDS = {
    "reallocated_warning": 0,
    "pending_warning": 0,
    "offline_uncorrectable_warning": 0,
    "reported_uncorrect_warning": 0,
    "reallocated_event_warning": 0,
    "load_cycle_warning": 550000,
    "load_cycle_critical": 600000,
    "grown_defects_warning": 0,
    "uncorrected_errors_warning": 0,
    "media_errors_warning": 0,
    "percentage_used_warning": 80,
    "percentage_used_critical": 100,
    "temperature_warning": 55,
    "temperature_critical": 65,
    "nvme_temperature_warning": 70,
    "nvme_temperature_critical": 80,
    "error_log_warning": False,
}

EXIT_BITS = (
    "command line did not parse",
    "device open failed, device did not return IDENTIFY data or is in a low-power mode",
    "some SMART or ATA command to the disk failed, or there was a checksum error",
    "SMART status check returned 'DISK FAILING'",
    "prefail attributes at or below threshold",
    "attributes at or below threshold in the past",
    "device error log contains records of errors",
    "device self-test log contains records of errors",
)

# ATA attribute id -> (threshold key, phrase used in the reason). Only ids whose raw value is a plain count.
ATA_COUNTERS = {
    5: ("reallocated_warning", "reallocated sectors"),
    196: ("reallocated_event_warning", "reallocation events"),
    197: ("pending_warning", "pending sectors"),
    198: ("offline_uncorrectable_warning", "offline uncorrectable sectors"),
    187: ("reported_uncorrect_warning", "reported uncorrectable errors"),
}
# Reported for information only: 199 (CRC errors) is noisy cabling, 9/12/241 are usage counters.
# 188 and 1/7/190/194 are vendor-packed raw values and are never reported as counts.
ATA_INFO_IDS = (9, 12, 199, 241)
# Normalized value = remaining life in percent.
SSD_WEAR_IDS = (177, 231, 233)

NVME_WARNING_BITS = (
    "available spare below threshold",
    "temperature above or below threshold",
    "NVM subsystem reliability degraded",
    "media placed in read-only mode",
    "volatile memory backup failed",
    "persistent memory region read-only",
)


def decode_exit_status(rc):
    """Decode smartctl's exit-status bitmask.

    Returns ``{"rc", "flags": [text...], "usable": bool}``; ``usable`` is False when bits 0/1
    say the JSON carries no device data.
    """
    rc = int(rc or 0)
    flags = [text for bit, text in enumerate(EXIT_BITS) if rc & (1 << bit)]
    return {"rc": rc, "flags": flags, "usable": not rc & 0b11}


def decode_nvme_critical_warning(value):
    """Names of the bits set in an NVMe critical_warning byte."""
    names = [text for bit, text in enumerate(NVME_WARNING_BITS) if value & (1 << bit)]
    if value >> len(NVME_WARNING_BITS):
        names.append("reserved bits 0x%02x" % (value & ~0x3F))
    return names


def parse_scan(text, source=None):
    """Devices from ``smartctl --scan-open --json``: list of {name, type, protocol, open_error}."""
    doc = load_json(text, TOOL, source)
    if not isinstance(doc, dict) or not isinstance(doc.get("devices", []), list):
        raise ParseError(TOOL, source, None, "--scan-open JSON has no 'devices' list")
    devices = []
    for entry in doc.get("devices", []):
        if not isinstance(entry, dict) or "name" not in entry:
            raise ParseError(TOOL, source, None, "--scan-open device entry without 'name'")
        devices.append(
            {
                "name": entry["name"],
                "type": entry.get("type"),
                "protocol": entry.get("protocol"),
                "open_error": entry.get("open_error"),
            }
        )
    return devices


def parse_smartctl_json(text, source=None, thresholds=None, rc=None):
    """Parse one ``smartctl --json -x`` document into a disk dict with health and reasons.

    ``rc`` is the process exit status when known; ``smartctl.exit_status`` in the JSON wins.
    """
    doc = load_json(text, TOOL, source)
    if not isinstance(doc, dict) or not ("smartctl" in doc or "device" in doc):
        raise ParseError(TOOL, source, None, "not smartctl --json output (no 'smartctl' or 'device' key)")
    return evaluate(doc, source, thresholds, rc)


def evaluate(doc, source=None, thresholds=None, rc=None):
    """Disk dict with health and reasons from a decoded smartctl document (JSON, or built from text).

    Every field is type-checked: a value of the wrong JSON type raises ParseError naming the field.
    """
    r = _Reader(source)
    limits = coerce_thresholds(thresholds, DEFAULT_THRESHOLDS)
    meta = r.obj(doc, "smartctl")
    exit_info = decode_exit_status(r.num(meta.get("exit_status", rc), "smartctl.exit_status"))
    device = r.obj(doc, "device")
    protocol = device.get("protocol") if isinstance(device.get("protocol"), str) else None
    smart_status = doc.get("smart_status")
    temperature = r.num(r.obj(doc, "temperature").get("current"), "temperature.current")
    passed = smart_status.get("passed") if isinstance(smart_status, dict) else None
    disk = {
        "device": _text(device.get("name")) or source,
        "type": _text(device.get("type")),
        "protocol": protocol,
        "model": _model(doc),
        "serial": _text(doc.get("serial_number")),
        "firmware": _text(doc.get("firmware_version")),
        "capacity_bytes": r.num(r.obj(doc, "user_capacity").get("bytes"), "user_capacity.bytes")
        or r.num(doc.get("nvme_total_capacity"), "nvme_total_capacity"),
        "rotation_rate": r.num(doc.get("rotation_rate"), "rotation_rate"),
        "power_on_hours": r.num(r.obj(doc, "power_on_time").get("hours"), "power_on_time.hours"),
        "temperature_c": temperature if temperature and temperature > 0 else None,
        "smart_passed": passed if isinstance(passed, bool) else None,
        "percentage_used": None,
        "exit_status": exit_info["rc"],
        "exit_flags": exit_info["flags"],
        "attributes": {},
    }
    verdict = Verdict()
    if not exit_info["usable"]:
        errors = [
            (m.get("string") if isinstance(m, dict) else str(m)) or ""
            for m in r.list(meta, "messages", "smartctl")
            if not isinstance(m, dict) or m.get("severity") == "error"
        ]
        detail = errors[0] if errors else "; ".join(exit_info["flags"])
        verdict.add("unknown", f"smartctl returned no device data (exit status {exit_info['rc']}): {detail}")
        disk.update(verdict.as_dict())
        return disk

    if not isinstance(smart_status, dict) or "passed" not in smart_status:
        verdict.add("unknown", "no SMART health status reported (logical RAID volume or unsupported bridge?)")
    elif not isinstance(passed, bool):
        verdict.add("unknown", f"smart_status.passed is {passed!r}, expected true or false")
    elif not passed:
        verdict.add("critical", "SMART overall-health self-assessment failed")
    elif exit_info["rc"] & 0x08:
        verdict.add("critical", "smartctl reports DISK FAILING (exit status bit 3)")

    if protocol == "NVMe" or "nvme_smart_health_information_log" in doc:
        evidence = _check_nvme(r, r.obj(doc, "nvme_smart_health_information_log"), disk, limits, verdict)
    elif protocol == "SCSI":
        evidence = _check_scsi(r, doc, disk, limits, verdict)
    else:
        evidence = _check_ata(r, doc, disk, limits, verdict, exit_info["rc"])
    evaluate_wear(disk["percentage_used"], limits, verdict)

    if exit_info["rc"] & 0x80:
        verdict.add("warning", "self-test log contains errors (smartctl exit status bit 7)")
    if exit_info["rc"] & 0x40 and limits["error_log_warning"]:
        verdict.add("warning", "device error log contains errors (smartctl exit status bit 6)")
    if verdict.health == "ok":
        missing = []
        if not (disk["model"] or disk["serial"]):
            missing.append("no model or serial number")
        if not evidence:
            missing.append(
                {"NVMe": "no NVMe health log", "SCSI": "no SCSI error counters or defect list"}.get(
                    protocol, "no SMART attribute table"
                )
            )
        if missing:
            said = [
                m["string"]
                for m in r.list(meta, "messages", "smartctl")
                if isinstance(m, dict) and m.get("string")
            ]
            why = (
                "smartctl said: " + "; ".join(said)
                if said
                else (
                    "a cut-down or hand-made document cannot vouch for a disk "
                    "(expected complete smartctl -x output)"
                )
            )
            verdict.add(
                "unknown",
                "SMART status says passed, but the output has {}: {}".format(" and ".join(missing), why),
            )
    disk.update(verdict.as_dict())
    return disk


class _Reader:
    """Type-checked access to a decoded smartctl document; errors name the field and the source."""

    # Exact type checks on purpose: bool is a subclass of int, and JSON true/false is not a number here.
    # pylint: disable=unidiomatic-typecheck

    def __init__(self, source):
        self.source = source

    def obj(self, parent, key, where=None):
        value = parent.get(key) if type(parent) is dict else None
        return value if type(value) is dict else member(parent, key, dict, TOOL, self.source, where)

    def list(self, parent, key, where=None):
        value = parent.get(key) if type(parent) is dict else None
        return value if type(value) is list else member(parent, key, list, TOOL, self.source, where)

    def num(self, value, label):
        # fast path for what smartctl writes (ints, floats, null); everything else is checked
        if value is None or type(value) is int or type(value) is float:
            return value
        return number_field(value, TOOL, self.source, label)


def _text(value):
    return value.strip() or None if isinstance(value, str) else None


def _model(doc):
    model = _text(doc.get("model_name")) or _text(doc.get("scsi_model_name"))
    if model:
        return model
    parts = [_text(doc.get(key)) for key in ("vendor", "product", "scsi_vendor", "scsi_product")]
    return " ".join(p for p in parts if p) or None


def _check_ata(r, doc, disk, limits, verdict, rc):
    table = r.list(r.obj(doc, "ata_smart_attributes"), "table", "ata_smart_attributes")
    attributes = disk["attributes"]
    failing_now = failed_past = False
    wear = []
    for index, attr in enumerate(table):
        where = f"ata_smart_attributes.table[{index}]"
        if not isinstance(attr, dict):
            raise ParseError(TOOL, r.source, None, f"'{where}' is not an object")
        attr_id = r.num(attr.get("id"), where + ".id")
        name = attr.get("name") if isinstance(attr.get("name"), str) else f"attribute {attr_id}"
        raw = r.num(r.obj(attr, "raw", where).get("value"), where + ".raw.value")
        when_failed = attr.get("when_failed") if isinstance(attr.get("when_failed"), str) else ""
        normalized = r.num(attr.get("value"), where + ".value")
        thresh = r.num(attr.get("thresh"), where + ".thresh")
        if when_failed == "now":
            failing_now = True
            attributes[name] = raw
            verdict.add(
                "critical",
                f"attribute {attr_id} {name} failing now (normalized {normalized} <= threshold {thresh})",
            )
        elif when_failed == "past":
            failed_past = True
            attributes[name] = raw
            verdict.add(
                "warning",
                "attribute {} {} failed in the past (worst {} <= threshold {})".format(
                    attr_id, name, attr.get("worst"), thresh
                ),
            )
        if attr_id in ATA_COUNTERS:
            key, phrase = ATA_COUNTERS[attr_id]
            attributes[name] = raw
            if raw is not None and raw > limits[key]:
                verdict.add("warning", f"{phrase} {raw} > {limits[key]}")
        elif attr_id == 193 and raw is not None:
            attributes[name] = raw
            if raw > limits["load_cycle_critical"]:
                verdict.add("critical", f"load cycle count {raw} > {limits['load_cycle_critical']}")
            elif raw > limits["load_cycle_warning"]:
                verdict.add("warning", f"load cycle count {raw} > {limits['load_cycle_warning']}")
        elif attr_id in ATA_INFO_IDS:
            attributes[name] = raw
        if normalized is not None and (
            attr_id in SSD_WEAR_IDS or (attr_id == 202 and "life" in name.lower())
        ):
            attributes[name] = normalized
            wear.append(max(0, min(100, 100 - normalized)))
    if wear:
        disk["percentage_used"] = max(wear)
    if rc & 0x10 and not failing_now:
        verdict.add("critical", "prefail attribute at or below threshold (smartctl exit status bit 4)")
    if rc & 0x20 and not failed_past:
        verdict.add("warning", "attribute was at or below threshold in the past (smartctl exit status bit 5)")
    evaluate_temperature(
        disk["temperature_c"], limits["temperature_warning"], limits["temperature_critical"], verdict
    )
    return bool(table)


def _check_scsi(r, doc, disk, limits, verdict):
    attributes = disk["attributes"]
    defects = r.num(doc.get("scsi_grown_defect_list"), "scsi_grown_defect_list")
    if defects is not None:
        attributes["grown_defect_list"] = defects
        if defects > limits["grown_defects_warning"]:
            verdict.add("warning", f"grown defect list {defects} > {limits['grown_defects_warning']}")
    counters = r.obj(doc, "scsi_error_counter_log")
    for direction in ("read", "write", "verify"):
        label = f"scsi_error_counter_log.{direction}"
        uncorrected = r.num(r.obj(counters, direction, label).get("total_uncorrected_errors"), label)
        if uncorrected is None:
            continue
        attributes[f"{direction}_uncorrected_errors"] = uncorrected
        if uncorrected > limits["uncorrected_errors_warning"]:
            verdict.add(
                "warning",
                f"uncorrected {direction} errors {uncorrected} > {limits['uncorrected_errors_warning']}",
            )
    endurance = r.num(
        doc.get("scsi_percentage_used_endurance_indicator"), "scsi_percentage_used_endurance_indicator"
    )
    if endurance is not None:
        disk["percentage_used"] = endurance
    trip = r.num(r.obj(doc, "temperature").get("drive_trip"), "temperature.drive_trip")
    current = disk["temperature_c"]
    if current is not None and trip and current >= trip:
        verdict.add("critical", f"temperature {current} C >= drive trip point {trip} C")
    else:
        evaluate_temperature(
            disk["temperature_c"], limits["temperature_warning"], limits["temperature_critical"], verdict
        )
    return defects is not None or bool(attributes) or bool(counters)


def _check_nvme(r, log, disk, limits, verdict):
    attributes = disk["attributes"]
    for key in (
        "critical_warning",
        "media_errors",
        "percentage_used",
        "available_spare",
        "available_spare_threshold",
        "num_err_log_entries",
        "unsafe_shutdowns",
        "data_units_written",
    ):
        if key in log:
            attributes[key] = r.num(log[key], "nvme_smart_health_information_log." + key)
    evaluate_nvme_log(attributes, limits, verdict)
    disk["percentage_used"] = attributes.get("percentage_used")
    if disk["temperature_c"] is None and log.get("temperature"):
        disk["temperature_c"] = r.num(log["temperature"], "nvme_smart_health_information_log.temperature")
    evaluate_temperature(
        disk["temperature_c"],
        limits["nvme_temperature_warning"],
        limits["nvme_temperature_critical"],
        verdict,
    )
    return bool(log)


def evaluate_nvme_log(values, limits, verdict):
    """Judge NVMe SMART/health log values (smartctl names: critical_warning, media_errors,
    available_spare, available_spare_threshold). Shared with the nvme-cli parser."""
    warning = int(values.get("critical_warning") or 0)
    if warning:
        verdict.add(
            "critical",
            "NVMe critical_warning 0x{:02x}: {}".format(
                warning, ", ".join(decode_nvme_critical_warning(warning))
            ),
        )
    media_errors = values.get("media_errors")
    if media_errors is not None and media_errors > limits["media_errors_warning"]:
        verdict.add("warning", f"media errors {media_errors} > {limits['media_errors_warning']}")
    spare, spare_threshold = values.get("available_spare"), values.get("available_spare_threshold")
    if spare is not None and spare_threshold and spare < spare_threshold:
        verdict.add("critical", f"available spare {spare}% < threshold {spare_threshold}%")


def evaluate_wear(used, limits, verdict):
    """Judge an endurance-used percentage (NVMe percentage_used or derived from SSD wear attributes)."""
    if used is None:
        return
    if used >= limits["percentage_used_critical"]:
        verdict.add("critical", f"endurance used {used}% >= {limits['percentage_used_critical']}%")
    elif used >= limits["percentage_used_warning"]:
        verdict.add("warning", f"endurance used {used}% >= {limits['percentage_used_warning']}%")


def evaluate_temperature(current, warn, crit, verdict):
    """Judge a drive temperature in Celsius against warning/critical limits."""
    if current is None:
        return
    if current >= crit:
        verdict.add("critical", f"temperature {current} C >= {crit} C")
    elif current >= warn:
        verdict.add("warning", f"temperature {current} C >= {warn} C")


# ---------------------------------------------------------------------------------------------------------
# smartctl -a / -x plain text (the most common saved form). The text is turned into the JSON document
# shape above and judged by the same evaluate(), so both forms give the same verdict for the same disk.

# smartctl's banner, or one of its section headers: what tells its text from other text
_SMARTCTL_LINE_RE = re.compile(r"^smartctl \d+\.\d+ |^=== START OF .* SECTION ===$")
_ATTR_RE = re.compile(r"^\s*(\d{1,3})\s+(\S+)\s+(\S+)\s+(\d+|---)\s+(\d+|---)\s+(\d+|---)\s+(.*)$")
_SELFTEST_RE = re.compile(r"^#\s*\d+\s+(.+?)\s{2,}(.+?)\s{2,}\d+%")
_ERROR_COUNT_RE = re.compile(r"^(?:ATA|Device) Error Count:\s*(\d+)")
_SCSI_COUNTER_RE = re.compile(r"^(read|write|verify):\s+((?:[\d.,]+\s+){6}\d+)\s*$")
_NO_DEVICE = (
    "Smartctl open device:",
    "Read Device Identity failed",
    "Unable to detect device type",
    "Smartctl: Device Read Identity Failed",
)
_READ_FAILED = (
    "Read SMART Data failed",
    "Read SMART Thresholds failed",
    "Read NVMe SMART/Health Information failed",
)
_WHEN_FAILED = {"FAILING_NOW": "now", "NOW": "now", "In_the_past": "past", "Past": "past"}
# "Key:" of the information section -> document key (the value as text, but user_capacity and rotation_rate)
_INFO_FIELDS = {
    "Device Model": "model_name",
    "Model Number": "model_name",
    "Product": "scsi_product",
    "Vendor": "scsi_vendor",
    "Serial Number": "serial_number",
    "Serial number": "serial_number",
    "Firmware Version": "firmware_version",
    "Revision": "firmware_version",
    "User Capacity": "user_capacity",
    "Total NVM Capacity": "user_capacity",
    "Namespace 1 Size/Capacity": "user_capacity",
    "Rotation Rate": "rotation_rate",
}
# NVMe "SMART/Health Information" line -> smartctl JSON key
_NVME_FIELDS = {
    "Critical Warning": "critical_warning",
    "Temperature": "temperature",
    "Available Spare": "available_spare",
    "Available Spare Threshold": "available_spare_threshold",
    "Percentage Used": "percentage_used",
    "Data Units Written": "data_units_written",
    "Power On Hours": "power_on_hours",
    "Unsafe Shutdowns": "unsafe_shutdowns",
    "Media and Data Integrity Errors": "media_errors",
    "Error Information Log Entries": "num_err_log_entries",
}


def is_smartctl_text(text):
    """True when the text carries smartctl's banner or one of its '=== START OF ... ===' sections."""
    return any(_SMARTCTL_LINE_RE.match(line.strip()) for line in text.splitlines()[:40])


def parse_smartctl_text(text, source=None, thresholds=None):
    """Disk dict from saved ``smartctl -a`` / ``-x`` text (ATA, NVMe, SCSI), judged like the JSON form."""
    if not is_smartctl_text(text):
        raise ParseError(
            TOOL,
            source,
            1,
            "not smartctl output: no 'smartctl X.Y' banner or '=== START OF ... SECTION ===' line "
            "(expected smartctl --json -x JSON, smartctl -a/-x text or nvme smart-log -o json)",
        )
    return evaluate(text_to_doc(text), source, thresholds)


def text_to_doc(text):
    """The smartctl JSON document shape (only the keys evaluate() reads) built from -a/-x text."""
    doc = {"smartctl": {"exit_status": 0, "messages": []}, "device": {}}
    meta = doc["smartctl"]
    table = []
    nvme = {}
    scsi_counters = {}
    in_attributes = False
    sct_temperature = None
    for raw_line in text.splitlines():
        line = raw_line.strip()
        if not line:
            in_attributes = False
            continue
        if line.startswith(_READ_FAILED):
            meta["exit_status"] |= 0x04
            meta["messages"].append({"string": line, "severity": "warning"})
            continue
        if line.startswith(_NO_DEVICE):
            meta["exit_status"] |= 0x02
            meta["messages"].append({"string": line, "severity": "error"})
            continue
        if line.startswith("ID#") and "ATTRIBUTE_NAME" in line:
            in_attributes = True
            doc["device"].setdefault("protocol", "ATA")
            continue
        if in_attributes:
            attr = _text_attribute(line)
            if attr is not None:
                table.append(attr)
                continue
            in_attributes = False
        match = _SELFTEST_RE.match(line)
        if match and re.search(r"failure|Failed", match.group(2)):
            meta["exit_status"] |= 0x80
            continue
        match = _ERROR_COUNT_RE.match(line)
        if match and int(match.group(1)):
            meta["exit_status"] |= 0x40
            continue
        match = _SCSI_COUNTER_RE.match(line)
        if match:
            scsi_counters[match.group(1)] = {
                "total_uncorrected_errors": to_number(match.group(2).split()[-1])
            }
            continue
        key, sep, value = line.partition(":")
        if not sep:
            continue
        key, value = key.strip(), value.strip()
        if key in _INFO_FIELDS:
            name = _INFO_FIELDS[key]
            if name in doc:
                continue
            if name == "user_capacity":
                doc[name] = {"bytes": _count(value.split("bytes")[0].split("[")[0])}
            elif name == "rotation_rate":
                doc[name] = 0 if "Solid State" in value else to_number(value)
            else:
                doc[name] = value
        elif key in _NVME_FIELDS:
            doc["device"]["protocol"] = "NVMe"
            number = int(value, 16) if value.lower().startswith("0x") else _count(value.split("[")[0])
            nvme[_NVME_FIELDS[key]] = number
        elif key == "SMART overall-health self-assessment test result" and value:
            doc["smart_status"] = {"passed": value.upper().startswith("PASSED")}
        elif key == "SMART Health Status" and value:
            doc["smart_status"] = {"passed": value.upper() == "OK"}
            doc["device"]["protocol"] = "SCSI"
        elif key == "Current Temperature":
            sct_temperature = to_number(value)
        elif key == "Current Drive Temperature":
            doc["temperature"] = {"current": to_number(value)}
        elif key == "Drive Trip Temperature":
            doc.setdefault("temperature", {})["drive_trip"] = to_number(value)
        elif key == "Elements in grown defect list":
            doc["scsi_grown_defect_list"] = to_number(value)
        elif key == "Percentage used endurance indicator":
            doc["scsi_percentage_used_endurance_indicator"] = to_number(value)
        elif key.startswith("Accumulated power on time"):
            doc["power_on_time"] = {"hours": to_number(value)}
        elif key == "Transport protocol" or key == "Logical Unit id":
            doc["device"]["protocol"] = "SCSI"
    if table:
        doc["ata_smart_attributes"] = {"table": table}
        by_id = {attr["id"]: attr["raw"]["value"] for attr in table}
        current = sct_temperature or by_id.get(194) or by_id.get(190)
        if current is not None:
            doc["temperature"] = {"current": current}
        if by_id.get(9) is not None:
            doc["power_on_time"] = {"hours": by_id[9]}
    elif sct_temperature is not None and "temperature" not in doc:
        doc["temperature"] = {"current": sct_temperature}
    if nvme:
        doc["nvme_smart_health_information_log"] = nvme
        if nvme.get("temperature") is not None:
            doc["temperature"] = {"current": nvme["temperature"]}
        if nvme.get("power_on_hours") is not None:
            doc["power_on_time"] = {"hours": nvme["power_on_hours"]}
    if scsi_counters:
        doc["scsi_error_counter_log"] = scsi_counters
    return doc


def _text_attribute(line):
    """One row of the attribute table, -x brief (FLAGS ... FAIL RAW) or -a (FLAG ... WHEN_FAILED RAW)."""
    match = _ATTR_RE.match(line)
    if not match:
        return None
    attr_id, name, flags, value, worst, thresh, rest = match.groups()
    words = rest.split()
    if flags.startswith("0x"):  # -a: TYPE UPDATED WHEN_FAILED RAW_VALUE
        when, raw = (words[2], words[3:]) if len(words) >= 4 else ("-", words[2:])
    else:  # -x brief: FAIL RAW_VALUE
        when, raw = (words[0], words[1:]) if words else ("-", [])
    raw_text = " ".join(raw)
    return {
        "id": int(attr_id),
        "name": name,
        "value": to_number(value),
        "worst": to_number(worst),
        "thresh": to_number(thresh),
        "when_failed": _WHEN_FAILED.get(when, ""),
        "raw": {"value": to_number(raw_text), "string": raw_text},
    }


def _count(text):
    """Integer with any thousands separators: "1'000'204'886'016", "4\u2019000\u2019787" (right single
    quotes), "16,000,900" -> int."""
    digits = re.sub(r"[\s,.'\u2019\u00a0]", "", text.strip().rstrip("%"))
    digits = re.sub(r"\D.*$", "", digits)
    return int(digits) if digits else None
