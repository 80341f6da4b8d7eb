# Copyright: (c) rackwright contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Parse ``lspci -mm`` (machine-readable, quoted fields) into NICs, storage controllers and GPUs."""

import re
import shlex

from ansible_collections.rackwright.infra.plugins.module_utils.rackwright_health import ParseError

TOOL = "lspci"
_SLOT_RE = re.compile(r"^(?:[0-9a-fA-F]{4,}:)?[0-9a-fA-F]{2}:[0-9a-fA-F]{2}\.[0-7]$")
CLASSES = {
    "nics": ("Ethernet controller", "Network controller", "Infiniband controller"),
    "storage_controllers": (
        "RAID bus controller",
        "Serial Attached SCSI controller",
        "SATA controller",
        "Non-Volatile memory controller",
    ),
    "gpus": ("VGA compatible controller", "3D controller", "Display controller"),
}


def parse_lspci_mm(text, source=None):
    """``{"nics", "storage_controllers", "gpus"}`` lists, each item {slot, vendor, device, revision}."""
    if not text.strip():
        raise ParseError(
            TOOL, source, None, 'empty output (expected lspci -mm lines: slot "class" "vendor" ...)'
        )
    result = {key: [] for key in CLASSES}
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            fields = shlex.split(line)
        except ValueError as exc:
            raise ParseError(TOOL, source, lineno, f"unbalanced quotes: {exc}") from None
        if len(fields) < 4 or not _SLOT_RE.match(fields[0]):
            raise ParseError(
                TOOL, source, lineno, f'expected \'slot "class" "vendor" "device" ...\', got {line[:80]!r}'
            )
        revision = next((f[2:] for f in fields[4:] if f.startswith("-r")), None)
        for key, classes in CLASSES.items():
            if fields[1] in classes:
                result[key].append(
                    {"slot": fields[0], "vendor": fields[2], "device": fields[3], "revision": revision}
                )
    return result
