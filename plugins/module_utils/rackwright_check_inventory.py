# Copyright: (c) rackwright contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The inventory check of the hw_inventory module, also run by health_sweep (one module run per host)."""

import json
import re

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


# The module's options (hw_inventory, disk_health, ...: AnsibleModule(**SPEC)); health_sweep validates a
# check's options against the same SPEC.
SPEC = dict(argument_spec=dict(from_files=FROM_FILES_SPEC), supports_check_mode=True)


def run(module):
    """Run the check with MODULE's params and end MODULE with its result (finish)."""
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
