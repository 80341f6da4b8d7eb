# Copyright: (c) rackwright contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pure storage layout planner: desired layout + current state in, ordered actions + refusals out.

No I/O here. The ``storage_layout`` module collects the state (``lsblk -J -b -O``, ``blkid -p -o export``,
``mdadm --detail --export``, ``pvs/vgs/lvs --reportformat json --units b``, and the real path of every
device name the layout mentions) and executes the actions this planner returns, in order.

State dict::

    {"lsblk": <lsblk -J -b -O>, "blkid": {path: {TYPE: ..}}, "mdadm": {"/dev/md127": {MD_LEVEL: ..}},
     "pvs": <pvs json>, "vgs": <vgs json>, "lvs": <lvs json>, "links": {"/dev/disk/by-id/x": "/dev/vdb"}}

With protect_data (the default) the planner never reformats a device holding a filesystem, RAID superblock,
LVM label or partition table it did not expect, never removes an array, VG or LV and never shrinks. Growing an
LV (and its filesystem, ``lvextend --resizefs``) is allowed. Every refusal names the device, what was found
and how to confirm, naming the inputs as the caller knows them (spec["names"]: the module passes its
parameter_names, the storage role its variables).

The state is read by rackwright_storage_state; disk replacement is rackwright_storage_replace.
"""

import math
import shlex

from ansible_collections.rackwright.infra.plugins.module_utils.rackwright_storage_state import (
    DEFAULT_EXTENT,
    FS_TYPES,
    LEVEL_MIN_MEMBERS,
    NAME_RE,
    PlanError,
    State,
    human,
    md_data_size,
    norm_level,
    parse_size,
    pv_usable,
)


class Planner:
    """Plans one layout. ``plan()`` returns {actions, refusals, warnings, filesystems, arrays, devices}."""

    def __init__(self, spec, state):
        self.spec = spec
        self.st = State(state)
        self.protect_data = spec.get("protect_data", True)
        self.names = spec.get("names") or {}  # how messages name the inputs (a role's variables)
        self.confirm = [str(c) for c in (spec.get("confirm_wipe") or [])]
        self.actions = []
        self.refusals = []
        self.errors = []
        self.warnings = []
        self.devices = {}  # given name -> canonical path
        self.virtual = {}  # planned device path -> {"size": bytes}
        self.claimed = {}  # canonical path -> who uses it

    # ---- helpers ---------------------------------------------------------------------------------
    def param(self, key):
        """The name of input KEY in messages: the module parameter, or what spec['names'] maps it to."""
        return self.names.get(key, key)

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
        """A device holds something unexpected: refuse (protect_data) or plan its wipe (confirmed)."""
        node = self.st.node(canon) or {}
        seen = "; ".join(findings + [f"lsblk: {node.get('type') or 'device'} of {human(node.get('size'))}"])
        label = f"{given} ({canon})" if given != canon else canon
        if in_use:
            self.refusals.append(
                f"refusing to use {label} {purpose}: it is in use ({'; '.join(in_use)}); found {seen}. "
                "rackwright never wipes a device in use: unmount/stop it first. Nothing was changed."
            )
            return
        confirm = self.param("confirm_wipe")
        if not self.protect_data and self.confirmed(given, canon):
            for argv in wipe_argv:
                self.act("wipe", canon, argv, f"confirmed in {confirm}: destroy {seen}")
            return True
        how = (
            f"set {self.param('protect_data')}: false and add '{given}' to {confirm}"
            if self.protect_data
            else f"add '{given}' to {confirm}"
        )
        self.refusals.append(
            f"refusing to use {label} {purpose}: it holds data the layout does not expect: {seen}. "
            f"Nothing was changed. To destroy it on purpose, {how}."
        )

    # ---- validation ------------------------------------------------------------------------------
    def validate(self):
        mounts = {}
        for i, raid in enumerate(self.spec.get("raids") or []):
            name = raid.get("name") or ""
            where = f"{self.param('raids')}[{name or i}]"
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
            where = f"{self.param('volume_groups')}[{name}]"
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
        for i, vol in enumerate(self.spec.get("filesystems") or []):
            where = f"{self.param('filesystems')}[{vol.get('device') or i}]"
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
        for vol in self.spec.get("filesystems") or []:
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
        where = f"{self.param('raids')}[{name}]"
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
        where = f"{self.param('volume_groups')}[{name}]"
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
                usable = pv_usable(self.size_of(canon), info["extent"]) or 0
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
            usable = [pv_usable(self.size_of(c)) for _unused, c in add]
            total = None if any(u is None for u in usable) else sum(usable)
            info = {"size": total, "free": total, "extent": DEFAULT_EXTENT}
        self.plan_lvs(vg, info, exists)

    def plan_lvs(self, vg, info, vg_exists):
        name = vg["name"]
        extent = info["extent"]
        items = [dict(p, _pool=True) for p in vg.get("thin_pools") or []] + list(vg.get("volumes") or [])
        for lv in items:
            lv_name = lv.get("name") or ""
            kind = "thin_pools" if lv.get("_pool") else "volumes"
            where = f"{self.param('volume_groups')}[{name}].{kind}[{lv_name}]"
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
        where = f"{self.param('filesystems')}[{vol.get('device')}]"
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
