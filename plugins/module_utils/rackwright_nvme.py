# Copyright: (c) rackwright contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Parse nvme-cli JSON: ``nvme smart-log -o json`` (health) and ``nvme list -o json`` (inventory).

Handles both schemas: nvme-cli <= 2.10 (flat integer critical_warning, flat ``Devices[]`` list)
and >= 2.11 (critical_warning object, ``Devices[].Subsystems[].Controllers[].Namespaces[]``).
"""

from ansible_collections.rackwright.infra.plugins.module_utils.rackwright_health import (
    ParseError,
    Verdict,
    coerce_thresholds,
    load_json,
    member,
    to_decimal,
    to_number,
)
from ansible_collections.rackwright.infra.plugins.module_utils.rackwright_smartctl import (
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
    limits = coerce_thresholds(thresholds, DEFAULT_THRESHOLDS)
    attributes = {}
    for name, key in _RENAMES.items():
        value = doc.get(name)
        if isinstance(value, dict):
            value = value.get("value")
        value = to_decimal(value)
        if value is not None:
            attributes[key] = int(value) if key == "critical_warning" else value
    verdict = Verdict()
    evaluate_nvme_log(attributes, limits, verdict)
    used = attributes.get("percentage_used")
    evaluate_wear(used, limits, verdict)
    kelvin = to_decimal(doc.get("temperature"))
    temperature = round(kelvin - KELVIN, 1) if kelvin else None
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
    for index, entry in enumerate(doc["Devices"]):
        where = f"Devices[{index}]"
        if not isinstance(entry, dict):
            raise ParseError(
                TOOL, source, None, f"'{where}' is not an object: not 'nvme list -o json' output"
            )
        if "DevicePath" in entry:
            result.append(_namespace(str(entry["DevicePath"]), entry, entry))
            continue
        for subsystem in member(entry, "Subsystems", list, TOOL, source, where):
            for controller in member(subsystem, "Controllers", list, TOOL, source, where + ".Subsystems[]"):
                for namespace in member(
                    controller, "Namespaces", list, TOOL, source, where + ".Controllers[]"
                ):
                    if not isinstance(namespace, dict) or not isinstance(namespace.get("NameSpace"), str):
                        raise ParseError(
                            TOOL, source, None, f"'{where}' namespace without a 'NameSpace' name"
                        )
                    result.append(_namespace("/dev/" + namespace["NameSpace"], controller, namespace))
    return result


def _namespace(path, controller, namespace):
    return {
        "name": path,
        "model": str(controller.get("ModelNumber") or "").strip() or None,
        "serial": str(controller.get("SerialNumber") or "").strip() or None,
        "firmware": controller.get("Firmware"),
        "size_bytes": namespace.get("PhysicalSize"),
        "rotational": False,
        "transport": controller.get("Transport", "pcie"),
    }
