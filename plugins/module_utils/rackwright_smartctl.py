# Copyright: (c) rackwright contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Parse ``smartctl --json -x`` (SATA, SAS/SCSI, NVMe) into a disk health verdict.

Rules follow check_smart, scrutiny and smartctl_exporter (see docs of the disk_health module):
JSON is evaluated even when smartctl's exit status is non-zero; only exit bits 0/1 mean "no data".
"""

from ansible.module_utils.rackwright_health import ParseError, Verdict, load_json

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
    limits = dict(DEFAULT_THRESHOLDS, **(thresholds or {}))
    meta = doc.get("smartctl") or {}
    exit_info = decode_exit_status(meta.get("exit_status", rc))
    device = doc.get("device") or {}
    protocol = device.get("protocol")
    smart_status = doc.get("smart_status")
    temperature = (doc.get("temperature") or {}).get("current")
    disk = {
        "device": device.get("name") or source,
        "type": device.get("type"),
        "protocol": protocol,
        "model": _model(doc),
        "serial": doc.get("serial_number"),
        "firmware": doc.get("firmware_version"),
        "capacity_bytes": (doc.get("user_capacity") or {}).get("bytes") or doc.get("nvme_total_capacity"),
        "rotation_rate": doc.get("rotation_rate"),
        "power_on_hours": (doc.get("power_on_time") or {}).get("hours"),
        "temperature_c": temperature if temperature and temperature > 0 else None,
        "smart_passed": smart_status.get("passed") if isinstance(smart_status, dict) else None,
        "percentage_used": None,
        "exit_status": exit_info["rc"],
        "exit_flags": exit_info["flags"],
        "attributes": {},
    }
    verdict = Verdict()
    if not exit_info["usable"]:
        errors = [m.get("string", "") for m in meta.get("messages", []) if m.get("severity") == "error"]
        detail = errors[0] if errors else "; ".join(exit_info["flags"])
        verdict.add("unknown", f"smartctl returned no device data (exit status {exit_info['rc']}): {detail}")
        disk.update(verdict.as_dict())
        return disk

    if not isinstance(smart_status, dict) or "passed" not in smart_status:
        verdict.add("unknown", "no SMART health status reported (logical RAID volume or unsupported bridge?)")
    elif not smart_status["passed"]:
        verdict.add("critical", "SMART overall-health self-assessment failed")
    elif exit_info["rc"] & 0x08:
        verdict.add("critical", "smartctl reports DISK FAILING (exit status bit 3)")

    if protocol == "NVMe" or "nvme_smart_health_information_log" in doc:
        _check_nvme(doc.get("nvme_smart_health_information_log") or {}, disk, limits, verdict)
    elif protocol == "SCSI":
        _check_scsi(doc, disk, limits, verdict)
    else:
        _check_ata(doc, disk, limits, verdict, exit_info["rc"])
    evaluate_wear(disk["percentage_used"], limits, verdict)

    if exit_info["rc"] & 0x80:
        verdict.add("warning", "self-test log contains errors (smartctl exit status bit 7)")
    if exit_info["rc"] & 0x40 and limits["error_log_warning"]:
        verdict.add("warning", "device error log contains errors (smartctl exit status bit 6)")
    disk.update(verdict.as_dict())
    return disk


def _model(doc):
    model = doc.get("model_name") or doc.get("scsi_model_name")
    if model:
        return model
    parts = [doc.get(key) for key in ("vendor", "product", "scsi_vendor", "scsi_product")]
    return " ".join(p.strip() for p in parts if p) or None


def _check_ata(doc, disk, limits, verdict, rc):
    table = (doc.get("ata_smart_attributes") or {}).get("table") or []
    attributes = disk["attributes"]
    failing_now = failed_past = False
    wear = []
    for attr in table:
        attr_id = attr.get("id")
        name = attr.get("name") or f"attribute {attr_id}"
        raw = (attr.get("raw") or {}).get("value")
        when_failed = attr.get("when_failed") or ""
        normalized, thresh = attr.get("value"), attr.get("thresh")
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


def _check_scsi(doc, disk, limits, verdict):
    attributes = disk["attributes"]
    defects = doc.get("scsi_grown_defect_list")
    if defects is not None:
        attributes["grown_defect_list"] = defects
        if defects > limits["grown_defects_warning"]:
            verdict.add("warning", f"grown defect list {defects} > {limits['grown_defects_warning']}")
    counters = doc.get("scsi_error_counter_log") or {}
    for direction in ("read", "write", "verify"):
        uncorrected = (counters.get(direction) or {}).get("total_uncorrected_errors")
        if uncorrected is None:
            continue
        attributes[f"{direction}_uncorrected_errors"] = uncorrected
        if uncorrected > limits["uncorrected_errors_warning"]:
            verdict.add(
                "warning",
                f"uncorrected {direction} errors {uncorrected} > {limits['uncorrected_errors_warning']}",
            )
    endurance = doc.get("scsi_percentage_used_endurance_indicator")
    if endurance is not None:
        disk["percentage_used"] = endurance
    trip = (doc.get("temperature") or {}).get("drive_trip")
    current = disk["temperature_c"]
    if current is not None and trip and current >= trip:
        verdict.add("critical", f"temperature {current} C >= drive trip point {trip} C")
    else:
        evaluate_temperature(
            disk["temperature_c"], limits["temperature_warning"], limits["temperature_critical"], verdict
        )


def _check_nvme(log, disk, limits, verdict):
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
            attributes[key] = log[key]
    evaluate_nvme_log(attributes, limits, verdict)
    disk["percentage_used"] = attributes.get("percentage_used")
    if disk["temperature_c"] is None and log.get("temperature"):
        disk["temperature_c"] = log["temperature"]
    evaluate_temperature(
        disk["temperature_c"],
        limits["nvme_temperature_warning"],
        limits["nvme_temperature_critical"],
        verdict,
    )


def evaluate_nvme_log(values, limits, verdict):
    """Judge NVMe SMART/health log values (smartctl names: critical_warning, media_errors,
    available_spare, available_spare_threshold). Shared with the nvme-cli parser."""
    warning = values.get("critical_warning") or 0
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
