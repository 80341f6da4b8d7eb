#!/usr/bin/python
# Copyright: (c) rackwright contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Ansible module storage_layout: declarative md RAID + LVM + filesystems, safe by default."""

# ruff: noqa: E402 - Ansible modules keep DOCUMENTATION/EXAMPLES/RETURN before the imports.

DOCUMENTATION = r"""
---
module: storage_layout
short_description: Bring md RAID arrays, LVM and filesystems to a declared layout, never destroying data
description:
  - Reads the current state (C(lsblk -J -b -O), C(blkid -p -o export), C(mdadm --detail --export),
    C(pvs)/C(vgs)/C(lvs) C(--reportformat json)), plans an ordered list of actions with a pure planner
    (C(module_utils/rackwright_storage_layout.py), C(rackwright_storage_replace.py) for a disk replacement)
    and executes them in order. In check mode it only plans and returns the exact commands it would run.
  - With O(protect_data) (the default) it never reformats a device that holds a filesystem, RAID superblock,
    LVM label or partition table it did not expect, never removes an array, VG or LV and never shrinks. The
    module then fails before changing anything, naming the device, what blkid/lsblk found and how to confirm.
  - Growing an LV and its filesystem online (C(lvextend --resizefs)) is allowed with O(protect_data).
  - Bad input (a disk that does not exist, too few RAID members, a size larger than the VG, a relative mount
    path) fails before anything is changed, naming the input.
  - Re-running after an interruption continues where the last run stopped (an existing array is adopted, a
    blank array gets its PV, and so on).
  - O(operation=replace) replaces a member of an md array (fail, remove, add the new disk); the rebuild is
    started, not awaited. It reads the kernel's view of the array (member state and slot, C(sync_action) and
    C(layout) under C(/sys/block/mdX/md)) and fails before any command, in check mode too, rather than fail
    or remove a member the array cannot spare. That is the last in-sync copy of any data for its level (the
    last in-sync member of a RAID1 or of a RAID10 mirror set, any member of a RAID4/5 once a slot is empty
    or of a RAID6 once two are), any in-sync member while a rebuild, resync or reshape runs, and any member
    of a RAID0. The message names the array, every member's state and slot, and what to do instead. A new
    disk that belongs to another array (directly or through a partition) is refused.
  - O(operation=locate) changes nothing. For a failed-disk incident it reports O(array)'s members slot by slot
    with their serials and stable names (C(/dev/disk/by-id), C(/dev/disk/by-path)), the failed ones (faulty
    in the array, or a device O(raids) lists for it that is gone from the bus or out of the array), how many
    more members the array can lose, and the disks that could replace one (blank and large enough, or a former
    member of this array put back, whose stale superblock the replacement clears).
  - Mount points, fstab and mdadm.conf are left to the calling role; the module returns the UUIDs it needs.
version_added: "1.0.0"
author: rackwright contributors (!UNKNOWN)
options:
  array:
    description: For O(operation=replace) and O(operation=locate), the array (C(data) or C(/dev/md/data)).
    type: str
  confirm_wipe:
    description: Devices whose current content may be destroyed (only with O(protect_data=false)).
    type: list
    elements: str
    default: []
  failed_device:
    description:
      - For O(operation=replace), the member to fail and remove (may already be gone; empty removes the
        members the kernel marked faulty). Refused while the array cannot spare it.
    type: str
  filesystems:
    description: Filesystems (or swap) directly on a device (a disk, partition or C(/dev/md/<name>)).
    type: list
    elements: dict
    default: []
    suboptions:
      device: {description: The device, type: str, required: true}
      fs_create_options: {description: Extra mkfs options, type: str}
      fs_label: {description: Filesystem label, type: str}
      fs_type: {description: Filesystem, type: str, required: true, choices: [ext4, xfs, swap]}
      mount_options: {description: Mount options, type: str, default: defaults}
      mount_point: {description: Absolute path, type: str}
  new_device:
    description: For O(operation=replace), the new disk (C(serial:XYZ) or a stable path).
    type: str
  operation:
    description: C(layout) converges the layout; C(replace) swaps a member of O(array); C(locate) reads it.
    type: str
    choices: [layout, replace, locate]
    default: layout
  parameter_names:
    description:
      - How error and refusal messages name this module's parameters, for a caller whose users set them under
        other names (the storage role maps O(raids) to C(storage_raids), and so on). Unlisted parameters keep
        their own names.
    type: dict
    default: {}
  protect_data:
    description: Refuse to destroy anything unexpected. Turn off only together with O(confirm_wipe).
    type: bool
    default: true
  raids:
    description: md arrays, created as C(/dev/md/<name>).
    type: list
    elements: dict
    default: []
    suboptions:
      chunk_kb: {description: Chunk size in KiB (not for RAID1), type: int}
      devices:
        description:
          - Members, by C(/dev/disk/by-id/...), C(/dev/disk/by-path/...), C(serial:XYZ) or C(/dev/sdX).
        type: list
        elements: str
        required: true
      level: {description: "RAID level: 0, 1, 5, 6 or 10", type: raw, required: true}
      metadata: {description: Superblock format, type: str, default: "1.2"}
      name: {description: Array name (C(/dev/md/<name>)), type: str, required: true}
      spares: {description: Hot spares, type: list, elements: str, default: []}
  return_state:
    description: Also return the collected state (C(state)), the planner's input; for fixtures and debugging.
    type: bool
    default: false
  volume_groups:
    description: LVM volume groups with their logical volumes.
    type: list
    elements: dict
    default: []
    suboptions:
      devices:
        description: Physical volumes (disks or C(/dev/md/<name>)).
        type: list
        elements: str
        required: true
      name: {description: VG name, type: str, required: true}
      thin_pools:
        description: Thin pools in this VG.
        type: list
        elements: dict
        default: []
        suboptions:
          name: {description: Pool LV name, type: str, required: true}
          size: {description: "Size: C(10G) or C(80%FREE)", type: str, required: true}
      volumes:
        description: Logical volumes.
        type: list
        elements: dict
        default: []
        suboptions:
          fs_create_options: {description: Extra mkfs options, type: str}
          fs_label: {description: Filesystem label, type: str}
          fs_type: {description: Filesystem, type: str, choices: [ext4, xfs, swap]}
          mount_options: {description: Mount options, type: str, default: defaults}
          mount_point: {description: Absolute path (returned for the caller to mount), type: str}
          name: {description: LV name, type: str, required: true}
          size:
            description: C(512M), C(10G) (binary units), C(50%FREE) (at creation), C(100%VG).
            type: str
            required: true
          thin_pool: {description: Create as a thin volume in this pool (size is virtual), type: str}
notes:
  - Needs root, util-linux, and mdadm/lvm2 where arrays/VGs are declared.
  - Supports check mode and diff mode.
seealso:
  - module: rackwright.infra.raid_health
"""

EXAMPLES = r"""
- name: RAID1 + LVM + ext4
  storage_layout:
    raids:
      - name: data
        level: 1
        devices: [serial:RAID-A-0001, /dev/disk/by-id/virtio-RAID-B-0002]
    volume_groups:
      - name: vg_data
        devices: [/dev/md/data]
        volumes:
          - {name: srv, size: 512M, fs_type: ext4, mount_point: /srv/app}
  register: layout

- name: Which member of data failed, where it sits, and what could replace it (read-only)
  storage_layout:
    operation: locate
    array: data
    raids:
      - {name: data, level: 1, devices: [serial:RAID-A-0001, serial:RAID-B-0002]}
  register: located

- name: Replace a failed member
  storage_layout:
    operation: replace
    array: data
    failed_device: serial:RAID-B-0002
    new_device: serial:SATA-S1-0003
"""

RETURN = r"""
actions:
  description: Actions run (or, in check mode, that would run), in order.
  returned: always
  type: list
  elements: dict
  sample:
    - {action: create_raid, target: /dev/md/data, command: "mdadm --create /dev/md/data ...", reason: "..."}
refusals:
  description: Why O(protect_data) refused (the module failed and changed nothing).
  returned: on failure
  type: list
  elements: str
filesystems:
  description: Declared filesystems with their UUID (null in check mode before creation), for fstab.
  returned: always
  type: list
  elements: dict
arrays:
  description: Declared arrays with C(uuid) and C(mdadm_conf) (the C(mdadm --detail --brief) line).
  returned: always
  type: list
  elements: dict
array:
  description: For O(operation=replace), the array (C(device), C(kernel_device), C(members)).
  returned: when operation is replace
  type: dict
devices:
  description: Every device name used in the layout and the kernel device it resolved to.
  returned: always
  type: dict
located:
  description:
    - For O(operation=locate), C({array, members, failed, redundancy_left, candidates, errors}).
    - C(members) and C(failed) entries have C(path), C(serial), C(model), C(size), C(by_id), C(by_path),
      C(slot) and C(state) (C(in_sync), C(active), C(rebuilding), C(faulty), C(missing); for a device of the
      layout, C(gone) from the bus or C(out) of the array) and C(how) (in words).
  returned: when operation is locate
  type: dict
"""

import glob
import json
import os

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.rackwright.infra.plugins.module_utils.rackwright_module import find_tool, run_tool
from ansible_collections.rackwright.infra.plugins.module_utils.rackwright_storage_layout import plan_layout
from ansible_collections.rackwright.infra.plugins.module_utils.rackwright_storage_replace import (
    locate,
    plan_replace,
)
from ansible_collections.rackwright.infra.plugins.module_utils.rackwright_storage_state import parse_export

LVM_FIELDS = {
    "pvs": "pv_name,vg_name,pv_size,pv_free",
    "vgs": "vg_name,vg_size,vg_free,vg_extent_size",
    "lvs": "vg_name,lv_name,lv_size,lv_path,lv_attr,pool_lv",
}


def tool_json(module, argv):
    rc, out, err = run_tool(module, argv)
    if rc != 0:
        module.fail_json(msg=f"{' '.join(argv)} failed rc={rc}: {err.strip() or out.strip()}", rc=rc)
    try:
        return json.loads(out)
    except ValueError as exc:
        module.fail_json(msg=f"{' '.join(argv)} did not print JSON: {exc}")
    return None


def device_names(params):
    """Every /dev path the layout (or replacement) mentions, plus the array and LV paths it implies."""
    names = set()
    for raid in params["raids"] or []:
        names.update(raid["devices"] or [])
        names.update(raid["spares"] or [])
        names.add(f"/dev/md/{raid['name']}")
    for vg in params["volume_groups"] or []:
        names.update(vg["devices"] or [])
        for lv in vg["volumes"] or []:
            names.add(f"/dev/{vg['name']}/{lv['name']}")
    for vol in params["filesystems"] or []:
        names.add(vol["device"])
    for key in ("failed_device", "new_device", "array"):
        value = params.get(key)
        if value:
            names.add(value if value.startswith("/dev/") else f"/dev/md/{value}")
    names.update(params["confirm_wipe"] or [])
    return sorted(n for n in names if isinstance(n, str) and n.startswith("/dev/"))


MD_SYSFS_ARRAY = ("level", "raid_disks", "layout", "sync_action", "sync_completed", "degraded", "array_state")


def read_sysfs(path):
    """One sysfs attribute, stripped; None when it cannot be read."""
    try:
        with open(path, encoding="ascii", errors="replace") as handle:
            return handle.read(4096).strip()
    except OSError:
        return None


def md_sysfs(kname):
    """The kernel's view of array KNAME (/sys/block/KNAME/md), as extra keys of its mdadm --detail --export.

    mdadm --export calls faulty, rebuilding and spare members all "spare"; the member state and slot tell them
    apart (MD_DEVICE_dev_<member>_STATE, _SLOT). The array's sync_action says whether a rebuild, resync or
    reshape runs (MD_SYSFS_<attribute>). The storage planner refuses to fail a member the data cannot spare.
    """
    base = f"/sys/block/{kname}/md"
    keys = {}
    for attribute in MD_SYSFS_ARRAY:
        value = read_sysfs(f"{base}/{attribute}")
        if value is not None:
            keys[f"MD_SYSFS_{attribute}"] = value
    for member_dir in sorted(glob.glob(f"{base}/dev-*")):
        member = os.path.basename(member_dir)[len("dev-") :]
        for attribute in ("state", "slot"):
            value = read_sysfs(f"{member_dir}/{attribute}")
            if value is not None:
                keys[f"MD_DEVICE_dev_{member}_{attribute.upper()}"] = value
    return keys


def collect(module):
    """The state dict the planner reads."""
    state = {"links": {}, "blkid": {}, "mdadm": {}}
    lsblk = find_tool(module, ["lsblk"])
    if not lsblk:
        module.fail_json(msg="lsblk not found (util-linux)")
    if find_tool(module, ["udevadm"]):  # without udev (a container) there are no pending events to settle
        run_tool(module, ["udevadm", "settle", "--timeout=20"])
    state["lsblk"] = tool_json(module, [lsblk, "-J", "-b", "-O"])
    paths = []

    def walk(nodes):
        for node in nodes:
            paths.append(node.get("path") or "/dev/" + node["name"])
            walk(node.get("children") or [])

    walk(state["lsblk"].get("blockdevices") or [])
    blkid = find_tool(module, ["blkid"])
    for path in sorted(set(paths)):
        rc, out, _err = run_tool(module, [blkid, "-p", "-o", "export", path])
        state["blkid"][path] = parse_export(out) if rc == 0 else {}
    mdadm = find_tool(module, ["mdadm"])
    if mdadm:
        for path in sorted(set(paths)):
            if os.path.basename(path).startswith("md") and os.path.exists(
                f"/sys/block/{os.path.basename(path)}/md"
            ):
                rc, out, _err = run_tool(module, [mdadm, "--detail", "--export", path])
                if rc == 0:
                    detail = parse_export(out)
                    detail.update(md_sysfs(os.path.basename(path)))
                    state["mdadm"][path] = detail
    lvm = find_tool(module, ["lvm"])
    if lvm:
        for kind, fields in LVM_FIELDS.items():
            state[kind] = tool_json(
                module, [lvm, kind, "--reportformat", "json", "--units", "b", "--nosuffix", "-o", fields]
            )
    for name in device_names(module.params):
        if os.path.exists(name):
            state["links"][name] = os.path.realpath(name)
    for row in (state.get("pvs") or {}).get("report", [{}])[0].get("pv", []):
        if os.path.exists(row["pv_name"]):
            state["links"][row["pv_name"]] = os.path.realpath(row["pv_name"])
    for link in glob.glob("/dev/md/*"):
        state["links"][link] = os.path.realpath(link)
    return state


def spec_from(params):
    return {
        "raids": params["raids"],
        "volume_groups": params["volume_groups"],
        "filesystems": params["filesystems"],
        "protect_data": params["protect_data"],
        "confirm_wipe": params["confirm_wipe"],
        "array": params["array"],
        "failed_device": params["failed_device"],
        "new_device": params["new_device"],
        "names": params["parameter_names"],
    }


def execute(module, actions):
    done = []
    for action in actions:
        rc, out, err = run_tool(module, action["argv"])
        if rc != 0:
            module.fail_json(
                msg=f"storage: {action['action']} of {action['target']} failed (rc={rc}): "
                f"{(err or out).strip()[-600:]}. Command: {action['command']}. "
                "Re-running continues from here.",
                failed_action=action,
                actions=done,
                changed=bool(done),
                stdout=out,
                stderr=err,
            )
        done.append(action)
        if action["action"] in ("create_raid", "create_lv", "create_fs", "add_member", "wipe"):
            run_tool(module, ["udevadm", "settle", "--timeout=30"])
    return done


def diff_for(plan):
    lines = [f"{a['action']} {a['target']}: {a['command']}" for a in plan["actions"]]
    return {
        "before": "",
        "after": "\n".join(lines) + ("\n" if lines else ""),
        "before_header": "storage (now)",
        "after_header": "storage actions",
    }


def items_of(options):
    """An argument spec entry: a list (default empty) of dicts with OPTIONS."""
    return {"type": "list", "elements": "dict", "default": [], "options": options}


def main():
    required = {"type": "str", "required": True}
    fs_opts = {
        "fs_type": {"type": "str", "choices": ["ext4", "xfs", "swap"]},
        "fs_label": {"type": "str"},
        "fs_create_options": {"type": "str"},
        "mount_point": {"type": "str"},
        "mount_options": {"type": "str", "default": "defaults"},
    }
    module = AnsibleModule(
        argument_spec={
            "operation": {"type": "str", "choices": ["layout", "replace", "locate"], "default": "layout"},
            "raids": items_of(
                {
                    "name": required,
                    "level": {"type": "raw", "required": True},
                    "devices": {"type": "list", "elements": "str", "required": True},
                    "spares": {"type": "list", "elements": "str", "default": []},
                    "metadata": {"type": "str", "default": "1.2"},
                    "chunk_kb": {"type": "int"},
                }
            ),
            "volume_groups": items_of(
                {
                    "name": required,
                    "devices": {"type": "list", "elements": "str", "required": True},
                    "thin_pools": items_of({"name": required, "size": required}),
                    "volumes": items_of(
                        {"name": required, "size": required, "thin_pool": {"type": "str"}, **fs_opts}
                    ),
                }
            ),
            "filesystems": items_of(
                {"device": required, **fs_opts, "fs_type": dict(fs_opts["fs_type"], required=True)}
            ),
            "protect_data": {"type": "bool", "default": True},
            "confirm_wipe": {"type": "list", "elements": "str", "default": []},
            "array": {"type": "str"},
            "failed_device": {"type": "str"},
            "new_device": {"type": "str"},
            "return_state": {"type": "bool", "default": False},
            "parameter_names": {"type": "dict", "default": {}},
        },
        required_if=[("operation", "replace", ("array", "new_device")), ("operation", "locate", ("array",))],
        supports_check_mode=True,
    )
    state = collect(module)
    if module.params["operation"] == "locate":
        for link in glob.glob("/dev/disk/by-id/*") + glob.glob("/dev/disk/by-path/*"):
            state["links"][link] = os.path.realpath(link)
        located = locate(spec_from(module.params), state)
        if located["errors"]:
            module.fail_json(msg="storage: " + " | ".join(located["errors"]), located=located, changed=False)
        return module.exit_json(changed=False, located=located)
    replace = module.params["operation"] == "replace"
    plan = (
        plan_replace(spec_from(module.params), state)
        if replace
        else plan_layout(spec_from(module.params), state)
    )
    common = {"devices": plan.get("devices", {}), "warnings_found": plan["warnings"]}
    if module.params["return_state"]:
        common["state"] = state
    for warning in plan["warnings"]:
        module.warn(warning)
    if plan["errors"] or plan["refusals"]:
        problems = plan["errors"] + plan["refusals"]
        module.fail_json(
            msg="storage: " + " | ".join(problems),
            errors=plan["errors"],
            refusals=plan["refusals"],
            planned_actions=plan["planned_actions"],
            actions=[],
            changed=False,
            **common,
        )
    result = dict(changed=bool(plan["actions"]), actions=plan["actions"], diff=diff_for(plan), **common)
    if not module.check_mode and plan["actions"]:
        execute(module, plan["actions"])
        state = collect(module)
        plan_after = (
            plan_replace(spec_from(module.params), state)
            if replace
            else plan_layout(spec_from(module.params), state)
        )
        if not replace and plan_after["actions"]:
            result["warnings_found"] = result["warnings_found"] + [
                "not converged after one pass, still planned: "
                + str([a["command"] for a in plan_after["actions"]])
            ]
        plan = dict(
            plan,
            filesystems=plan_after.get("filesystems"),
            arrays=plan_after.get("arrays"),
            array=plan_after.get("array"),
        )
    if replace:
        result["array"] = plan["array"]
        return module.exit_json(**result)
    result["filesystems"] = plan["filesystems"]
    arrays = []
    mdadm = find_tool(module, ["mdadm"])
    for array in plan["arrays"]:
        array = dict(array, mdadm_conf=None)
        if array["exists"] and mdadm:
            rc, out, _err = run_tool(module, [mdadm, "--detail", "--brief", array["device"]])
            if rc == 0 and out.strip():
                array["mdadm_conf"] = " ".join(out.split())
        arrays.append(array)
    result["arrays"] = arrays
    module.exit_json(**result)


if __name__ == "__main__":
    main()
