# Copyright: (c) rackwright contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Parse ``lsblk -J -b -o NAME,SIZE,TYPE,MODEL,SERIAL,ROTA,TRAN`` into a list of whole disks."""

from ansible_collections.rackwright.infra.plugins.module_utils.rackwright_health import (
    ParseError,
    load_json,
    to_number,
)

TOOL = "lsblk"
LSBLK_ARGS = ["-J", "-b", "-d", "-o", "NAME,SIZE,TYPE,MODEL,SERIAL,ROTA,TRAN"]


def parse_lsblk(text, source=None):
    """Whole disks: list of {name, size_bytes, model, serial, rotational, transport}.

    Older util-linux prints numbers and booleans as strings ("1", "0"); both forms are accepted.
    """
    doc = load_json(text, TOOL, source)
    if not isinstance(doc, dict) or not isinstance(doc.get("blockdevices"), list):
        raise ParseError(TOOL, source, None, "no 'blockdevices' list: not lsblk -J output")
    disks = []
    for index, device in enumerate(doc["blockdevices"]):
        if not isinstance(device, dict):
            raise ParseError(
                TOOL, source, None, f"'blockdevices[{index}]' is not an object: not lsblk -J output"
            )
        if device.get("type") != "disk":
            continue
        rota = device.get("rota")
        disks.append(
            {
                "name": "/dev/{}".format(device.get("name")),
                "size_bytes": to_number(device.get("size")),
                "model": str(device.get("model") or "").strip() or None,
                "serial": str(device.get("serial") or "").strip() or None,
                "firmware": None,
                "rotational": rota in (True, "1", 1) if rota is not None else None,
                "transport": device.get("tran"),
            }
        )
    return disks
