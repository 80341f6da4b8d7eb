# Copyright: (c) rackwright contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Parse ``nvidia-smi -q -x`` XML (schemas v10..v13, drivers 418..595) into GPU health verdicts.

Rules follow dcgm-exporter's default counters and NVIDIA's field-diagnosis guidance: uncorrectable ECC,
failed row remapping, hardware thermal slowdown / power brake are critical; correctable ECC, pending page
retirement or row remapping (GPU reset needed), hardware slowdown and temperatures at the slowdown
threshold are warnings. Uses stdlib ElementTree; documents with an internal DTD subset or entity
declarations are rejected before parsing (no entity expansion possible).
"""

import re
import xml.etree.ElementTree as ET

from ansible_collections.rackwright.infra.plugins.module_utils.rackwright_health import (
    ParseError,
    Verdict,
    coerce_thresholds,
    to_decimal,
)

TOOL = "nvidia-smi"

DEFAULT_THRESHOLDS = {
    "ecc_correctable_warning": 0,
    "retired_pages_critical": 60,
}
# throttle/clocks-event reason suffix -> health when Active
THROTTLE_HEALTH = {
    "hw_slowdown": "warning",
    "sw_thermal_slowdown": "warning",
    "hw_thermal_slowdown": "critical",
    "hw_power_brake_slowdown": "critical",
}
_DOCTYPE_RE = re.compile(r"<!DOCTYPE\s+nvidia_smi_log\s+SYSTEM\s+\"(nvsmi_device_v(\d+)\.dtd)\"\s*>")


def parse_nvidia_smi(text, source=None, thresholds=None):
    """Parse nvidia-smi XML; returns ``{"driver_version", "cuda_version", "schema", "gpus": [...]}``."""
    limits = coerce_thresholds(thresholds, DEFAULT_THRESHOLDS)
    head = text[:4096]
    bad_doctype = "<!DOCTYPE" in head and not _DOCTYPE_RE.search(head)
    if bad_doctype or "<!ENTITY" in text:
        offset = text.find("<!DOCTYPE") if bad_doctype else text.find("<!ENTITY")
        line = text.count("\n", 0, offset) + 1
        raise ParseError(
            TOOL, source, line, "refusing XML with an internal DTD subset or entity declarations"
        )
    schema = _DOCTYPE_RE.search(head)
    try:
        root = ET.fromstring(text)
    except ET.ParseError as exc:
        raise ParseError(TOOL, source, exc.position[0], f"invalid XML: {exc}") from None
    if root.tag != "nvidia_smi_log":
        raise ParseError(TOOL, source, None, f"root element <{root.tag}>, expected <nvidia_smi_log>")
    gpus = [_gpu(node, index, limits) for index, node in enumerate(root.findall("gpu"))]
    return {
        "driver_version": _text(root, "driver_version"),
        "cuda_version": _text(root, "cuda_version"),
        "schema": f"v{schema.group(2)}" if schema else None,
        "gpus": gpus,
    }


def _text(node, path):
    value = node.findtext(path)
    if value is None:
        return None
    value = value.strip()
    return None if value in ("N/A", "", "Requested functionality has been deprecated") else value


def _num(node, *paths):
    for path in paths:
        value = to_decimal(_text(node, path))
        if value is not None:
            return value
    return None


def _ecc(node):
    """Correctable/uncorrectable totals for volatile and aggregate counters, pre- and post-Ampere layouts."""
    result = {}
    for scope in ("volatile", "aggregate"):
        block = node.find(f"ecc_errors/{scope}")
        correctable = uncorrectable = None
        if block is not None:
            if block.find("single_bit") is not None:
                correctable = _num(block, "single_bit/total")
                uncorrectable = _num(block, "double_bit/total")
            else:
                values = [(child.tag, to_decimal(_text(child, "."))) for child in block]
                corr = [v for tag, v in values if tag.endswith("_correctable") and v is not None]
                unc = [v for tag, v in values if "_uncorrectable" in tag and v is not None]
                correctable = sum(corr) if corr else None
                uncorrectable = sum(unc) if unc else None
        result[f"{scope}_correctable"] = correctable
        result[f"{scope}_uncorrectable"] = uncorrectable
    result["sram_threshold_exceeded"] = _text(node, "ecc_errors/aggregate/sram_threshold_exceeded") == "Yes"
    return result


def _gpu(node, index, limits):
    verdict = Verdict()
    ecc = _ecc(node)
    uncorrectable = [ecc[k] for k in ("volatile_uncorrectable", "aggregate_uncorrectable") if ecc[k]]
    if uncorrectable:
        verdict.add(
            "critical",
            "uncorrectable ECC errors (volatile {}, aggregate {})".format(
                ecc["volatile_uncorrectable"], ecc["aggregate_uncorrectable"]
            ),
        )
    correctable = max(ecc["volatile_correctable"] or 0, ecc["aggregate_correctable"] or 0)
    if correctable > limits["ecc_correctable_warning"]:
        verdict.add(
            "warning",
            f"correctable ECC errors {correctable} > {limits['ecc_correctable_warning']} "
            f"(volatile {ecc['volatile_correctable']}, aggregate {ecc['aggregate_correctable']})",
        )
    if ecc["sram_threshold_exceeded"]:
        verdict.add("critical", "SRAM ECC error threshold exceeded")

    retired = {
        "single_bit": _num(node, "retired_pages/multiple_single_bit_retirement/retired_count"),
        "double_bit": _num(node, "retired_pages/double_bit_retirement/retired_count"),
        "pending": _text(node, "retired_pages/pending_retirement") == "Yes"
        or _text(node, "retired_pages/pending_blacklist") == "Yes",
    }
    total_retired = (retired["single_bit"] or 0) + (retired["double_bit"] or 0)
    if total_retired >= limits["retired_pages_critical"]:
        verdict.add(
            "critical",
            f"retired pages {total_retired} >= {limits['retired_pages_critical']} (RMA threshold)",
        )
    elif retired["double_bit"]:
        verdict.add("warning", f"{retired['double_bit']} pages retired after double-bit ECC errors")
    if retired["pending"]:
        verdict.add("warning", "page retirement pending: reset the GPU or reboot")

    remap = {
        "correctable": _num(node, "remapped_rows/remapped_row_corr"),
        "uncorrectable": _num(node, "remapped_rows/remapped_row_unc"),
        "pending": _text(node, "remapped_rows/remapped_row_pending") == "Yes",
        "failure": _text(node, "remapped_rows/remapped_row_failure") == "Yes",
    }
    if remap["failure"]:
        verdict.add("critical", "row remapping failed: GPU needs replacement (RMA)")
    if remap["pending"]:
        verdict.add("warning", "row remapping pending: reset the GPU or reboot")
    if remap["uncorrectable"]:
        verdict.add("warning", f"{remap['uncorrectable']} rows remapped after uncorrectable errors")

    reasons_node = node.find("clocks_event_reasons")
    if reasons_node is None:
        reasons_node = node.find("clocks_throttle_reasons")
    active = []
    for child in reasons_node if reasons_node is not None else ():
        if (child.text or "").strip() == "Active":
            reason = re.sub(r"^clocks_(?:event|throttle)_reason_", "", child.tag)
            active.append(reason)
            if reason in THROTTLE_HEALTH:
                verdict.add(
                    THROTTLE_HEALTH[reason], "clock throttling: {} active".format(reason.replace("_", " "))
                )

    temperature = _num(node, "temperature/gpu_temp")
    slowdown = _num(node, "temperature/gpu_temp_slow_threshold")
    shutdown = _num(node, "temperature/gpu_temp_max_threshold")
    if temperature is not None and shutdown and temperature >= shutdown:
        verdict.add("critical", f"temperature {temperature} C >= shutdown threshold {shutdown} C")
    elif temperature is not None and slowdown and temperature >= slowdown:
        verdict.add("warning", f"temperature {temperature} C >= slowdown threshold {slowdown} C")
    memory_temp = _num(node, "temperature/memory_temp")
    memory_max = _num(node, "temperature/gpu_temp_max_mem_threshold")
    if memory_temp is not None and memory_max and memory_temp >= memory_max:
        verdict.add("critical", f"memory temperature {memory_temp} C >= {memory_max} C")

    gpu = {
        "index": _num(node, "minor_number") if _num(node, "minor_number") is not None else index,
        "name": _text(node, "product_name"),
        "uuid": _text(node, "uuid"),
        "serial": _text(node, "serial"),
        "pci_bus_id": node.get("id"),
        "vbios": _text(node, "vbios_version"),
        "temperature_c": temperature,
        "temperature_slowdown_c": slowdown,
        "temperature_shutdown_c": shutdown,
        "power_draw_w": _num(
            node,
            "power_readings/power_draw",
            "gpu_power_readings/power_draw",
            "gpu_power_readings/instant_power_draw",
            "gpu_power_readings/average_power_draw",
        ),
        "power_limit_w": _num(
            node,
            "power_readings/enforced_power_limit",
            "power_readings/power_limit",
            "gpu_power_readings/current_power_limit",
            "gpu_power_readings/power_limit",
        ),
        "performance_state": _text(node, "performance_state"),
        "utilization_percent": _num(node, "utilization/gpu_util"),
        "memory_total_mib": _num(node, "fb_memory_usage/total"),
        "memory_used_mib": _num(node, "fb_memory_usage/used"),
        "mig_mode": _text(node, "mig_mode/current_mig"),
        "mig_devices": len(node.findall("mig_devices/mig_device")),
        "ecc_mode": _text(node, "ecc_mode/current_ecc"),
        "ecc": ecc,
        "retired_pages": retired,
        "remapped_rows": remap,
        "throttle_reasons_active": active,
    }
    if not (gpu["name"] or gpu["uuid"] or gpu["serial"]) or (
        temperature is None
        and not list(node.iter("ecc_errors"))
        and not list(node.iter("clocks_event_reasons"))
        and not list(node.iter("clocks_throttle_reasons"))
    ):
        verdict.add(
            "unknown",
            "GPU entry without product name/UUID or without temperature, ECC and clock data: "
            "a cut-down document cannot vouch for a GPU (expected complete nvidia-smi -q -x output)",
        )
    gpu.update(verdict.as_dict())
    return gpu
