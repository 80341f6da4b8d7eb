"""The storage planner as a pure function on captured lsblk/blkid/mdadm/LVM state of the lab's new-server."""

import json

import pytest
from conftest import FIXTURES

from ansible_collections.rackwright.infra.plugins.module_utils.rackwright_storage_layout import plan_layout
from ansible_collections.rackwright.infra.plugins.module_utils.rackwright_storage_replace import plan_replace
from ansible_collections.rackwright.infra.plugins.module_utils.rackwright_storage_state import (
    PlanError,
    md_data_size,
    parse_export,
    parse_size,
)

GIB = 1024**3
MIB = 1024**2


def state(name):
    return json.loads((FIXTURES / "storage" / name).read_text())


def layout(**overrides):
    """The lab layout: RAID1 over the two virtio disks, vg_data on it, /srv/app ext4."""
    spec = {
        "raids": [
            {
                "name": "data",
                "level": 1,
                "devices": ["serial:RAID-A-0001", "/dev/disk/by-id/virtio-RAID-B-0002"],
            }
        ],
        "volume_groups": [
            {
                "name": "vg_data",
                "devices": ["/dev/md/data"],
                "volumes": [{"name": "srv", "size": "512M", "fs_type": "ext4", "mount_point": "/srv/app"}],
            }
        ],
        "filesystems": [],
        "protect_data": True,
        "confirm_wipe": [],
    }
    spec.update(overrides)
    return spec


def layout_with_srv(size):
    """The lab layout with another size for its one LV (srv)."""
    spec = layout()
    spec["volume_groups"][0]["volumes"][0]["size"] = size
    return spec


def kinds(plan):
    return [(a["action"], a["target"]) for a in plan["actions"]]


def replace_commands(spec, fixture):
    """The commands of the replacement plan of SPEC on the saved disk state FIXTURE."""
    return [a["command"] for a in plan_replace(spec, state(fixture))["actions"]]


def only_message(plan, kind):
    """The one message of KIND (refusals or errors) of a plan that does nothing."""
    assert plan["actions"] == [], plan["actions"]
    assert len(plan[kind]) == 1, plan[kind]
    return plan[kind][0]


def test_blank_disks_get_raid_pv_vg_lv_fs_in_order():
    plan = plan_layout(layout(), state("new-server-blank.json"))
    assert plan["errors"] == [] and plan["refusals"] == []
    assert kinds(plan) == [
        ("create_raid", "/dev/md/data"),
        ("create_pv", "/dev/md/data"),
        ("create_vg", "vg_data"),
        ("create_lv", "/dev/vg_data/srv"),
        ("create_fs", "/dev/vg_data/srv"),
    ]
    assert plan["actions"][0]["argv"] == [
        "mdadm",
        "--create",
        "/dev/md/data",
        "--run",
        "--level=1",
        "--raid-devices=2",
        "--metadata=1.2",
        "--name=data",
        "/dev/vdb",
        "/dev/vdc",
    ]
    assert plan["actions"][3]["command"] == "lvcreate --yes --wipesignatures y -L 536870912b -n srv vg_data"
    assert plan["actions"][4]["command"] == "mkfs.ext4 -q /dev/vg_data/srv"
    assert plan["devices"]["serial:RAID-A-0001"] == "/dev/vdb"
    assert plan["filesystems"] == [
        {
            "device": "/dev/vg_data/srv",
            "fs_type": "ext4",
            "uuid": None,
            "label": None,
            "mount_point": "/srv/app",
            "mount_options": "defaults",
        }
    ]


def test_converged_state_is_a_no_op():
    plan = plan_layout(layout(), state("new-server-converged.json"))
    assert (
        plan["actions"] == [] and plan["errors"] == [] and plan["refusals"] == [] and plan["warnings"] == []
    )
    assert plan["filesystems"][0]["uuid"] == "3e0b6a52-7d1f-4c8e-a9b2-6f5d4c3b2a10"
    assert plan["arrays"][0]["exists"] and plan["arrays"][0]["kernel_device"] == "/dev/md127"


def test_interrupted_after_the_array_continues_with_the_pv():
    plan = plan_layout(layout(), state("new-server-array-only.json"))
    assert kinds(plan) == [
        ("create_pv", "/dev/md127"),
        ("create_vg", "vg_data"),
        ("create_lv", "/dev/vg_data/srv"),
        ("create_fs", "/dev/vg_data/srv"),
    ]


def test_refuses_to_reformat_a_disk_with_an_unexpected_filesystem():
    spec = layout(
        raids=[], volume_groups=[], filesystems=[{"device": "serial:NVME-N1-0004", "fs_type": "xfs"}]
    )
    msg = only_message(plan_layout(spec, state("new-server-nvme-ext4.json")), "refusals")
    assert "serial:NVME-N1-0004 (/dev/nvme0n1)" in msg  # names the device
    assert "TYPE=ext4 UUID=9d2f6c1b-5a4e-4f3d-8c2b-1a0e9f8d7c6b LABEL=olddata" in msg  # what blkid found
    assert "set protect_data: false and add 'serial:NVME-N1-0004' to confirm_wipe" in msg  # how to confirm
    assert "Nothing was changed" in msg


def test_messages_name_the_inputs_as_the_caller_does():
    """The storage role passes its variables' names (parameter_names); unlisted inputs keep the module's."""
    names = {"protect_data": "storage_protect_data", "confirm_wipe": "storage_confirm_wipe"}
    spec = layout(
        raids=[],
        volume_groups=[],
        filesystems=[
            {"device": "serial:NVME-N1-0004", "fs_type": "xfs"},
            {"device": "vdz", "fs_type": "xfs"},
        ],
        names=names,
    )
    plan = plan_layout(spec, state("new-server-nvme-ext4.json"))
    [msg] = plan["refusals"]
    assert "set storage_protect_data: false and add 'serial:NVME-N1-0004' to storage_confirm_wipe" in msg
    assert [e.split(":")[0] for e in plan["errors"]] == ["filesystems[vdz]"], plan["errors"]


def test_refuses_a_raid_member_with_data_and_names_how_to_confirm():
    spec = layout(
        raids=[{"name": "data", "level": 1, "devices": ["serial:RAID-A-0001", "serial:NVME-N1-0004"]}]
    )
    plan = plan_layout(spec, state("new-server-nvme-ext4.json"))
    assert plan["actions"] == [] and len(plan["refusals"]) == 1
    assert "as a member of RAID data" in plan["refusals"][0]
    assert "add 'serial:NVME-N1-0004' to confirm_wipe" in plan["refusals"][0]


def test_confirmed_wipe_needs_both_keys():
    vol = [{"device": "/dev/disk/by-id/nvme-QEMU_NVMe_Ctrl_NVME-N1-0004", "fs_type": "xfs"}]
    only_list = layout(raids=[], volume_groups=[], filesystems=vol, confirm_wipe=[vol[0]["device"]])
    assert plan_layout(only_list, state("new-server-nvme-ext4.json"))["refusals"]
    only_unsafe = layout(raids=[], volume_groups=[], filesystems=vol, protect_data=False)
    refusal = plan_layout(only_unsafe, state("new-server-nvme-ext4.json"))["refusals"][0]
    assert f"add '{vol[0]['device']}' to confirm_wipe" in refusal
    both = layout(
        raids=[], volume_groups=[], filesystems=vol, protect_data=False, confirm_wipe=["/dev/nvme0n1"]
    )
    plan = plan_layout(both, state("new-server-nvme-ext4.json"))
    assert [a["command"] for a in plan["actions"]] == [
        "wipefs --all /dev/nvme0n1",
        "mkfs.xfs -q /dev/disk/by-id/nvme-QEMU_NVMe_Ctrl_NVME-N1-0004",
    ]


def test_existing_filesystem_of_the_declared_type_is_adopted():
    spec = layout(
        raids=[], volume_groups=[], filesystems=[{"device": "serial:NVME-N1-0004", "fs_type": "ext4"}]
    )
    plan = plan_layout(spec, state("new-server-nvme-ext4.json"))
    assert plan["actions"] == [] and plan["refusals"] == []
    assert plan["filesystems"][0]["uuid"] == "9d2f6c1b-5a4e-4f3d-8c2b-1a0e9f8d7c6b"


def test_mounted_device_is_never_wiped_even_when_confirmed():
    spec = layout(
        raids=[],
        volume_groups=[],
        filesystems=[{"device": "/dev/vda", "fs_type": "xfs"}],
        protect_data=False,
        confirm_wipe=["/dev/vda"],
    )
    [msg] = plan_layout(spec, state("new-server-blank.json"))["refusals"]
    assert "in use (mounted at /)" in msg


def test_member_of_a_running_array_is_refused():
    spec = layout(
        raids=[{"name": "other", "level": 1, "devices": ["/dev/vdc", "/dev/sda"]}], volume_groups=[]
    )
    [msg] = plan_layout(spec, state("new-server-converged.json"))["refusals"]
    assert "/dev/vdc" in msg and "/dev/md127 is active on it" in msg


@pytest.mark.parametrize(
    ("level", "devices", "needed"),
    [
        (1, ["serial:RAID-A-0001"], 2),
        ("raid5", ["/dev/vdb", "/dev/vdc"], 3),
        (6, ["/dev/vdb", "/dev/vdc", "/dev/sda"], 4),
    ],
)
def test_too_few_members_is_bad_input(level, devices, needed):
    plan = plan_layout(
        layout(raids=[{"name": "data", "level": level, "devices": devices}], volume_groups=[]),
        state("new-server-blank.json"),
    )
    assert plan["actions"] == []
    assert any(
        "raids[data]: RAID level" in e and f"needs at least {needed} member devices" in e
        for e in plan["errors"]
    ), plan["errors"]


def test_size_larger_than_the_vg_is_bad_input():
    spec = layout_with_srv("5G")
    msg = only_message(plan_layout(spec, state("new-server-blank.json")), "errors")
    assert msg.startswith("volume_groups[vg_data].volumes[srv]: size 5G (5.0 GiB) is larger than the free")
    assert "VG vg_data" in msg


def test_grow_is_allowed_and_resizes_the_filesystem():
    spec = layout_with_srv("768M")
    plan = plan_layout(spec, state("new-server-converged.json"))
    assert plan["refusals"] == [] and plan["errors"] == []
    assert [a["command"] for a in plan["actions"]] == [f"lvextend --resizefs -L {768 * MIB}b vg_data/srv"]


def test_grow_beyond_free_space_is_bad_input():
    spec = layout_with_srv("2G")
    plan = plan_layout(spec, state("new-server-converged.json"))
    assert plan["actions"] == [] and "needs" in plan["errors"][0] and "vg_data has" in plan["errors"][0]


def test_shrink_is_refused():
    spec = layout_with_srv("256M")
    [msg] = plan_layout(spec, state("new-server-converged.json"))["refusals"]
    assert "never shrinks" in msg and "/dev/vg_data/srv" in msg


def test_percent_free_is_a_creation_size_only():
    spec = layout_with_srv("100%FREE")
    assert plan_layout(spec, state("new-server-converged.json"))["actions"] == []
    plan = plan_layout(spec, state("new-server-array-only.json"))
    assert "-l 100%FREE" in plan["actions"][2]["command"]


def test_missing_disk_and_relative_mount_are_named():
    spec = layout(
        raids=[{"name": "data", "level": 1, "devices": ["serial:NOPE-1", "/dev/disk/by-id/virtio-GONE"]}]
    )
    spec["volume_groups"][0]["volumes"][0]["mount_point"] = "srv/app"
    errors = plan_layout(spec, state("new-server-blank.json"))["errors"]
    assert any("disk serial:NOPE-1 does not exist" in e and "RAID-A-0001" in e for e in errors)
    assert any("device /dev/disk/by-id/virtio-GONE does not exist" in e for e in errors)
    assert any("mount_point 'srv/app' is not an absolute path" in e for e in errors)


def test_existing_array_with_other_level_is_refused():
    spec = layout(raids=[{"name": "data", "level": 0, "devices": ["/dev/vdb", "/dev/vdc"]}], volume_groups=[])
    [msg] = plan_layout(spec, state("new-server-converged.json"))["refusals"]
    assert "exists with RAID level 1, not 0" in msg


def test_thin_pool_and_thin_volume():
    spec = layout()
    vg = spec["volume_groups"][0]
    vg["thin_pools"] = [{"name": "pool", "size": "256M"}]
    vg["volumes"].append(
        {"name": "thin1", "size": "2G", "thin_pool": "pool", "fs_type": "xfs", "mount_point": "/t"}
    )
    cmds = [a["command"] for a in plan_layout(spec, state("new-server-converged.json"))["actions"]]
    assert cmds == [
        f"lvcreate --yes --type thin-pool -L {256 * MIB}b -n pool vg_data",
        f"lvcreate --yes -V {2 * GIB}b --thin -n thin1 vg_data/pool",
        "mkfs.xfs -q /dev/vg_data/thin1",
    ]


def test_swap_and_raw_volume_on_sata():
    spec = layout(
        raids=[],
        volume_groups=[],
        filesystems=[{"device": "serial:SATA-S1-0003", "fs_type": "swap", "fs_label": "swap0"}],
    )
    assert [a["command"] for a in plan_layout(spec, state("new-server-blank.json"))["actions"]] == [
        "mkswap -L swap0 /dev/sda"
    ]


def test_same_device_twice_is_bad_input():
    spec = layout(filesystems=[{"device": "/dev/vdb", "fs_type": "ext4"}])
    assert any(
        "already used by RAID data" in e for e in plan_layout(spec, state("new-server-blank.json"))["errors"]
    )


def test_replace_fails_removes_and_adds_by_serial():
    """A healthy, idle RAID1 (captured on the lab with the kernel's member states) can spare one member."""
    spec = {"array": "data", "failed_device": "serial:RAID-B-0002", "new_device": "serial:SATA-S1-0003"}
    plan = plan_replace(spec, state("lab-md-raid1-clean.json"))
    assert [a["command"] for a in plan["actions"]] == [
        "mdadm /dev/md/data --fail /dev/vdc",
        "mdadm /dev/md/data --remove /dev/vdc",
        "mdadm /dev/md/data --add /dev/sda",
    ]
    assert plan["array"]["kernel_device"] == "/dev/md127"
    assert plan["array"]["members_state"] == "/dev/vdb slot 0 in_sync, /dev/vdc slot 1 in_sync"


def test_replace_without_the_kernels_member_states_fails_no_active_member():
    """mdadm --export numbers rebuilding members like in-sync ones: without sysfs, no active member goes."""
    spec = {"array": "data", "failed_device": "serial:RAID-B-0002", "new_device": "serial:SATA-S1-0003"}
    msg = only_message(plan_replace(spec, state("new-server-converged.json")), "refusals")
    assert msg.startswith("refusing to fail and remove serial:RAID-B-0002 (/dev/vdc) (slot 1, active)")
    assert "(/sys/block/md127/md: member state, sync_action) was not read" in msg


@pytest.mark.parametrize(
    ("failed_device", "new_device", "commands"),
    [
        # The kernel already failed the member: it is removed, the new disk added.
        (
            "serial:RAID-B-0002",
            "serial:SATA-S1-0003",
            ["mdadm /dev/md/data --remove /dev/vdc", "mdadm /dev/md/data --add /dev/sda"],
        ),
        # A former member comes back: its old superblock is cleared before it is added as a new disk.
        (
            "/dev/disk/by-id/virtio-RAID-B-0002",
            "serial:RAID-B-0002",
            [
                "mdadm /dev/md/data --remove /dev/vdc",
                "mdadm --zero-superblock /dev/vdc",
                "mdadm /dev/md/data --add /dev/vdc",
            ],
        ),
    ],
    ids=["faulty-member", "former-member"],
)
@pytest.mark.parametrize("array", ["data", "/dev/md/data"])
def test_replace_on_the_degraded_array(array, failed_device, new_device, commands):
    spec = {"array": array, "failed_device": failed_device, "new_device": new_device}
    assert replace_commands(spec, "new-server-degraded.json") == commands


def test_replace_rerun_with_the_new_disk_already_in_does_nothing():
    spec = {"array": "/dev/md/data", "failed_device": "", "new_device": "/dev/vdb"}
    again = plan_replace(spec, state("new-server-converged.json"))
    assert again["actions"] == [] and "already in /dev/md/data" in again["warnings"][0]


def test_replace_refuses_a_new_disk_holding_data():
    spec = {"array": "data", "new_device": "serial:NVME-N1-0004"}
    plan = plan_replace(spec, state("new-server-nvme-ext4.json"))
    assert plan["errors"] and "not assembled" in plan["errors"][0]
    converged = state("new-server-converged.json")
    nvme = state("new-server-nvme-ext4.json")
    converged["blkid"]["/dev/nvme0n1"] = nvme["blkid"]["/dev/nvme0n1"]
    plan = plan_replace(spec, converged)
    assert plan["actions"] == [] and "TYPE=ext4" in plan["refusals"][0]


def test_parse_size_and_helpers():
    assert parse_size("512M") == ("bytes", 512 * MIB)
    assert parse_size("1.5GiB") == ("bytes", int(1.5 * GIB))
    assert parse_size("50%free") == ("percent", 50.0, "FREE")
    for bad in ("100", "ten G", "0G", "150%VG"):
        with pytest.raises(PlanError):
            parse_size(bad)
    assert parse_export("MD_LEVEL=raid1\nMD_DEVICES=2\n") == {"MD_LEVEL": "raid1", "MD_DEVICES": "2"}
    assert md_data_size("1", [GIB, GIB]) < GIB
    assert md_data_size("5", [GIB] * 3) > md_data_size("1", [GIB] * 3)


# State captured from the lab's new-server with storage_layout's return_state (tests/fixtures/storage/lab-*).
def lab_layout():
    return layout(
        raids=[
            {
                "name": "data",
                "level": 1,
                "devices": ["/dev/disk/by-id/virtio-RAID-A-0001", "serial:RAID-B-0002"],
            }
        ]
    )


def test_lab_blank_disks_plan():
    plan = plan_layout(lab_layout(), state("lab-new-server-blank.json"))
    assert [a["action"] for a in plan["actions"]] == [
        "create_raid",
        "create_pv",
        "create_vg",
        "create_lv",
        "create_fs",
    ]
    assert plan["actions"][0]["argv"][-2:] == ["/dev/vdb", "/dev/vdc"]


def test_lab_converged_is_a_no_op_and_grown_lv_is_not_shrunk_by_mistake():
    plan = plan_layout(lab_layout(), state("lab-new-server-converged.json"))
    assert plan["actions"] == [] and plan["refusals"] == [] and plan["errors"] == []
    assert plan["filesystems"][0]["uuid"] == "020e2d19-8f2b-449d-90cd-92ab0349e62b"
    grown = lab_layout()
    grown["volume_groups"][0]["volumes"][0]["size"] = "768M"
    assert plan_layout(grown, state("lab-new-server-nvme-ext4.json"))["actions"] == []  # already grown
    assert "never shrinks" in plan_layout(lab_layout(), state("lab-new-server-nvme-ext4.json"))["refusals"][0]


def test_lab_disk_with_data_is_refused():
    spec = layout(
        raids=[], volume_groups=[], filesystems=[{"device": "serial:NVME-N1-0004", "fs_type": "swap"}]
    )
    [msg] = plan_layout(spec, state("lab-new-server-nvme-ext4.json"))["refusals"]
    assert "serial:NVME-N1-0004 (/dev/nvme0n1)" in msg
    assert "TYPE=ext4 UUID=e477f687-d169-48d4-8c1e-84b8bd950440 LABEL=olddata" in msg


def test_lab_degraded_array_replace():
    spec = {"array": "data", "failed_device": "serial:RAID-B-0002", "new_device": "serial:SATA-S1-0003"}
    plan = plan_replace(spec, state("lab-new-server-degraded.json"))
    assert plan["array"]["members"] == {"/dev/vdb": "0", "/dev/vdc": "faulty"}
    assert [a["command"] for a in plan["actions"]] == [
        "mdadm /dev/md/data --remove /dev/vdc",
        "mdadm /dev/md/data --add /dev/sda",
    ]
