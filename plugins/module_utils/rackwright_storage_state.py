# Copyright: (c) rackwright contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Storage state: what the disks hold now, sizes and names.

The ``storage_layout`` module collects the state (``lsblk -J -b -O``, ``blkid -p -o export``,
``mdadm --detail --export``, ``pvs/vgs/lvs --reportformat json --units b``, and the real path of every
device name the layout mentions); ``State`` indexes it.

State dict::

    {"lsblk": <lsblk -J -b -O>, "blkid": {path: {TYPE: ..}}, "mdadm": {"/dev/md127": {MD_LEVEL: ..}},
     "pvs": <pvs json>, "vgs": <vgs json>, "lvs": <lvs json>, "links": {"/dev/disk/by-id/x": "/dev/vdb"}}

Used by the layout planner (rackwright_storage_layout) and the disk replacement planner
(rackwright_storage_replace); no I/O here.
"""

import re

MIB = 1024 * 1024
LEVEL_MIN_MEMBERS = {"0": 2, "1": 2, "5": 3, "6": 4, "10": 4}
FS_TYPES = ("ext4", "xfs", "swap")
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]*$")
_SIZE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgtpe]?)(i?b)?\s*$", re.IGNORECASE)
_PCT_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*%\s*(FREE|VG|PVS)\s*$", re.IGNORECASE)
_UNITS = {"": 1, "k": 1024, "m": MIB, "g": 1024**3, "t": 1024**4, "p": 1024**5, "e": 1024**6}
DEFAULT_EXTENT = 4 * MIB
PV_OVERHEAD = MIB  # pe_start of a default LVM2 PV


class PlanError(Exception):
    """Bad input (names the input)."""


def human(nbytes):
    """1073741824 -> '1.0 GiB'."""
    if nbytes is None:
        return "unknown size"
    value = float(nbytes)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if abs(value) < 1024 or unit == "PiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{nbytes} B"


def parse_size(text):
    """'10G' -> ('bytes', 10737418240); '50%FREE' -> ('percent', 50.0, 'FREE'). Binary units, like LVM."""
    text = str(text)
    match = _PCT_RE.match(text)
    if match:
        pct = float(match.group(1))
        if not 0 < pct <= 100:
            raise PlanError(f"percentage must be in 1-100, got {text!r}")
        return ("percent", pct, match.group(2).upper())
    match = _SIZE_RE.match(text)
    if not match or (not match.group(2) and not match.group(3)):
        raise PlanError(
            f"size {text!r} is not understood: use a number with a unit (512M, 10G, 1.5T) "
            "or a percentage (50%FREE, 100%VG)"
        )
    nbytes = int(float(match.group(1)) * _UNITS[match.group(2).lower()])
    if nbytes <= 0:
        raise PlanError(f"size {text!r} must be larger than zero")
    return ("bytes", nbytes)


def parse_export(text):
    """KEY=value lines (blkid -o export, mdadm --detail --export) -> dict."""
    out = {}
    for line in (text or "").splitlines():
        if "=" in line:
            key, _unused, value = line.partition("=")
            out[key.strip()] = value.strip()
    return out


def norm_level(level):
    """1, '1', 'raid1', 'RAID1' -> '1'."""
    text = str(level).strip().lower()
    return text[4:] if text.startswith("raid") else text


def md_uuid_key(uuid):
    """Compare md UUIDs written as 8:8:8:8 (mdadm) or 8-4-4-4-12 (blkid)."""
    return re.sub(r"[^0-9a-f]", "", (uuid or "").lower())


def _lvm_rows(doc, key):
    if not doc:
        return []
    rows = []
    for report in doc.get("report", []):
        rows.extend(report.get(key, []))
    return rows


def _num(value):
    if value in (None, ""):
        return None
    try:
        return int(str(value).rstrip("B"))
    except ValueError:
        return int(float(str(value).rstrip("B")))


class State:
    """Indexed view of the collected state."""

    def __init__(self, state):
        self.raw = state
        self.links = dict(state.get("links") or {})
        self.blkid = {k: dict(v or {}) for k, v in (state.get("blkid") or {}).items()}
        self.nodes = {}
        self._alias = {}
        self._flatten((state.get("lsblk") or {}).get("blockdevices") or [], None)
        self.md = {}
        for path, detail in (state.get("mdadm") or {}).items():
            detail = parse_export(detail) if isinstance(detail, str) else dict(detail)
            self.md[self.canon(path)] = detail
        self.pvs = {}
        for row in _lvm_rows(state.get("pvs"), "pv"):
            self.pvs[self.canon(row["pv_name"])] = {
                "vg": row.get("vg_name") or "",
                "size": _num(row.get("pv_size")),
                "free": _num(row.get("pv_free")),
                "name": row["pv_name"],
            }
        self.vgs = {}
        for row in _lvm_rows(state.get("vgs"), "vg"):
            self.vgs[row["vg_name"]] = {
                "size": _num(row.get("vg_size")),
                "free": _num(row.get("vg_free")),
                "extent": _num(row.get("vg_extent_size")) or DEFAULT_EXTENT,
            }
        self.lvs = {}
        for row in _lvm_rows(state.get("lvs"), "lv"):
            self.lvs[(row["vg_name"], row["lv_name"])] = {
                "size": _num(row.get("lv_size")),
                "attr": row.get("lv_attr") or "",
                "pool": row.get("pool_lv") or "",
                "path": row.get("lv_path") or f"/dev/{row['vg_name']}/{row['lv_name']}",
            }

    def _flatten(self, nodes, parent):
        for node in nodes:
            path = node.get("path") or "/dev/" + node["name"]
            rec = self.nodes.get(path)
            if rec is None:
                mounts = [m for m in (node.get("mountpoints") or [node.get("mountpoint")]) if m]
                rec = {
                    "path": path,
                    "kname": node.get("kname") or node["name"],
                    "type": node.get("type"),
                    "size": _num(node.get("size")),
                    "fstype": node.get("fstype"),
                    "uuid": node.get("uuid"),
                    "label": node.get("label"),
                    "pttype": node.get("pttype"),
                    "serial": (node.get("serial") or "").strip() or None,
                    "model": (node.get("model") or "").strip() or None,
                    "mounts": mounts,
                    "children": [],
                    "parents": [],
                }
                self.nodes[path] = rec
                self._alias["/dev/" + rec["kname"]] = path
                self._alias["/dev/" + node["name"]] = path
            if parent and parent not in rec["parents"]:
                rec["parents"].append(parent)
            children = node.get("children") or []
            for child in children:
                child_path = child.get("path") or "/dev/" + child["name"]
                if child_path not in rec["children"]:
                    rec["children"].append(child_path)
            self._flatten(children, path)

    def canon(self, path):
        """Canonical lsblk path of a device path (follows recorded links and kernel-name aliases)."""
        real = self.links.get(path, path)
        return self._alias.get(real, real)

    def node(self, path):
        return self.nodes.get(self.canon(path))

    def by_serial(self, serial):
        return [n for n in self.nodes.values() if n["serial"] == serial and n["type"] == "disk"]

    def md_by_name(self, name):
        """(canonical path, detail) of the assembled array called NAME, or (None, None)."""
        link = self.links.get(f"/dev/md/{name}")
        if link and self.canon(link) in self.md:
            return self.canon(link), self.md[self.canon(link)]
        for path, detail in self.md.items():
            if detail.get("MD_DEVNAME") == name or (detail.get("MD_NAME") or "").split(":")[-1] == name:
                return path, detail
        return None, None

    def md_members(self, detail):
        """{canonical member path: role} from mdadm --detail --export (role 0.., 'spare', 'faulty').

        mdadm reports a faulty member as ROLE=spare; the module adds the kernel's member state
        (/sys/block/mdX/md/dev-Y/state) as MD_DEVICE_dev_Y_STATE, which says 'faulty'.
        """
        members = {}
        for key, value in detail.items():
            if key.startswith("MD_DEVICE_") and key.endswith("_DEV"):
                prefix = key[: -len("_DEV")]
                role = detail.get(prefix + "_ROLE", "")
                if "faulty" in detail.get(prefix + "_STATE", "") or "faulty" in detail.get(
                    f"MD_DEVICE_dev_{value.rsplit('/', 1)[-1]}_STATE", ""
                ):
                    role = "faulty"
                members[self.canon(value)] = role
        return members

    def signature(self, path):
        """What is on a device: (findings list, in_use list). Empty findings = blank."""
        canon = self.canon(path)
        probe = self.blkid.get(canon) or self.blkid.get(path) or {}
        node = self.nodes.get(canon) or {}
        findings, in_use = [], []
        if probe.get("TYPE"):
            extra = " ".join(f"{k}={probe[k]}" for k in ("UUID", "LABEL") if probe.get(k))
            findings.append(f"blkid: TYPE={probe['TYPE']}{' ' + extra if extra else ''}")
        elif node.get("fstype"):
            findings.append(
                f"lsblk: FSTYPE={node['fstype']}{' UUID=' + node['uuid'] if node.get('uuid') else ''}"
            )
        if probe.get("PTTYPE"):
            findings.append(f"blkid: partition table PTTYPE={probe['PTTYPE']}")
        elif node.get("pttype"):
            findings.append(f"lsblk: partition table PTTYPE={node['pttype']}")
        for child in node.get("children", []):
            child_node = self.nodes.get(child) or {}
            findings.append(f"lsblk: holds {child} ({child_node.get('type') or 'device'})")
            if child_node.get("type") != "part":
                in_use.append(f"{child} is active on it")
            if child_node.get("mounts"):
                in_use.append(f"{child} is mounted at {', '.join(child_node['mounts'])}")
            if child_node.get("type") == "part":  # a partition's holders (md member, PV, dm) use the disk too
                for holder in child_node.get("children", []):
                    holder_node = self.nodes.get(holder) or {}
                    in_use.append(f"{holder} is active on its partition {child}")
                    if holder_node.get("mounts"):
                        in_use.append(f"{holder} is mounted at {', '.join(holder_node['mounts'])}")
        if node.get("mounts"):
            in_use.append(f"mounted at {', '.join(node['mounts'])}")
        return findings, in_use

    def fstype(self, path):
        canon = self.canon(path)
        probe = self.blkid.get(canon) or self.blkid.get(path)
        if probe is not None:
            return probe.get("TYPE")
        return (self.nodes.get(canon) or {}).get("fstype")


def md_data_size(level, sizes):
    """Estimated usable size of a new md array (metadata 1.2 reserves a data offset per member)."""
    if not sizes or any(s is None for s in sizes):
        return None
    smallest = min(sizes)
    usable = smallest - min(128 * MIB, max(2 * MIB, smallest // 1000)) - MIB
    count = len(sizes)
    factor = {"0": count, "1": 1, "5": count - 1, "6": count - 2, "10": count / 2}[level]
    return int(usable * factor)


def pv_usable(size, extent=DEFAULT_EXTENT):
    if size is None:
        return None
    return max(0, (size - PV_OVERHEAD) // extent * extent)
