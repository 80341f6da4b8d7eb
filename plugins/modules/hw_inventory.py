#!/usr/bin/python
# Copyright: (c) rackwright contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Ansible module hw_inventory: hardware inventory from dmidecode, lsblk and lspci."""

# ruff: noqa: E402 - Ansible modules keep DOCUMENTATION/EXAMPLES/RETURN before the imports.

DOCUMENTATION = r"""
---
module: hw_inventory
short_description: Hardware inventory (system, BIOS, CPUs, DIMM slots, PSUs, disks, NICs) for spec sheets
description:
  - Runs C(dmidecode), C(lsblk -J -b -d -o NAME,SIZE,TYPE,MODEL,SERIAL,ROTA,TRAN) and C(lspci -mm), or parses
    saved outputs given in O(from_files) (dmidecode text, lsblk JSON, C(nvme list -o json), C(lspci -mm) text;
    detected from the content). A saved dmidecode dump with fewer structures than its header announces is
    refused as cut off.
  - The input to spec sheets and upgrade planning - populated and empty DIMM slots, maximum memory, free PCI
    slots.
  - "Health comes only from SMBIOS status fields, which the BIOS records at boot: type 39 PSU status
    (OK ok, Non-critical warning, Critical critical, Unknown/Other/out of spec or an empty bay unknown) and
    the
    chassis boot-up/power-supply/thermal states. Dell BIOSes report every PSU as C(Present, Unknown); use
    M(rackwright.infra.bmc_health) for live PSU state."
  - A missing dmidecode gives health C(unknown) with the reason; lsblk and lspci are optional. A saved file
    that is empty or none of the four formats gives C(unknown) naming the file and the formats expected.
version_added: "1.0.0"
author: rackwright contributors (!UNKNOWN)
extends_documentation_fragment:
  - rackwright.infra.from_files
notes:
  - dmidecode needs root.
  - Supports check mode; the module never changes anything.
"""

EXAMPLES = r"""
- name: Collect the inventory
  hw_inventory:
  register: inv

- name: Spec sheet line
  ansible.builtin.debug:
    msg: >-
      {{ inv.vendor }} {{ inv.model }} ({{ inv.serial }}), {{ inv.cpus | length }} CPU,
      {{ (inv.memory.total_mb / 1024) | int }} GiB in {{ inv.memory.populated }}/{{ inv.memory.slots }} slots

- name: Parse saved outputs
  hw_inventory:
    from_files: [/var/tmp/r640-dmidecode.txt, /var/tmp/r640-lsblk.json]
  delegate_to: localhost
"""

RETURN = r"""
vendor:
  description: System manufacturer (SMBIOS type 1).
  returned: when dmidecode output was read
  type: str
  sample: Dell Inc.
model:
  description: System product name.
  returned: when dmidecode output was read
  type: str
serial:
  description: System serial number (service tag).
  returned: when dmidecode output was read
  type: str
bios:
  description: BIOS C(vendor), C(version) and C(date).
  returned: when dmidecode output was read
  type: dict
cpus:
  description:
    - Populated sockets with C(socket), C(manufacturer), C(model), C(cores), C(threads), C(max_speed_mhz).
  returned: when dmidecode output was read
  type: list
  elements: dict
dimms:
  description:
    - Every memory slot with C(locator), C(populated), C(size_mb), C(type), C(speed_mts), C(part_number).
  returned: when dmidecode output was read
  type: list
  elements: dict
memory:
  description: C(slots), C(populated), C(empty), C(total_mb), C(max_capacity_mb), C(error_correction).
  returned: when dmidecode output was read
  type: dict
psus:
  description:
    - SMBIOS type 39 power supplies with C(name), C(model), C(max_power_w), C(status), C(health),
      C(reasons).
  returned: when dmidecode output was read
  type: list
  elements: dict
pci_slots:
  description: System slots with C(designation), C(type) and C(usage) (Available/In Use).
  returned: when dmidecode output was read
  type: list
  elements: dict
disks:
  description: Whole disks from lsblk or nvme list with C(name), C(size_bytes), C(model), C(serial).
  returned: always
  type: list
  elements: dict
nics:
  description:
    - Network controllers from lspci (or onboard NICs from SMBIOS type 41 when lspci is not available).
  returned: always
  type: list
  elements: dict
health:
  description: Worst PSU/chassis health (C(ok), C(unknown), C(warning), C(critical)).
  returned: always
  type: str
reasons:
  description: Reasons behind the health, prefixed with the PSU name.
  returned: always
  type: list
  elements: str
"""

import json
import re

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.rackwright.infra.plugins.module_utils.rackwright_dmidecode import parse_dmidecode
from ansible_collections.rackwright.infra.plugins.module_utils.rackwright_health import ParseError, Verdict
from ansible_collections.rackwright.infra.plugins.module_utils.rackwright_lsblk import LSBLK_ARGS, parse_lsblk
from ansible_collections.rackwright.infra.plugins.module_utils.rackwright_lspci import parse_lspci_mm
from ansible_collections.rackwright.infra.plugins.module_utils.rackwright_module import (
    FROM_FILES_SPEC,
    finish,
    parse_safely,
    parse_saved_files,
    run_tool,
    tool_failed,
)
from ansible_collections.rackwright.infra.plugins.module_utils.rackwright_nvme import parse_list

EXPECTED = "dmidecode, lsblk -J, nvme list -o json or lspci -mm output"
PARSERS = {
    "dmidecode": parse_dmidecode,
    "lsblk": parse_lsblk,
    "nvme-list": parse_list,
    "lspci": parse_lspci_mm,
}


def detect(text, path=None):
    """'dmidecode', 'lsblk', 'nvme-list' or 'lspci' from the content of a saved output."""
    stripped = text.lstrip()
    if not stripped:
        raise ParseError("hw_inventory", path, None, f"the file is empty (expected {EXPECTED})")
    if stripped.startswith(("{", "[")):
        try:
            doc = json.loads(text)
        except ValueError:
            return "lsblk"  # let the lsblk parser report the JSON error with its line
        return "nvme-list" if isinstance(doc, dict) and "Devices" in doc else "lsblk"
    if "DMI type" in text or stripped.startswith("# dmidecode"):
        return "dmidecode"
    if re.match(r"(?:[0-9a-fA-F]{4,}:)?[0-9a-fA-F]{2}:[0-9a-fA-F]{2}\.[0-7] ", stripped):
        return "lspci"
    first = stripped.splitlines()[0][:60]
    raise ParseError(
        "hw_inventory",
        path,
        None,
        f"cannot tell which tool produced this file (expected {EXPECTED}), starts {first!r}",
    )


def parse_saved(text, path):
    kind = detect(text, path)
    return kind, PARSERS[kind](text, path)


def main():
    module = AnsibleModule(argument_spec=dict(from_files=FROM_FILES_SPEC), supports_check_mode=True)
    verdict = Verdict()
    outputs = []
    saved = parse_saved_files(module, "hw_inventory", EXPECTED, parse_saved)
    if saved is not None:
        for path, parsed, problem in saved:
            if problem is not None:
                verdict.add("unknown", problem)
                continue
            outputs.append((parsed[0], parsed[1], path))
    else:
        commands = (
            ("dmidecode", ["dmidecode"]),
            ("lsblk", ["lsblk"] + LSBLK_ARGS),
            ("lspci", ["lspci", "-mm"]),
        )
        for kind, args in commands:
            binary = module.get_bin_path(args[0], opt_dirs=["/usr/sbin", "/sbin"])
            if not binary:
                if kind == "dmidecode":
                    verdict.add("unknown", "dmidecode not found in PATH: install dmidecode")
                continue
            rc, out, err = run_tool(module, [binary] + args[1:])
            source = " ".join(args)
            if rc != 0:
                verdict.add("unknown", tool_failed(args[0], rc, out, err))
                continue
            if kind == "lspci" and not out.strip():
                outputs.append((kind, {key: [] for key in ("nics", "storage_controllers", "gpus")}, source))
                continue
            parsed, problem = parse_safely(kind, source, f"{args[0]} output", PARSERS[kind], out, source)
            if problem is not None:
                verdict.add("unknown", problem)
                continue
            outputs.append((kind, parsed, source))

    result = {"changed": False, "disks": [], "nics": []}
    onboard = []
    lspci_seen = False
    for kind, parsed, _source in outputs:
        if kind == "dmidecode":
            inventory = dict(parsed)
            onboard = inventory.pop("onboard_nics")
            verdict.absorb(inventory)
            inventory.pop("health")
            inventory.pop("reasons")
            result.update(inventory)
        elif kind == "lsblk":
            result["disks"].extend(parsed)
        elif kind == "nvme-list":
            known = {d["name"] for d in result["disks"]}
            result["disks"].extend(d for d in parsed if d["name"] not in known)
        else:
            lspci_seen = True
            result["nics"].extend(parsed["nics"])
            result.setdefault("storage_controllers", []).extend(parsed["storage_controllers"])
            result.setdefault("gpus", []).extend(parsed["gpus"])
    if not lspci_seen:
        result["nics"] = [
            {"slot": None, "vendor": None, "device": name, "revision": None} for name in onboard if name
        ]
    if not outputs and verdict.health == "ok":
        verdict.add("unknown", "no inventory source could be read")
    finish(module, verdict, **result)


if __name__ == "__main__":
    main()
