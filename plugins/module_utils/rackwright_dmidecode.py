# Copyright: (c) rackwright contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Parse ``dmidecode`` text into a hardware inventory (system, BIOS, CPUs, DIMM slots, PSUs, chassis).

Record layout and placeholder handling follow fusioninventory's getDmidecodeInfos. SMBIOS status fields
are boot-time BIOS snapshots: type 39 PSU status and chassis states give a weak health signal only
(Dell reports every PSU as "Present, Unknown", which yields health unknown, not a fault).
"""

import re

from ansible_collections.rackwright.infra.plugins.module_utils.rackwright_health import (
    ParseError,
    Verdict,
    to_number,
)

TOOL = "dmidecode"

PLACEHOLDERS = frozenset(
    text.lower()
    for text in (
        "",
        "N/A",
        "None",
        "Unknown",
        "Not Specified",
        "Not Present",
        "Not Available",
        "Not Provided",
        "<BAD INDEX>",
        "<OUT OF SPEC>",
        "To Be Filled By O.E.M.",
        "Default string",
        "NO DIMM",
    )
)
_DECLARED_RE = re.compile(r"^(\d+) structures occupying \d+ bytes\.", re.MULTILINE)
_HANDLE_RE = re.compile(r"^Handle (0x[0-9A-Fa-f]+), DMI type (\d+), (\d+) bytes")
_NOISE = ("#", "Getting SMBIOS", "SMBIOS ", "Scanning ", "Table at", "Invalid entry", "Wrong DMI")
_CHASSIS_STATE = {"Warning": "warning", "Critical": "critical", "Non-recoverable": "critical"}
_PSU_STATUS = {"OK": "ok", "Non-critical": "warning", "Critical": "critical"}
_SIZE_UNITS = {"kB": 1 / 1024, "KB": 1 / 1024, "MB": 1, "GB": 1024, "TB": 1024 * 1024}


def parse_records(text, source=None):
    """DMI records: list of {handle, type, title, fields}; multi-line fields (Flags:) become lists."""
    records = []
    record = None
    last_key = None
    first_data_line = None
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        match = _HANDLE_RE.match(line)
        if match:
            record = {"handle": match.group(1), "type": int(match.group(2)), "title": None, "fields": {}}
            records.append(record)
            last_key = None
            continue
        if record is None:
            if not line.startswith(_NOISE) and not re.match(r"^\d+ structures occupying", line):
                first_data_line = first_data_line or (lineno, line.strip())
            continue
        if line.startswith("\t\t"):
            if last_key is not None:
                value = record["fields"].get(last_key)
                if not isinstance(value, list):
                    value = record["fields"][last_key] = [] if not value else [value]
                value.append(line.strip())
            continue
        if line[:1].isspace():
            key, _unused, value = line.strip().partition(":")
            last_key = key.strip()
            record["fields"][last_key] = value.strip()
            continue
        if record["title"] is None:
            record["title"] = line.strip()
        # further unindented lines are sub-headings ("On Board Device 2 Information"): keep reading fields
    if not records:
        lineno, line = first_data_line or (None, "")
        raise ParseError(
            TOOL,
            source,
            lineno,
            f"no 'Handle 0x..., DMI type N' records found (got {line[:80]!r}; expected dmidecode output)",
        )
    declared = _DECLARED_RE.search(text[:2048])
    if declared and len(records) < int(declared.group(1)):
        raise ParseError(
            TOOL,
            source,
            None,
            f"cut off: {len(records)} of the {declared.group(1)} structures its header announces "
            "(expected complete dmidecode output)",
        )
    return records


def clean(value):
    """Strip a DMI string, None for placeholders such as 'Not Specified' or 'To Be Filled By O.E.M.'."""
    if not isinstance(value, str):
        return value
    value = value.strip()
    return None if value.lower() in PLACEHOLDERS else value


def cleaned(fields, **labels):
    """``{key: clean(fields[label])}`` for each ``key=label``; a field the structure lacks gives None."""
    return {key: clean(fields.get(label)) for key, label in labels.items()}


def size_mb(text):
    """'32 GB' / '16384 MB' / '512 kB' -> MB; None for 'No Module Installed' and other non-sizes."""
    match = re.match(r"^(\d+(?:\.\d+)?)\s*(kB|KB|MB|GB|TB)\b", text or "")
    if not match:
        return None
    return int(float(match.group(1)) * _SIZE_UNITS[match.group(2)])


def parse_dmidecode(text, source=None):
    """Inventory dict with health/reasons from dmidecode text."""
    records = parse_records(text, source)
    by_type = {}
    for record in records:
        by_type.setdefault(record["type"], []).append(record["fields"])
    system = (by_type.get(1) or [{}])[0]
    bios = (by_type.get(0) or [{}])[0]
    board = (by_type.get(2) or [{}])[0]
    verdict = Verdict()
    chassis = [_chassis(fields, verdict) for fields in by_type.get(3, [])]
    psus = [_psu(index, fields) for index, fields in enumerate(by_type.get(39, []), 1)]
    for psu in psus:
        verdict.absorb(psu, psu["name"])
    dimms = [_dimm(fields) for fields in by_type.get(17, [])]
    populated = [d for d in dimms if d["populated"]]
    arrays = [f for f in by_type.get(16, []) if (f.get("Use") or "System Memory") == "System Memory"]
    inventory = {
        **cleaned(
            system,
            vendor="Manufacturer",
            model="Product Name",
            serial="Serial Number",
            uuid="UUID",
            sku="SKU Number",
        ),
        "baseboard": cleaned(board, vendor="Manufacturer", model="Product Name", serial="Serial Number"),
        "bios": cleaned(bios, vendor="Vendor", version="Version", date="Release Date"),
        "chassis": chassis,
        "cpus": [
            _cpu(fields) for fields in by_type.get(4, []) if "Populated" in (fields.get("Status") or "")
        ],
        "dimms": dimms,
        "memory": {
            "slots": len(dimms),
            "populated": len(populated),
            "empty": len(dimms) - len(populated),
            "total_mb": sum(d["size_mb"] or 0 for d in populated),
            "max_capacity_mb": sum(size_mb(f.get("Maximum Capacity")) or 0 for f in arrays) or None,
            "error_correction": clean(arrays[0].get("Error Correction Type")) if arrays else None,
        },
        "psus": psus,
        "pci_slots": [_slot(fields) for fields in by_type.get(9, [])],
        "onboard_nics": [
            clean(f.get("Reference Designation"))
            for f in by_type.get(41, [])
            if (f.get("Type") or "").startswith("Ethernet")
        ],
        "smbios_types": sorted(by_type),
    }
    inventory.update(verdict.as_dict())
    return inventory


def _chassis(fields, verdict):
    states = {}
    for key in ("Boot-up State", "Power Supply State", "Thermal State"):
        value = fields.get(key)
        states[key] = value
        if value in _CHASSIS_STATE:
            verdict.add(_CHASSIS_STATE[value], f"chassis {key.lower()}: {value} (BIOS boot-time value)")
    return {
        **cleaned(fields, type="Type", vendor="Manufacturer", serial="Serial Number", asset_tag="Asset Tag"),
        "height_u": to_number(fields.get("Height")),
        "states": states,
    }


def _cpu(fields):
    return {
        "socket": clean(fields.get("Socket Designation")),
        "manufacturer": clean(fields.get("Manufacturer")),
        "model": clean(" ".join((fields.get("Version") or "").split())),
        "cores": to_number(fields.get("Core Count")),
        "threads": to_number(fields.get("Thread Count")),
        "max_speed_mhz": to_number(fields.get("Max Speed")),
        "current_speed_mhz": to_number(fields.get("Current Speed")),
    }


def _dimm(fields):
    size = size_mb(fields.get("Size"))
    return {
        "locator": clean(fields.get("Locator")),
        "bank": clean(fields.get("Bank Locator")),
        "populated": size is not None,
        "size_mb": size,
        "type": clean(fields.get("Type")),
        "form_factor": clean(fields.get("Form Factor")),
        "speed_mts": to_number(fields.get("Speed")),
        "configured_speed_mts": to_number(
            fields.get("Configured Memory Speed") or fields.get("Configured Clock Speed")
        ),
        "manufacturer": clean(fields.get("Manufacturer")) if size else None,
        "part_number": clean(fields.get("Part Number")) if size else None,
        "serial": clean(fields.get("Serial Number")) if size else None,
        "rank": to_number(fields.get("Rank")),
    }


def _psu(index, fields):
    status = fields.get("Status") or ""
    present = status.startswith("Present")
    condition = status.partition(",")[2].strip() if present else None
    name = clean(fields.get("Location")) or f"PSU{index}"
    verdict = Verdict()
    if not present:
        verdict.add("unknown", f"bay reported empty by BIOS ({status or 'no status'})")
    elif condition in _PSU_STATUS:
        if _PSU_STATUS[condition] != "ok":
            verdict.add(_PSU_STATUS[condition], f"status: {condition.lower()} (BIOS boot-time value)")
    else:
        verdict.add("unknown", f"status {condition or status!r} not reported by BIOS: check the BMC")
    psu = {
        "name": name,
        **cleaned(
            fields,
            label="Name",
            manufacturer="Manufacturer",
            model="Model Part Number",
            serial="Serial Number",
        ),
        "max_power_w": to_number(fields.get("Max Power Capacity")),
        "present": present,
        "status": condition,
        "hot_replaceable": fields.get("Hot Replaceable") == "Yes",
    }
    psu.update(verdict.as_dict())
    return psu


def _slot(fields):
    return cleaned(fields, designation="Designation", type="Type", usage="Current Usage")
