# Copyright: (c) rackwright contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Disk replacement in an md array: may a member go (redundancy); the plan to fail, remove, add, rebuild.

Pure, like the layout planner it reuses for resolving and wiping the new disk: no I/O here.
"""

import re

from ansible_collections.rackwright.infra.plugins.module_utils.rackwright_storage_layout import (
    Planner,
)
from ansible_collections.rackwright.infra.plugins.module_utils.rackwright_storage_state import (
    human,
    md_uuid_key,
    norm_level,
)

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


def _array_of(spec, state):
    """(planner, name, kernel path, mdadm detail) of SPEC's array (path and detail None: not assembled)."""
    planner = Planner(spec, state)
    name = str(spec.get("array") or "")
    name = name[len("/dev/md/") :] if name.startswith("/dev/md/") else name
    md_path, detail = planner.st.md_by_name(name)
    return planner, name, md_path, detail


def _not_assembled(planner, name):
    known = sorted({(d.get("MD_DEVNAME") or d.get("MD_NAME") or p) for p, d in planner.st.md.items()})
    return f"{planner.param('array')}: array {name!r} is not assembled on this host (arrays: {known})"


def plan_replace(spec, state):
    """Plan a disk replacement in an md array.

    SPEC: {array, failed_device (optional), new_device, protect_data, confirm_wipe, names}. Returns the same
    keys as plan_layout plus ``array`` ({name, device, kernel_device, members}).
    """
    planner, name, md_path, detail = _array_of(spec, state)
    st = planner.st
    result = {
        "actions": [],
        "planned_actions": [],
        "errors": [],
        "refusals": [],
        "warnings": [],
        "array": None,
    }
    if not md_path:
        result["errors"].append(_not_assembled(planner, name))
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
                f"{planner.param('failed_device')}: serial {failed_given[7:]} is ambiguous: "
                f"{[h['path'] for h in hits]}"
            )
        failed = hits[0]["path"] if len(hits) == 1 else None  # a pulled disk has no serial any more
    elif failed_given.startswith("/dev/"):
        failed = st.canon(st.links.get(failed_given, failed_given))
    elif failed_given:
        planner.errors.append(
            f"{planner.param('failed_device')}: {failed_given!r} is not a /dev path or serial:XYZ "
            "(use /dev/disk/by-id/..., /dev/disk/by-path/... or serial:XYZ, or leave it empty to remove the "
            "members the kernel marked faulty)"
        )
    new = planner.resolve(new_given, planner.param("new_device"))
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
                    f"{planner.param('new_device')}: {new_given} ({human(size)}) is smaller than the other "
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


# ---- a failed disk: which, where, what can replace it ----------------------------------------------------
def _names(st, path, prefix):
    """The /dev/disk/<prefix>/ links (by-id, by-path) that point at PATH."""
    return sorted(
        link for link, real in st.links.items() if link.startswith(prefix) and st.canon(real) == path
    )


def redundancy_left(view):
    """How many more members the array can lose now without losing data (0: the next failure loses it)."""
    in_sync = {
        m["slot"] for m in view["members"] if m["state"] in ("in_sync", "active") and m["slot"] is not None
    }
    missing = len(set(range(view["raid_disks"])) - in_sync)
    if view["level"] == "1":
        return max(len(in_sync) - 1, 0)
    if view["level"] in ("4", "5", "6"):
        return max(LEVEL_TOLERANCE[view["level"]] - missing, 0)
    if view["level"] == "10":
        sets = _raid10_sets(view["raid_disks"], view["layout"])
        if sets is None:
            return 0 if missing else 1
        return min(len(in_sync & set(slots)) for slots in sets) - 1 if sets else 0
    return 0


# A failed disk that is not on the bus: nothing but what the array or the layout says of it.
ABSENT = {"path": None, "type": None, "serial": None, "model": None, "size": None, "by_id": [], "by_path": [],
          "slot": None}  # fmt: skip


def _unnamed(failed):
    """The failed entry of an empty slot (or of a member without a node) that no layout device named yet."""
    return next(
        (f for f in failed if f["state"] == "missing" and not f.get("serial") and not f.get("layout")), None
    )


def locate(spec, state):
    """What a failed-disk incident needs to know about one md array, read-only.

    SPEC: {array, raids (the layout; the array's entry names its devices: /dev paths or serial:XYZ), names}.
    Returns
    {array, members, failed, redundancy_left, candidates, errors}: every member slot by slot with its serial
    and stable names (by-id, by-path); the failed ones (faulty in the array, or a layout device that is not on
    the bus any more, or on it but out of the array); the blank disks as large as the members that could
    replace one.
    """
    planner, name, md_path, detail = _array_of(spec, state)
    st = planner.st
    result = {
        "array": None,
        "members": [],
        "failed": [],
        "redundancy_left": None,
        "candidates": [],
        "errors": [],
    }
    if not md_path:
        result["errors"].append(_not_assembled(planner, name))
        return result
    view = md_array_view(st, md_path, detail)

    def disk(path):
        node = st.nodes.get(path) or {}
        return {
            "path": path,
            "type": node.get("type"),
            "serial": node.get("serial"),
            "model": node.get("model"),
            "size": node.get("size"),
            "by_id": _names(st, path, "/dev/disk/by-id/"),
            "by_path": _names(st, path, "/dev/disk/by-path/"),
        }

    for member in sorted(view["members"], key=lambda m: (m["slot"] is None, m["slot"] or 0, m["path"])):
        present = member["path"] in st.nodes
        entry = dict(
            disk(member["path"]), slot=member["slot"], state=member["state"] if present else "missing"
        )
        result["members"].append(entry)
        if entry["state"] in ("faulty", "missing"):
            result["failed"].append(dict(entry, how=f"{entry['state']} in the array"))
    # A slot no member fills, beyond those the faulty members left, is a disk that is gone without a trace in
    # the array (the kernel dropped it): a failed member whose identity only the layout can tell.
    occupied = {m["slot"] for m in view["members"] if m["state"] in ("in_sync", "active", "rebuilding")}
    empty = [slot for slot in range(view["raid_disks"]) if slot not in occupied]
    for slot in empty[len(result["failed"]) :]:
        result["failed"].append(
            dict(ABSENT, slot=slot, state="missing", how=f"slot {slot} of the array is empty")
        )
    in_array = {m["path"] for m in view["members"]}
    layout = next((r for r in spec.get("raids") or [] if r.get("name") == name), {})
    for given in layout.get("devices") or []:
        given = str(given)
        if given.startswith("serial:"):
            hits = st.by_serial(given[len("serial:") :])
            path = hits[0]["path"] if len(hits) == 1 else None
        else:
            path = st.canon(st.links.get(given, given))
            path = path if path in st.nodes else None
        if path is None:
            serial = given[len("serial:") :] if given.startswith("serial:") else None
            # The array may still list the gone disk as a member without a node, or show its slot empty:
            # that is the same disk.
            unnamed = _unnamed(result["failed"])
            if unnamed is not None:
                unnamed.update(
                    serial=serial,
                    layout=given,
                    how=f"{unnamed['how']}; the layout's {given} is not on the bus any more",
                )
            elif not any(f.get("serial") and f["serial"] == serial for f in result["failed"]):
                result["failed"].append(
                    dict(
                        ABSENT,
                        serial=serial,
                        state="gone",
                        layout=given,
                        how=f"the layout's {given} is not on the bus any more",
                    )
                )
        elif path not in in_array:
            out = dict(
                disk(path),
                slot=None,
                state="out",
                layout=given,
                how=f"the layout's {given} ({path}) is on the bus but not in {md_path}",
            )
            unnamed = _unnamed(result["failed"])
            if unnamed is not None:  # the disk of the empty slot, put back or never re-added
                unnamed.update(
                    {k: v for k, v in out.items() if k != "slot"}, how=f"{unnamed['how']}; {out['how']}"
                )
            else:
                result["failed"].append(out)
    taken = set(in_array) | {m for d in st.md.values() for m in st.md_members(d)}
    smallest = min(
        (
            st.nodes[m["path"]]["size"] or 0
            for m in view["members"]
            if m["path"] in st.nodes and m["state"] not in ("faulty",)
        ),
        default=0,
    )
    for path, node in sorted(st.nodes.items()):
        if node["type"] != "disk" or path in taken or (node.get("size") or 0) < smallest:
            continue
        findings, in_use = st.signature(path)
        probe = st.blkid.get(path) or {}
        former = probe.get("TYPE") == "linux_raid_member" and md_uuid_key(probe.get("UUID")) == md_uuid_key(
            detail.get("MD_UUID")
        )
        if not in_use and (not findings or former):  # blank, or a stale member of this very array (re-seated)
            result["candidates"].append(dict(disk(path), former_member=former))
    result["array"] = {
        "name": name,
        "device": f"/dev/md/{name}",
        "kernel_device": md_path,
        "level": view["level"],
        "raid_disks": view["raid_disks"],
        "members_state": describe_members(view),
        "sync_action": view["sync_action"],
    }
    result["redundancy_left"] = redundancy_left(view)
    result["errors"] = planner.errors
    return result
