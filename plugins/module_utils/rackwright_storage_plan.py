# Copyright: (c) rackwright contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pure storage planner: desired layout + current state in, ordered actions + refusals out.

No I/O here. The ``storage_layout`` module collects the state (``lsblk -J -b -O``, ``blkid -p -o export``,
``mdadm --detail --export``, ``pvs/vgs/lvs --reportformat json --units b``, and the real path of every
device name the layout mentions) and executes the actions this planner returns, in order.

State dict::

    {"lsblk": <lsblk -J -b -O>, "blkid": {path: {TYPE: ..}}, "mdadm": {"/dev/md127": {MD_LEVEL: ..}},
     "pvs": <pvs json>, "vgs": <vgs json>, "lvs": <lvs json>, "links": {"/dev/disk/by-id/x": "/dev/vdb"}}

Safe mode (the default) never reformats a device holding a filesystem, RAID superblock, LVM label or partition
table it did not expect, never removes an array, VG or LV and never shrinks. Growing an LV (and its
filesystem, ``lvextend --resizefs``) is allowed. Every refusal names the device, what was found and how to
confirm.
"""

import math
import re
import shlex

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


def _pv_usable(size, extent=DEFAULT_EXTENT):
    if size is None:
        return None
    return max(0, (size - PV_OVERHEAD) // extent * extent)


# ---- md redundancy: may a member go? ------------------------------------------------------------
# Levels rackwright replaces members of, and how many members each survives without (RAID10: per mirror set).
LEVEL_TOLERANCE = {"1": None, "4": 1, "5": 1, "6": 2, "10": None}
SYNC_BUSY = {"recover": "recovering (rebuilding)", "resync": "resyncing", "reshape": "reshaping"}


def _int_or_none(value):
    text = str(value if value is not None else "").strip()
    return int(text) if text.isdigit() else None


def md_array_view(st, md_path, detail):
    """The facts the redundancy check needs, from ``mdadm --detail --export`` plus the kernel's sysfs.

    mdadm 4.2 prints a member's ROLE as its slot number while it is in sync *or being rebuilt* (measured on
    the lab: a recovering member has ROLE=1), ``spare`` for faulty and spare members. Only the kernel tells
    them apart, so the module adds /sys/block/mdX/md/: per member ``dev-Y/state`` and ``dev-Y/slot``
    (MD_DEVICE_dev_Y_STATE, _SLOT) and the array's ``sync_action``, ``sync_completed``, ``raid_disks`` and
    ``layout`` (MD_SYSFS_<name>). Without them a numbered member is ``active`` (in sync or rebuilding: not
    known) and ``kernel_state`` is false; member_removal_refusal then never lets an active member go.
    """
    members = []
    for key, dev in sorted(detail.items()):
        if not (key.startswith("MD_DEVICE_") and key.endswith("_DEV")):
            continue
        prefix = key[: -len("_DEV")]
        role = (detail.get(prefix + "_ROLE") or "").strip()
        flags = {f for f in (detail.get(prefix + "_STATE") or "").replace(" ", ",").split(",") if f}
        slot = _int_or_none(detail.get(prefix + "_SLOT"))
        if slot is None and role.isdigit():
            slot = int(role)
        if "faulty" in flags:
            state = "faulty"
        elif "in_sync" in flags:
            state = "in_sync"
        elif not flags and role.isdigit():
            state = "active"  # in sync or rebuilding: only the kernel's member state says which
        elif role == "journal" or "journal" in flags:
            state = "journal"
        elif flags:
            state = "rebuilding" if slot is not None else "spare"
        else:
            state = "not in sync"  # ROLE=spare and no kernel state: faulty, rebuilding or spare
        members.append({"path": st.canon(dev), "slot": slot, "state": state, "flags": sorted(flags)})
    raid_disks = _int_or_none(detail.get("MD_SYSFS_raid_disks")) or _int_or_none(detail.get("MD_DEVICES"))
    return {
        "device": f"/dev/md/{detail.get('MD_DEVNAME')}" if detail.get("MD_DEVNAME") else md_path,
        "kernel_device": md_path,
        "level": norm_level(detail.get("MD_SYSFS_level") or detail.get("MD_LEVEL") or ""),
        "raid_disks": raid_disks or len([m for m in members if m["slot"] is not None]),
        "layout": _int_or_none(detail.get("MD_SYSFS_layout")),
        "sync_action": (detail.get("MD_SYSFS_sync_action") or "").strip() or None,
        "sync_completed": (detail.get("MD_SYSFS_sync_completed") or "").strip() or None,
        "kernel_state": bool(detail.get("MD_SYSFS_sync_action"))
        and all(m["state"] != "active" for m in members),
        "members": members,
    }


def _raid10_sets(raid_disks, layout):
    """Slot sets that each hold every copy of some data, as the kernel's raid10 ``_enough()`` walks them.

    layout: near copies in bits 0-7, far copies in bits 8-15 (mdadm's default n2 = 0x102). Copies of a chunk
    sit on ``near*far`` consecutive slots; the next set starts ``near`` slots further, until it wraps to 0.
    """
    near = (layout or 0) & 0xFF
    far = ((layout or 0) >> 8) & 0xFF
    if not near or not far or not raid_disks:
        return None
    copies = min(near * far, raid_disks)
    sets, first = [], 0
    while True:
        sets.append([(first + i) % raid_disks for i in range(copies)])
        first = (first + near) % raid_disks
        if first == 0:
            return sets


def _data_survives(view, in_sync_slots):
    """(True, '') when IN_SYNC_SLOTS still hold every piece of the array's data, else (False, why)."""
    level, disks = view["level"], view["raid_disks"]
    missing = sorted(set(range(disks)) - in_sync_slots)
    if level == "1":
        return (bool(in_sync_slots), "no in-sync member would be left")
    if level in ("4", "5", "6"):
        tolerance = LEVEL_TOLERANCE[level]
        return (
            len(missing) <= tolerance,
            f"RAID{level} survives {tolerance} missing member{'s' if tolerance > 1 else ''} and "
            f"{len(missing)} of its {disks} slots ({', '.join(map(str, missing))}) would have no in-sync "
            "member",
        )
    if level == "10":
        sets = _raid10_sets(disks, view["layout"])
        if sets is None:  # layout unknown: only a complete array may lose a member
            return (len(missing) <= 1, "the RAID10 layout is unknown and more than one slot would be empty")
        for slots in sets:
            if not in_sync_slots & set(slots):
                return (False, f"slots {', '.join(map(str, slots))} hold the copies of the same data")
        return (True, "")
    return (False, f"RAID level {level or 'unknown'} has no redundancy")


def describe_members(view):
    """'/dev/vdb slot 0 in_sync, /dev/vdc faulty, slot 1 empty' (what the kernel reports, slot by slot)."""
    parts = []
    for m in sorted(view["members"], key=lambda m: (m["slot"] is None, m["slot"] or 0, m["path"])):
        where = f" slot {m['slot']}" if m["slot"] is not None and m["state"] != "faulty" else ""
        parts.append(f"{m['path']}{where} {m['state']}")
    taken = {m["slot"] for m in view["members"] if m["state"] in ("in_sync", "rebuilding")}
    parts += [f"slot {s} empty" for s in range(view["raid_disks"]) if s not in taken]
    return ", ".join(parts)


def _sync_progress(view):
    done = re.match(r"^\s*(\d+)\s*/\s*(\d+)", view.get("sync_completed") or "")
    if done and int(done.group(2)):
        return f", {100 * int(done.group(1)) / int(done.group(2)):.1f}% done"
    return ""


def _label(given, path):
    return f"{given} ({path})" if given and given != path else path


def member_removal_refusal(view, path, given=None):
    """Why PATH (named GIVEN by the user) may not be failed and removed from VIEW's array, or None.

    VIEW is md_array_view()'s result.
    A member that is not in sync (faulty, spare, rebuilding) holds no data the array needs, so it may always
    go. An in-sync member may go only when no rebuild, resync or reshape is running (the data being rebuilt
    is read from it; a resyncing RAID5/6 has parity that is not trusted yet) and when the remaining in-sync
    members still hold every piece of data: RAID1 at least one of them, RAID4/5 all slots but one, RAID6 all
    but two, RAID10 at least one slot of every mirror set (the kernel's raid10 rule). RAID0 and linear arrays
    have no redundancy at all.
    """
    member = next((m for m in view["members"] if m["path"] == path), None)
    if member is None or member["state"] not in ("in_sync", "active"):
        return None
    label = (
        f"{view['device']} ({view['kernel_device']}, RAID{view['level']}, {view['raid_disks']} slots; "
        f"members: {describe_members(view)})"
    )
    head = (
        f"refusing to fail and remove {_label(given, path)} (slot {member['slot']}, {member['state']}) "
        f"from {label}"
    )
    if view["level"] not in LEVEL_TOLERANCE:
        return (
            f"{head}: RAID level {view['level'] or 'unknown'} has no redundancy; failing any member destroys "
            "the array and all data on it. Nothing was changed. Copy the data off (or restore it from a "
            "backup) onto a new array instead."
        )
    others = [m for m in view["members"] if m["path"] != path]
    busy = [m for m in others if m["state"] == "rebuilding"]
    action = SYNC_BUSY.get(view["sync_action"] or "")
    if busy or action:
        what = "; ".join(f"{m['path']} is rebuilding into slot {m['slot']}" for m in busy) or (
            f"the array is {action}"
        )
        return (
            f"{head}: {what} (sync_action={view['sync_action'] or 'unknown'}{_sync_progress(view)}). "
            "Failing an in-sync member now takes away a source of that rebuild and can lose data. Nothing "
            "was changed. Wait until /proc/mdstat shows the array complete and idle, then run the "
            "replacement again."
        )
    copies = ("in_sync", "active")  # an active member of unknown sync state is counted here, refused below
    in_sync = {m["slot"] for m in view["members"] if m["state"] in copies and m["slot"] is not None}
    before, lost = _data_survives(view, in_sync)
    if not before:
        return (
            f"{head}: the array has already lost data ({lost}); rackwright does not "
            "work on a failed array. Nothing was changed. Restore from a backup."
        )
    survives, why = _data_survives(view, in_sync - {member["slot"]})
    if survives and not view.get("kernel_state", True):
        return (
            f"{head}: the kernel's state of {view['kernel_device']} (/sys/block/"
            f"{view['kernel_device'].rsplit('/', 1)[-1]}/md: member state, sync_action) was not read, so "
            "whether each member is in sync and whether a rebuild runs is not known. Nothing was changed. "
            "Run again as root on a host where /sys/block/mdX/md is readable."
        )
    if survives:
        return None
    faulty = [m["path"] for m in others if m["state"] not in copies]
    first = (
        f"replace the member{'s' if len(faulty) > 1 else ''} that already failed first ({', '.join(faulty)}: "
        "name it as the failed device, or name none and faulty members are removed)"
        if faulty
        else "add a new disk into the empty slot first (name no failed device)"
    )
    return (
        f"{head}: it holds the last in-sync copy of some data ({why}); failing it would lose that data. "
        f"Nothing was changed. Instead, {first}, wait for the rebuild to finish, then replace {path}. If "
        f"{path} is failing too, take a backup now; once the array is whole again, a copy-then-swap "
        f"(mdadm {view['device']} --add NEW --replace {path} --with NEW) keeps full redundancy during the "
        "swap."
    )


class Planner:
    """Plans one layout. ``plan()`` returns {actions, refusals, warnings, filesystems, arrays, devices}."""

    def __init__(self, spec, state):
        self.spec = spec
        self.st = State(state)
        self.safe_mode = spec.get("safe_mode", True)
        self.confirm = [str(c) for c in (spec.get("confirm_wipe") or [])]
        self.actions = []
        self.refusals = []
        self.errors = []
        self.warnings = []
        self.devices = {}  # given name -> canonical path
        self.virtual = {}  # planned device path -> {"size": bytes}
        self.claimed = {}  # canonical path -> who uses it

    # ---- helpers ---------------------------------------------------------------------------------
    def act(self, action, target, argv, reason):
        self.actions.append(
            {"action": action, "target": target, "argv": argv, "command": shlex.join(argv), "reason": reason}
        )

    def resolve(self, name, where):
        """Canonical path of a device name, or None (records an error naming WHERE and NAME)."""
        name = str(name).strip()
        if name.startswith("serial:"):
            serial = name[len("serial:") :]
            hits = self.st.by_serial(serial)
            if len(hits) == 1:
                self.devices[name] = hits[0]["path"]
                return hits[0]["path"]
            known = sorted(n["serial"] for n in self.st.nodes.values() if n["serial"] and n["type"] == "disk")
            if not hits:
                self.errors.append(
                    f"{where}: disk {name} does not exist (disks seen by lsblk have serials {known})"
                )
            else:
                self.errors.append(f"{where}: serial {serial} is ambiguous: {[h['path'] for h in hits]}")
            return None
        if not name.startswith("/dev/"):
            self.errors.append(
                f"{where}: device {name!r} is not a /dev path or serial:XYZ "
                "(use /dev/disk/by-id/..., /dev/disk/by-path/... or serial:XYZ)"
            )
            return None
        if name in self.virtual:
            self.devices[name] = name
            return name
        canon = self.st.canon(name)
        if canon in self.st.nodes:
            self.devices[name] = canon
            return canon
        self.errors.append(f"{where}: device {name} does not exist on this host")
        return None

    def size_of(self, path):
        if path in self.virtual:
            return self.virtual[path]["size"]
        node = self.st.nodes.get(path)
        return node["size"] if node else None

    def confirmed(self, given, canon):
        return any(c in (given, canon) or self.st.canon(c) == canon for c in self.confirm)

    def claim(self, canon, given, user):
        if canon in self.claimed:
            self.errors.append(f"{user}: device {given} is already used by {self.claimed[canon]}")
            return False
        self.claimed[canon] = user
        return True

    def refuse_or_wipe(self, given, canon, purpose, findings, in_use, wipe_argv):
        """A device holds something unexpected: refuse (safe mode) or plan its wipe (confirmed)."""
        node = self.st.node(canon) or {}
        seen = "; ".join(findings + [f"lsblk: {node.get('type') or 'device'} of {human(node.get('size'))}"])
        label = f"{given} ({canon})" if given != canon else canon
        if in_use:
            self.refusals.append(
                f"refusing to use {label} {purpose}: it is in use ({'; '.join(in_use)}); found {seen}. "
                "rackwright never wipes a device in use: unmount/stop it first. Nothing was changed."
            )
            return
        if not self.safe_mode and self.confirmed(given, canon):
            for argv in wipe_argv:
                self.act("wipe", canon, argv, f"confirmed in storage_confirm_wipe: destroy {seen}")
            return True
        how = (
            f"set storage_safe_mode: false and add '{given}' to storage_confirm_wipe"
            if self.safe_mode
            else f"add '{given}' to storage_confirm_wipe"
        )
        self.refusals.append(
            f"refusing to use {label} {purpose}: safe mode found data it did not expect: {seen}. "
            f"Nothing was changed. To destroy it on purpose, {how}."
        )

    # ---- validation ------------------------------------------------------------------------------
    def validate(self):
        mounts = {}
        for i, raid in enumerate(self.spec.get("raids") or []):
            name = raid.get("name") or ""
            where = f"storage_raids[{name or i}]"
            if not NAME_RE.match(name):
                self.errors.append(f"{where}: name {name!r} must be letters, digits, '_', '-' or '.'")
            level = norm_level(raid.get("level"))
            members = list(raid.get("devices") or [])
            if level not in LEVEL_MIN_MEMBERS:
                self.errors.append(f"{where}: RAID level {raid.get('level')!r} is not one of 0, 1, 5, 6, 10")
            elif len(members) < LEVEL_MIN_MEMBERS[level]:
                self.errors.append(
                    f"{where}: RAID level {level} needs at least {LEVEL_MIN_MEMBERS[level]} member devices, "
                    f"got {len(members)} ({members})"
                )
        for vg in self.spec.get("volume_groups") or []:
            name = vg.get("name") or ""
            where = f"storage_volume_groups[{name}]"
            if not NAME_RE.match(name):
                self.errors.append(f"{where}: name {name!r} must be letters, digits, '_', '-' or '.'")
            if not vg.get("devices"):
                self.errors.append(f"{where}: devices is empty; a VG needs at least one physical volume")
            pools = {p.get("name") for p in vg.get("thin_pools") or []}
            for pool in vg.get("thin_pools") or []:
                self._check_size(f"{where}.thin_pools[{pool.get('name')}]", pool.get("size"))
            for lv in vg.get("volumes") or []:
                lwhere = f"{where}.volumes[{lv.get('name')}]"
                if not NAME_RE.match(lv.get("name") or ""):
                    self.errors.append(f"{lwhere}: LV name {lv.get('name')!r} is not valid")
                size = self._check_size(lwhere, lv.get("size"))
                if lv.get("thin_pool"):
                    if lv["thin_pool"] not in pools:
                        self.errors.append(
                            f"{lwhere}: thin_pool {lv['thin_pool']!r} is not in thin_pools {sorted(pools)}"
                        )
                    if size and size[0] == "percent":
                        self.errors.append(
                            f"{lwhere}: a thin volume needs an absolute (virtual) size, not {lv['size']!r}"
                        )
                self._check_fs(lwhere, lv, mounts)
        for i, vol in enumerate(self.spec.get("volumes") or []):
            where = f"storage_volumes[{vol.get('device') or i}]"
            if not vol.get("fs_type"):
                self.errors.append(f"{where}: fs_type is required for a volume on a bare device")
            self._check_fs(where, vol, mounts)

    def _check_size(self, where, size):
        try:
            return parse_size(size)
        except PlanError as exc:
            self.errors.append(f"{where}: {exc}")
            return None

    def _check_fs(self, where, item, mounts):
        fs_type = item.get("fs_type")
        if fs_type and fs_type not in FS_TYPES:
            self.errors.append(f"{where}: fs_type {fs_type!r} is not one of {list(FS_TYPES)}")
        mount = item.get("mount_point")
        if mount:
            if fs_type == "swap":
                self.errors.append(f"{where}: swap has no mount_point (got {mount!r})")
            elif not str(mount).startswith("/"):
                self.errors.append(f"{where}: mount_point {mount!r} is not an absolute path")
            elif mount in mounts:
                self.errors.append(f"{where}: mount_point {mount} is also used by {mounts[mount]}")
            else:
                mounts[mount] = where
            if not fs_type:
                self.errors.append(f"{where}: mount_point {mount} needs an fs_type")

    # ---- planning --------------------------------------------------------------------------------
    def plan(self):
        self.validate()
        self.arrays = []
        for raid in self.spec.get("raids") or []:
            self.plan_raid(raid)
        self.filesystems = []
        for vg in self.spec.get("volume_groups") or []:
            self.plan_vg(vg)
        for vol in self.spec.get("volumes") or []:
            self.plan_volume(vol)
        failed = bool(self.errors or self.refusals)
        return {
            "actions": [] if failed else self.actions,
            "planned_actions": self.actions,
            "errors": self.errors,
            "refusals": self.refusals,
            "warnings": self.warnings,
            "filesystems": self.filesystems,
            "arrays": self.arrays,
            "devices": self.devices,
        }

    def plan_raid(self, raid):
        name = raid.get("name") or ""
        level = norm_level(raid.get("level"))
        if not NAME_RE.match(name) or level not in LEVEL_MIN_MEMBERS:
            return
        where = f"storage_raids[{name}]"
        target = f"/dev/md/{name}"
        members = [(d, self.resolve(d, where)) for d in raid.get("devices") or []]
        spares = [(d, self.resolve(d, where + ".spares")) for d in raid.get("spares") or []]
        if any(c is None for _unused, c in members + spares):
            return
        for given, canon in members + spares:
            self.claim(canon, given, f"RAID {name}")
        md_path, detail = self.st.md_by_name(name)
        if md_path:
            have = norm_level(detail.get("MD_LEVEL"))
            if have != level:
                self.refusals.append(
                    f"{where}: array {target} ({md_path}) exists with RAID level {have}, not {level}; "
                    "rackwright never converts or re-creates an existing array. Nothing was changed."
                )
            in_array = self.st.md_members(detail)
            for given, canon in members:
                if canon not in in_array:
                    self.warnings.append(
                        f"{where}: {given} ({canon}) is not a member of {target}; replace a failed disk with "
                        "the replace_disk entry point (tasks/replace_disk.yml)"
                    )
            for given, canon in spares:
                if canon not in in_array and self._usable(given, canon, f"as a spare of RAID {name}"):
                    self.act("add_spare", target, ["mdadm", target, "--add", canon], f"spare {given}")
            node = self.st.nodes.get(md_path) or {}
            self.arrays.append(
                {
                    "name": name,
                    "device": target,
                    "kernel_device": md_path,
                    "exists": True,
                    "uuid": detail.get("MD_UUID"),
                    "size": node.get("size"),
                }
            )
            self.devices[target] = md_path
            return
        for given, canon in members + spares:
            self._usable(given, canon, f"as a member of RAID {name}")
        argv = [
            "mdadm",
            "--create",
            target,
            "--run",
            f"--level={level}",
            f"--raid-devices={len(members)}",
            f"--metadata={raid.get('metadata') or '1.2'}",
            f"--name={name}",
        ]
        if raid.get("chunk_kb") and level != "1":
            argv.append(f"--chunk={int(raid['chunk_kb'])}")
        if spares:
            argv.append(f"--spare-devices={len(spares)}")
        argv += [c for _unused, c in members] + [c for _unused, c in spares]
        size = md_data_size(level, [self.size_of(c) for _unused, c in members])
        self.act(
            "create_raid",
            target,
            argv,
            f"RAID{level} from {[g for g, _unused in members]}"
            + (f" + spares {[g for g, _unused in spares]}" if spares else ""),
        )
        self.virtual[target] = {"size": size}
        self.arrays.append(
            {
                "name": name,
                "device": target,
                "kernel_device": None,
                "exists": False,
                "uuid": None,
                "size": size,
            }
        )

    def _usable(self, given, canon, purpose, pv_vg=None, fs_type=None):
        """Is CANON blank or holding exactly what we expect? Plans a confirmed wipe or records a refusal."""
        if canon in self.virtual:
            return True
        findings, in_use = self.st.signature(canon)
        if not findings and not in_use:
            return True
        found_type = self.st.fstype(canon)
        if pv_vg is not None and found_type == "LVM2_member":
            pv = self.st.pvs.get(canon)
            if pv and pv["vg"] in ("", pv_vg):
                return True
            if pv and pv["vg"]:
                self.refusals.append(
                    f"refusing to use {given} ({canon}) {purpose}: it is a physical volume of VG {pv['vg']}; "
                    "rackwright never moves or removes a PV from a VG. Nothing was changed."
                )
                return False
        if fs_type and found_type == fs_type and not in_use:
            return True
        if fs_type and found_type == fs_type and in_use and all(m.startswith("mounted at") for m in in_use):
            return True
        wipe = [["wipefs", "--all", canon]]
        if found_type == "linux_raid_member":
            wipe.insert(0, ["mdadm", "--zero-superblock", canon])
        return bool(self.refuse_or_wipe(given, canon, purpose, findings, in_use, wipe))

    def plan_vg(self, vg):
        name = vg.get("name") or ""
        if not NAME_RE.match(name):
            return
        where = f"storage_volume_groups[{name}]"
        devs = [(d, self.resolve(d, where)) for d in vg.get("devices") or []]
        if any(c is None for _unused, c in devs) or not devs:
            return
        exists = name in self.st.vgs
        add = []
        for given, canon in devs:
            if not self.claim(canon, given, f"VG {name}"):
                continue
            pv = self.st.pvs.get(canon)
            if pv and pv["vg"] == name:
                continue
            if self._usable(given, canon, f"as a physical volume of VG {name}", pv_vg=name):
                if not pv:
                    self.act("create_pv", canon, ["pvcreate", "--yes", canon], f"PV for VG {name} on {given}")
                add.append((given, canon))
        if exists:
            info = dict(self.st.vgs[name])
            for given, canon in add:
                self.act("extend_vg", name, ["vgextend", name, canon], f"add {given} to VG {name}")
                usable = _pv_usable(self.size_of(canon), info["extent"]) or 0
                info["size"] += usable
                info["free"] += usable
            listed = {c for _unused, c in devs}
            for pv_path, pv in self.st.pvs.items():
                if pv["vg"] == name and pv_path not in listed:
                    self.warnings.append(
                        f"{where}: PV {pv['name']} is in VG {name} but not listed; it is kept"
                    )
        else:
            if add:
                self.act(
                    "create_vg",
                    name,
                    ["vgcreate", name] + [c for _unused, c in add],
                    f"VG {name} on {[g for g, _unused in add]}",
                )
            usable = [_pv_usable(self.size_of(c)) for _unused, c in add]
            total = None if any(u is None for u in usable) else sum(usable)
            info = {"size": total, "free": total, "extent": DEFAULT_EXTENT}
        self.plan_lvs(vg, info, exists)

    def plan_lvs(self, vg, info, vg_exists):
        name = vg["name"]
        extent = info["extent"]
        items = [dict(p, _pool=True) for p in vg.get("thin_pools") or []] + list(vg.get("volumes") or [])
        for lv in items:
            lv_name = lv.get("name") or ""
            where = (
                f"storage_volume_groups[{name}].{'thin_pools' if lv.get('_pool') else 'volumes'}[{lv_name}]"
            )
            try:
                size = parse_size(lv.get("size"))
            except PlanError:
                continue  # already reported by validate()
            if not NAME_RE.match(lv_name):
                continue
            path = f"/dev/{name}/{lv_name}"
            current = self.st.lvs.get((name, lv_name)) if vg_exists else None
            thin = bool(lv.get("thin_pool"))
            if size[0] == "bytes":
                want = math.ceil(size[1] / extent) * extent
            elif size[2] == "FREE":
                want = None if info["free"] is None else int(info["free"] * size[1] / 100) // extent * extent
            else:
                want = None if info["size"] is None else int(info["size"] * size[1] / 100) // extent * extent
            if current is None:
                if not thin and want is not None and info["free"] is not None and want > info["free"]:
                    self.errors.append(
                        f"{where}: size {lv.get('size')} ({human(want)}) is larger than the free space of VG "
                        f"{name} ({human(info['free'])} of {human(info['size'])})"
                    )
                    continue
                if size[0] == "bytes":
                    amount = ["-V" if thin else "-L", f"{want}b"]
                else:
                    amount = ["-l", f"{size[1]:g}%{size[2]}"]
                if lv.get("_pool"):
                    argv = ["lvcreate", "--yes", "--type", "thin-pool", *amount, "-n", lv_name, name]
                elif thin:
                    argv = [
                        "lvcreate",
                        "--yes",
                        *amount,
                        "--thin",
                        "-n",
                        lv_name,
                        f"{name}/{lv['thin_pool']}",
                    ]
                else:
                    argv = ["lvcreate", "--yes", "--wipesignatures", "y", *amount, "-n", lv_name, name]
                self.act(
                    "create_lv",
                    path,
                    argv,
                    f"{'thin pool' if lv.get('_pool') else 'LV'} {name}/{lv_name} of {lv.get('size')}",
                )
                if not thin and want is not None and info["free"] is not None:
                    info["free"] -= want
                self.virtual[path] = {"size": want}
            elif size[0] == "percent" and size[2] == "FREE":
                pass  # %FREE is a creation-time size; a converged LV is never resized by it
            elif want is not None and current["size"] is not None:
                tolerance = 0 if size[0] == "bytes" else extent
                if want > current["size"] + tolerance:
                    grow = want - current["size"]
                    if not thin and info["free"] is not None and grow > info["free"]:
                        self.errors.append(
                            f"{where}: growing {path} from {human(current['size'])} to {human(want)} needs "
                            f"{human(grow)} but VG {name} has {human(info['free'])} free"
                        )
                        continue
                    resize = (
                        [] if lv.get("_pool") or lv.get("fs_type") in (None, "", "swap") else ["--resizefs"]
                    )
                    argv = ["lvextend", *resize, "-L", f"{want}b", f"{name}/{lv_name}"]
                    self.act(
                        "grow_lv",
                        path,
                        argv,
                        f"grow {name}/{lv_name} {human(current['size'])} -> {human(want)}",
                    )
                    if not thin:
                        info["free"] -= grow
                elif want < current["size"] - tolerance:
                    self.refusals.append(
                        f"{where}: {path} is {human(current['size'])}, the layout asks for {human(want)}; "
                        "rackwright never shrinks a volume. Nothing was changed. Raise the size in the "
                        "layout (or shrink it by hand after a backup)."
                    )
            if not lv.get("_pool"):
                self.plan_fs(path, path, lv, where, new=current is None)

    def plan_volume(self, vol):
        where = f"storage_volumes[{vol.get('device')}]"
        canon = self.resolve(vol.get("device") or "", where)
        if canon is None or not vol.get("fs_type"):
            return
        if not self.claim(canon, vol["device"], where):
            return
        self.plan_fs(vol["device"], canon, vol, where, new=False)

    def plan_fs(self, given, canon, item, where, new):
        fs_type = item.get("fs_type")
        if not fs_type or fs_type not in FS_TYPES:
            return
        entry = {
            "device": given,
            "fs_type": fs_type,
            "uuid": None,
            "label": item.get("fs_label") or None,
            "mount_point": item.get("mount_point") or None,
            "mount_options": item.get("mount_options") or "defaults",
        }
        self.filesystems.append(entry)
        if not new and canon not in self.virtual:
            if not self.st.node(canon):
                self.errors.append(
                    f"{where}: {given} exists in LVM but not in lsblk; run again after 'udevadm settle'"
                )
                return
            have = self.st.fstype(canon)
            if have == fs_type:
                probe = self.st.blkid.get(self.st.canon(canon)) or {}
                entry["uuid"] = probe.get("UUID") or (self.st.node(canon) or {}).get("uuid")
                return
            if not self._usable(given, self.st.canon(canon), f"for a {fs_type} filesystem", fs_type=fs_type):
                return
        label = ["-L", item["fs_label"]] if item.get("fs_label") else []
        extra = shlex.split(item.get("fs_create_options") or "")
        device = given if given.startswith("/dev/") else canon
        if fs_type == "swap":
            argv = ["mkswap", *label, *extra, device]
        elif fs_type == "xfs":
            argv = ["mkfs.xfs", "-q", *label, *extra, device]
        else:
            argv = ["mkfs.ext4", "-q", *label, *extra, device]
        self.act("create_fs", given, argv, f"{fs_type} on {given}")


def plan_layout(spec, state):
    """Plan a layout. See the module docstring for the shape of SPEC and STATE."""
    return Planner(spec, state).plan()


def plan_replace(spec, state):
    """Plan a disk replacement in an md array.

    SPEC: {array, failed_device (optional), new_device, safe_mode, confirm_wipe}. Returns the same keys as
    plan_layout plus ``array`` ({name, device, kernel_device, members}).
    """
    planner = Planner(spec, state)
    st = planner.st
    name = str(spec.get("array") or "")
    name = name[len("/dev/md/") :] if name.startswith("/dev/md/") else name
    md_path, detail = st.md_by_name(name)
    result = {
        "actions": [],
        "planned_actions": [],
        "errors": [],
        "refusals": [],
        "warnings": [],
        "array": None,
    }
    if not md_path:
        known = sorted({(d.get("MD_DEVNAME") or d.get("MD_NAME") or p) for p, d in st.md.items()})
        result["errors"].append(
            f"storage_replace_array: array {name!r} is not assembled on this host (arrays: {known})"
        )
        return result
    target = f"/dev/md/{name}"
    members = st.md_members(detail)
    failed_given = spec.get("failed_device") or ""
    new_given = spec.get("new_device") or ""
    failed = None
    if failed_given.startswith("serial:"):
        hits = st.by_serial(failed_given[len("serial:") :])
        if len(hits) > 1:
            planner.errors.append(
                f"storage_replace_failed_device: serial {failed_given[7:]} is ambiguous: "
                f"{[h['path'] for h in hits]}"
            )
        failed = hits[0]["path"] if len(hits) == 1 else None  # a pulled disk has no serial any more
    elif failed_given.startswith("/dev/"):
        failed = st.canon(st.links.get(failed_given, failed_given))
    elif failed_given:
        planner.errors.append(
            f"storage_replace_failed_device: {failed_given!r} is not a /dev path or serial:XYZ "
            "(use /dev/disk/by-id/..., /dev/disk/by-path/... or serial:XYZ, or leave it empty to remove the "
            "members the kernel marked faulty)"
        )
    new = planner.resolve(new_given, "storage_replace_new_device")
    result["array"] = {
        "name": name,
        "device": target,
        "kernel_device": md_path,
        "members": members,
        "level": norm_level(detail.get("MD_LEVEL")),
    }
    if new is None or planner.errors:
        result["errors"] = planner.errors
        return result
    view = md_array_view(st, md_path, detail)
    result["array"]["members_state"] = describe_members(view)
    if failed and failed in members:
        refusal = member_removal_refusal(view, failed, failed_given)
        state = next(m["state"] for m in view["members"] if m["path"] == failed)
        if refusal:
            planner.refusals.append(refusal)
        elif state == "in_sync" and new in members and new != failed:
            planner.refusals.append(
                f"refusing to fail {_label(failed_given, failed)} of {target}: the new disk "
                f"{_label(new_given, new)} is already in it ({members[new] or 'member'}; members: "
                f"{describe_members(view)}), so nothing would replace the failed member and the array would "
                "only lose a copy. Nothing was changed. Check the names: the new disk must be a disk outside "
                "the array."
            )
        else:
            if state == "rebuilding":
                planner.warnings.append(
                    f"{failed_given} ({failed}) is the member being rebuilt in {target}; failing it abandons "
                    "that rebuild (no data is lost: it was not in sync yet)"
                )
            if members[failed] != "faulty":
                planner.act(
                    "fail_member", target, ["mdadm", target, "--fail", failed], f"mark {failed_given} failed"
                )
            planner.act(
                "remove_member", target, ["mdadm", target, "--remove", failed], f"remove {failed_given}"
            )
    elif any(role == "faulty" for role in members.values()):
        planner.act("remove_member", target, ["mdadm", target, "--remove", "failed"], "remove faulty members")
    elif failed_given:
        planner.warnings.append(f"{failed_given} is not in {target} any more (already removed or detached)")
    elsewhere = [
        (p, d) for p, d in st.md.items() if p != md_path and new in st.md_members(d) and new != failed
    ]
    if view["level"] not in LEVEL_TOLERANCE and not planner.refusals:
        planner.refusals.append(
            f"refusing to replace a member of {target} ({md_path}, RAID{view['level'] or ' level unknown'}; "
            f"members: {describe_members(view)}): it has no redundancy, so there is nothing to rebuild a new "
            "disk from. Nothing was changed. Copy the data off (or restore it from a backup) onto a new "
            "array instead."
        )
    elif new in members and new != failed:
        planner.warnings.append(f"{new_given} ({new}) is already in {target} ({members[new] or 'member'})")
    elif elsewhere:
        for other_path, other in elsewhere:
            other_view = md_array_view(st, other_path, other)
            planner.refusals.append(
                f"refusing to use {_label(new_given, new)} as a new member of {target}: it is a member of "
                f"{other_view['device']} ({other_path}, RAID{other_view['level']}; members: "
                f"{describe_members(other_view)}). rackwright never takes a disk from another array. Nothing "
                "was changed. Name a blank disk, or take it out of that array first if it really is free."
            )
    else:
        probe = st.blkid.get(new) or {}
        same_array = probe.get("TYPE") == "linux_raid_member" and md_uuid_key(
            probe.get("UUID")
        ) == md_uuid_key(detail.get("MD_UUID"))
        findings, in_use = st.signature(new)
        in_use = [u for u in in_use if not u.startswith(f"{md_path} is active")]
        if same_array and not in_use:
            planner.act(
                "zero_superblock",
                new,
                ["mdadm", "--zero-superblock", new],
                f"{new_given} was a member of {target}: clear its stale superblock before adding",
            )
        elif findings or in_use:
            planner.claimed[new] = target
            planner.refuse_or_wipe(
                new_given,
                new,
                f"as a new member of {target}",
                findings,
                in_use,
                [["mdadm", "--zero-superblock", new], ["wipefs", "--all", new]]
                if probe.get("TYPE") == "linux_raid_member"
                else [["wipefs", "--all", new]],
            )
        if not planner.refusals:
            size = st.nodes.get(new, {}).get("size")
            smallest = min((st.nodes.get(m, {}).get("size") or 0 for m in members if m != failed), default=0)
            if size is not None and smallest and size < smallest:
                planner.errors.append(
                    f"storage_replace_new_device: {new_given} ({human(size)}) is smaller than the other "
                    f"members of {target} ({human(smallest)})"
                )
            planner.act(
                "add_member", target, ["mdadm", target, "--add", new], f"add {new_given}; rebuild starts"
            )
    failed_any = bool(planner.errors or planner.refusals)
    result.update(
        actions=[] if failed_any else planner.actions,
        planned_actions=planner.actions,
        errors=planner.errors,
        refusals=planner.refusals,
        warnings=planner.warnings,
        devices=planner.devices,
    )
    return result
