# Copyright: (c) rackwright contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Parse nvme-cli JSON: ``nvme smart-log -o json`` (health) and ``nvme list -o json`` (inventory).

Handles both schemas: nvme-cli <= 2.10 (flat integer critical_warning, flat ``Devices[]`` list)
and >= 2.11 (critical_warning object, ``Devices[].Subsystems[].Controllers[].Namespaces[]``).
"""

from ansible.module_utils.rackwright_health import ParseError, Verdict, load_json, to_number
from ansible.module_utils.rackwright_smartctl import (
    DEFAULT_THRESHOLDS,
    evaluate_nvme_log,
    evaluate_temperature,
    evaluate_wear,
)

TOOL = "nvme-cli"
KELVIN = 273

# nvme-cli name -> smartctl name, so both tools yield the same attribute keys.
_RENAMES = {
    "critical_warning": "critical_warning",
    "media_errors": "media_errors",
    "percent_used": "percentage_used",
    "avail_spare": "available_spare",
    "spare_thresh": "available_spare_threshold",
    "num_err_log_entries": "num_err_log_entries",
    "unsafe_shutdowns": "unsafe_shutdowns",
    "data_units_written": "data_units_written",
}


def is_smart_log(doc):
    """True for a decoded ``nvme smart-log -o json`` document."""
    return (
        isinstance(doc, dict)
        and "critical_warning" in doc
        and ("avail_spare" in doc or "percent_used" in doc)
    )


def parse_smart_log(text, source=None, thresholds=None, device=None):
    """Disk dict (same shape as the smartctl parser) from ``nvme smart-log -o json``."""
    doc = load_json(text, TOOL, source)
    if not is_smart_log(doc):
        raise ParseError(
            TOOL, source, None, "not 'nvme smart-log -o json' output (no critical_warning/avail_spare)"
        )
    limits = dict(DEFAULT_THRESHOLDS, **(thresholds or {}))
    attributes = {}
    for name, key in _RENAMES.items():
        value = doc.get(name)
        if isinstance(value, dict):
            value = value.get("value")
        value = to_number(value)
        if value is not None:
            attributes[key] = value
    verdict = Verdict()
    evaluate_nvme_log(attributes, limits, verdict)
    used = attributes.get("percentage_used")
    evaluate_wear(used, limits, verdict)
    kelvin = to_number(doc.get("temperature"))
    temperature = kelvin - KELVIN if kelvin else None
    evaluate_temperature(
        temperature, limits["nvme_temperature_warning"], limits["nvme_temperature_critical"], verdict
    )
    disk = {
        "device": device or source,
        "type": "nvme",
        "protocol": "NVMe",
        "model": None,
        "serial": None,
        "firmware": None,
        "capacity_bytes": None,
        "rotation_rate": None,
        "power_on_hours": to_number(doc.get("power_on_hours")),
        "temperature_c": temperature,
        "smart_passed": None,
        "percentage_used": used,
        "exit_status": None,
        "exit_flags": [],
        "attributes": attributes,
    }
    disk.update(verdict.as_dict())
    return disk


def parse_list(text, source=None):
    """Namespaces from ``nvme list -o json`` (either schema): {name, model, serial, firmware, size_bytes}."""
    doc = load_json(text, TOOL, source)
    if not isinstance(doc, dict) or not isinstance(doc.get("Devices"), list):
        raise ParseError(TOOL, source, None, "not 'nvme list -o json' output (no 'Devices' list)")
    result = []
    for entry in doc["Devices"]:
        if "DevicePath" in entry:
            result.append(_namespace(entry["DevicePath"], entry, entry))
            continue
        for subsystem in entry.get("Subsystems", []):
            for controller in subsystem.get("Controllers", []):
                for namespace in controller.get("Namespaces", []):
                    result.append(_namespace("/dev/" + namespace["NameSpace"], controller, namespace))
    return result


def _namespace(path, controller, namespace):
    return {
        "name": path,
        "model": (controller.get("ModelNumber") or "").strip() or None,
        "serial": (controller.get("SerialNumber") or "").strip() or None,
        "firmware": controller.get("Firmware"),
        "size_bytes": namespace.get("PhysicalSize"),
        "rotational": False,
        "transport": controller.get("Transport", "pcie"),
    }
