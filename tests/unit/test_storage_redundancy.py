"""Storage never removes redundancy it cannot spare: plan_replace on md states captured from the lab.

Each lab-md-*.json is what storage_layout collected on the lab's new-server
(tests/lab/capture_storage_states.py): arrays built with mdadm on real (emulated) disks, members failed for
real with ``mdadm --fail``, a rebuild and a resync held in progress. The table says, per state and named
member, whether the replacement is refused, what the refusal must say, and otherwise which commands are
planned.
"""

import json
import re

import pytest
from conftest import FIXTURES

from ansible_collections.rackwright.infra.plugins.module_utils.rackwright_storage_replace import (
    _raid10_sets,
    describe_members,
    md_array_view,
    member_removal_refusal,
    plan_replace,
)
from ansible_collections.rackwright.infra.plugins.module_utils.rackwright_storage_state import State

MDADM = "mdadm /dev/md/data"


def captured(name):
    return json.loads((FIXTURES / "storage" / f"lab-md-{name}.json").read_text())


def replace(state, failed, new):
    return plan_replace({"array": "data", "failed_device": failed, "new_device": new}, state)


def view_of(state, name="data"):
    st = State(state)
    path, detail = st.md_by_name(name)
    return md_array_view(st, path, detail)


# (state, failed device, new device, text the refusal must hold)
REFUSED = [
    # RAID1, vdb in sync, vdc faulty: the measured bug. vdb is the last copy (vdc may go, see PLANNED).
    ("raid1-degraded", "/dev/vdb", "/dev/sda", ["last in-sync copy", "no in-sync member would be left"]),
    ("raid1-degraded", "serial:RAID-A-0001", "/dev/sda", ["serial:RAID-A-0001 (/dev/vdb)"]),
    # A rebuild onto sda runs: neither in-sync member may go (the rebuilding one may, see
    # test_rebuilding_member_may_go_with_a_warning).
    ("raid1-recovering", "/dev/vdb", "/dev/nvme0n1", ["/dev/sda is rebuilding into slot 1", "Wait until"]),
    ("raid1-resyncing", "/dev/vdb", "/dev/sda", ["the array is resyncing", "sync_action=resync"]),
    ("raid1-resyncing", "/dev/vdc", "/dev/sda", ["the array is resyncing"]),
    # RAID5 survives one missing member: with vdc failed, vdb and sda are both needed.
    ("raid5-degraded", "/dev/vdb", "/dev/nvme0n1", ["RAID5 survives 1 missing member and 2 of its 3 slots"]),
    ("raid5-degraded", "/dev/sda", "/dev/nvme0n1", ["RAID5, 3 slots", "/dev/vdc faulty"]),
    # RAID6 survives two: after two failures no other member may go.
    ("raid6-two-failed", "/dev/vdb", "/dev/vdc", ["RAID6 survives 2 missing members and 3 of its 4 slots"]),
    ("raid6-two-failed", "/dev/nvme0n1", "/dev/vdc", ["/dev/sda faulty", "slot 1 empty, slot 2 empty"]),
    # RAID10 near=2 over 4 disks: slots 0+1 and 2+3 are mirror pairs. Slot 1 failed: slot 0 is needed.
    ("raid10-degraded", "/dev/vdb", "/dev/vdc", ["slots 0, 1 hold the copies of the same data"]),
    # RAID0 has no redundancy at all.
    ("raid0", "/dev/vdb", "/dev/sda", ["RAID level 0 has no redundancy", "destroys the array"]),
]
# (state, failed device, new device, commands among the planned ones)
PLANNED = [
    ("raid1-degraded", "/dev/vdc", "/dev/sda", [f"{MDADM} --remove /dev/vdc", f"{MDADM} --add /dev/sda"]),
    ("raid1-degraded", "", "/dev/sda", [f"{MDADM} --remove failed", f"{MDADM} --add /dev/sda"]),
    # A healthy RAID1 with a hot spare: any one member may go, the spare too.
    ("raid1-spare", "/dev/vdb", "/dev/nvme0n1", [f"{MDADM} --fail /dev/vdb", f"{MDADM} --remove /dev/vdb"]),
    ("raid1-spare", "/dev/sda", "/dev/nvme0n1", [f"{MDADM} --fail /dev/sda", f"{MDADM} --remove /dev/sda"]),
    ("raid5-degraded", "/dev/vdc", "/dev/nvme0n1", [f"{MDADM} --remove /dev/vdc"]),
    # RAID6 survives two: after one failure another member may still go.
    ("raid6-one-failed", "/dev/vdb", "/dev/vdc", [f"{MDADM} --fail /dev/vdb", f"{MDADM} --remove /dev/vdb"]),
    ("raid6-two-failed", "/dev/sda", "/dev/vdc", [f"{MDADM} --remove /dev/sda"]),
    # RAID10 near=2, slot 1 failed: slot 2 (or 3) is not needed.
    ("raid10-degraded", "/dev/sda", "/dev/vdc", [f"{MDADM} --fail /dev/sda", f"{MDADM} --remove /dev/sda"]),
    ("raid10-degraded", "/dev/nvme0n1", "/dev/vdc", [f"{MDADM} --fail /dev/nvme0n1"]),
    # The removed member comes back as the new disk: its stale superblock is cleared, nothing is failed.
    ("raid10-degraded", "/dev/vdc", "/dev/vdc", ["mdadm --zero-superblock /dev/vdc"]),
]


@pytest.mark.parametrize(("name", "failed", "new", "texts"), REFUSED)
def test_replace_refused_on_captured_md_states(name, failed, new, texts):
    plan = replace(captured(name), failed, new)
    assert plan["errors"] == [], plan["errors"]
    assert plan["actions"] == [], plan["actions"]
    [msg] = plan["refusals"]
    assert msg.startswith(f"refusing to fail and remove {failed}"), msg
    assert "/dev/md/data (/dev/md127, RAID" in msg and "members: " in msg  # names the array and states
    assert "Nothing was changed" in msg
    for text in texts:
        assert text in msg, msg
    assert not any(a["action"] in ("fail_member", "remove_member") for a in plan["planned_actions"])


@pytest.mark.parametrize(("name", "failed", "new", "expect"), PLANNED)
def test_replace_planned_on_captured_md_states(name, failed, new, expect):
    plan = replace(captured(name), failed, new)
    assert plan["errors"] == [], plan["errors"]
    assert plan["refusals"] == [], plan["refusals"]
    commands = [a["command"] for a in plan["actions"]]
    for command in expect:
        assert command in commands, commands
    assert commands[-1] == f"{MDADM} --add {new}"


def test_captures_are_the_states_they_claim():
    """The fixtures hold what the kernel said, not what the test wants: compare with /proc/mdstat."""
    expect = {
        "raid1-degraded": r"raid1 vdc\[1\]\(F\) vdb\[0\]\n.*\[2/1\] \[U_\]",
        "raid1-recovering": r"recovery = +[\d.]+%",
        "raid1-resyncing": r"resync = +[\d.]+%",
        "raid1-spare": r"sda\[2\]\(S\).*\n.*\[2/2\] \[UU\]",
        "raid5-degraded": r"\[3/2\] \[U_U\]",
        "raid6-one-failed": r"\[4/3\] \[U_UU\]",
        "raid6-two-failed": r"\[4/2\] \[U__U\]",
        "raid10-degraded": r"raid10 .*\n.* 2 near-copies \[4/3\] \[U_UU\]",
        "raid0": r"raid0 ",
    }
    for name, pattern in expect.items():
        seen = captured(name)["capture"]["mdstat_and_detail"]
        assert re.search(pattern, seen), (name, seen)


def test_view_reads_member_states_and_slots_from_the_kernel():
    view = view_of(captured("raid1-recovering"))
    assert view["sync_action"] == "recover" and view["raid_disks"] == 2
    assert {m["path"]: (m["state"], m["slot"]) for m in view["members"]} == {
        "/dev/vdb": ("in_sync", 0),
        "/dev/sda": ("rebuilding", 1),
    }
    assert describe_members(view_of(captured("raid1-degraded"))) == (
        "/dev/vdb slot 0 in_sync, /dev/vdc faulty, slot 1 empty"
    )
    assert view_of(captured("raid10-degraded"))["layout"] == 0x102  # mdadm's default n2


def test_without_kernel_state_mdadm_roles_still_tell_in_sync_members():
    """An older capture (mdadm --export only, no sysfs keys): ROLE is a slot number only while in sync."""
    state = captured("raid1-degraded")
    detail = state["mdadm"]["/dev/md127"]
    for key in [k for k in detail if k.startswith("MD_SYSFS_") or k.endswith(("_STATE", "_SLOT"))]:
        del detail[key]
    plan = replace(state, "/dev/vdb", "/dev/sda")
    assert plan["actions"] == [] and "last in-sync copy" in plan["refusals"][0]
    assert "/dev/vdc not in sync" in plan["refusals"][0]


def test_rebuilding_member_may_go_with_a_warning():
    plan = replace(captured("raid1-recovering"), "/dev/sda", "/dev/nvme0n1")
    assert plan["refusals"] == []
    assert [a["command"] for a in plan["actions"]] == [
        f"{MDADM} --fail /dev/sda",
        f"{MDADM} --remove /dev/sda",
        f"{MDADM} --add /dev/nvme0n1",
    ]
    assert "abandons that rebuild" in plan["warnings"][0]


def test_new_disk_in_another_array_is_refused_directly_or_through_its_partition():
    state = captured("two-arrays")
    for new, held in (("/dev/nvme0n1", "it is a member of /dev/md/other"), ("/dev/sda", "/dev/sda1")):
        plan = plan_replace(
            {
                "array": "data",
                "failed_device": "/dev/vdc",
                "new_device": new,
                "protect_data": False,
                "confirm_wipe": [new],
            },
            state,
        )
        assert plan["actions"] == [], plan["actions"]
        assert any(held in r for r in plan["refusals"]), plan["refusals"]
        assert not any(a["action"] == "wipe" for a in plan["planned_actions"])


def test_bad_failed_device_name_is_an_error_not_ignored():
    plan = replace(captured("raid1-degraded"), "vdb", "/dev/sda")
    assert plan["actions"] == []
    assert plan["errors"] == [
        "failed_device: 'vdb' is not a /dev path or serial:XYZ (use /dev/disk/by-id/..., "
        "/dev/disk/by-path/... or serial:XYZ, or leave it empty to remove the members the kernel marked "
        "faulty)"
    ]


# The rule itself, on views the lab cannot build with four disks (odd RAID10, far layouts, RAID4).
def view(level, states, layout=None, sync_action="idle"):
    return {
        "device": "/dev/md/x",
        "kernel_device": "/dev/md9",
        "level": level,
        "raid_disks": len([s for s in states if s != "spare"]),
        "layout": layout,
        "sync_action": sync_action,
        "sync_completed": "none",
        "members": [
            {"path": f"/dev/d{i}", "slot": None if s in ("faulty", "spare") else i, "state": s, "flags": []}
            for i, s in enumerate(states)
            if s != "missing"
        ],
    }


@pytest.mark.parametrize(
    ("disks", "layout", "sets"),
    [
        (4, 0x102, [[0, 1], [2, 3]]),  # n2
        (3, 0x102, [[0, 1], [2, 0], [1, 2]]),  # n2 on an odd count: every neighbour pair shares data
        (4, 0x201, [[0, 1], [1, 2], [2, 3], [3, 0]]),  # f2
        (6, 0x103, [[0, 1, 2], [3, 4, 5]]),  # n3
        (4, 0x10201, [[0, 1], [1, 2], [2, 3], [3, 0]]),  # o2 (far offset)
    ],
)
def test_raid10_mirror_sets_follow_the_kernel(disks, layout, sets):
    assert _raid10_sets(disks, layout) == sets


@pytest.mark.parametrize(
    ("level", "states", "layout", "fail", "refused"),
    [
        ("10", ["in_sync", "faulty", "in_sync"], 0x102, 0, True),  # odd n2: slot 0 is slot 1's only partner
        ("10", ["in_sync", "faulty", "in_sync"], 0x102, 2, True),
        ("10", ["faulty", "in_sync", "in_sync", "in_sync"], 0x201, 2, False),  # f2: 0 and 2 do not pair
        ("10", ["faulty", "in_sync", "in_sync", "in_sync"], 0x201, 1, True),
        ("10", ["faulty", "in_sync", "in_sync", "in_sync"], None, 2, True),  # layout unknown: be careful
        ("10", ["in_sync", "in_sync", "in_sync", "in_sync"], None, 2, False),
        ("4", ["in_sync", "in_sync", "in_sync"], None, 1, False),
        ("4", ["in_sync", "missing", "in_sync"], None, 0, True),
        ("5", ["in_sync", "in_sync", "in_sync", "spare"], None, 0, False),  # a spare is no copy
        ("5", ["in_sync", "in_sync", "missing", "spare"], None, 0, True),
        ("1", ["in_sync", "in_sync", "in_sync"], None, 0, False),
        ("1", ["in_sync", "missing", "missing"], None, 0, True),
        ("linear", ["in_sync", "in_sync"], None, 0, True),
    ],
)
def test_redundancy_rule(level, states, layout, fail, refused):
    msg = member_removal_refusal(view(level, states, layout), f"/dev/d{fail}")
    assert bool(msg) is refused, msg


def test_faulty_spare_and_unknown_members_may_always_go():
    v = view("5", ["in_sync", "faulty", "in_sync", "spare"], sync_action="recover")
    assert member_removal_refusal(v, "/dev/d1") is None
    assert member_removal_refusal(v, "/dev/d3") is None
    assert member_removal_refusal(v, "/dev/nope") is None


def test_failed_array_and_reshape_are_refused_with_their_reason():
    dead = member_removal_refusal(view("5", ["in_sync", "faulty", "faulty"]), "/dev/d0")
    assert "has already lost data" in dead and "Restore from a backup" in dead
    reshape = view("5", ["in_sync"] * 4, sync_action="reshape")
    reshape["sync_completed"] = "524288 / 2093056"
    msg = member_removal_refusal(reshape, "/dev/d0")
    assert "the array is reshaping (sync_action=reshape, 25.0% done)" in msg
    assert member_removal_refusal(view("5", ["in_sync"] * 4, sync_action="check"), "/dev/d0") is None


MDSTAT_ACTION = {"recovery": "recover", "resync": "resync", "reshape": "reshape", "check": "check"}


def mdstat_blocks(text):
    """{md127: (raid_disks, '[U_]' map, running action)} from the captured /proc/mdstat."""
    blocks = {}
    for block in re.split(r"\n(?=md\d+ :)", text[: text.index("unused devices")]):
        head = re.match(r"(md\d+) :", block)
        if not head:
            continue
        status = re.search(r"\[(\d+)/\d+\] \[([U_]+)\]", block)
        action = re.search(r"\b(recovery|resync|reshape|check) *=", block)
        blocks[head.group(1)] = (
            int(status.group(1)) if status else None,
            status.group(2) if status else None,
            MDSTAT_ACTION[action.group(1)] if action else "idle",
        )
    return blocks


@pytest.mark.parametrize(
    "name",
    sorted(p.stem[len("lab-md-") :] for p in (FIXTURES / "storage").glob("lab-md-*.json")),
)
def test_view_agrees_with_the_captured_proc_mdstat(name):
    """The slots and sync action as the planner reads them (sysfs) match /proc/mdstat captured at the same
    moment: [U_] marks exactly the in-sync slots, and a running recovery/resync is the sync_action."""
    state = captured(name)
    blocks = mdstat_blocks(state["capture"]["mdstat_and_detail"])
    st = State(state)
    assert st.md and set(blocks) == {p.rsplit("/", 1)[-1] for p in st.md}
    for path, detail in st.md.items():
        view = md_array_view(st, path, detail)
        raid_disks, status, action = blocks[path.rsplit("/", 1)[-1]]
        if view["level"] == "0":
            assert status is None and view["sync_action"] is None  # RAID0: no [U_] map, no sync thread
            continue
        assert view["sync_action"] == action, (name, view)
        in_sync = {m["slot"] for m in view["members"] if m["state"] == "in_sync"}
        assert raid_disks == view["raid_disks"]
        assert {i for i, c in enumerate(status) if c == "U"} == in_sync, (name, status, view)


def view_from_mdstat(fixture, array):
    """A view of ARRAY in a /proc/mdstat captured in the field (tests/fixtures/mdstat): the [U_] map gives
    which slots are in sync, the progress line the running action. Empty slots have no member."""
    text = (FIXTURES / "mdstat" / fixture).read_text()
    block = re.search(rf"(?ms)^{array} : active (\w+).*?(?=^md\d+ :|^unused|\Z)", text)
    level, body = block.group(1), block.group(0)
    status = re.search(r"\[(\d+)/\d+\] \[([U_]+)\]", body).group(2)
    action = re.search(r"\b(recovery|resync|reshape|check) *=", body)
    return {
        "device": f"/dev/{array}",
        "kernel_device": f"/dev/{array}",
        "level": level[len("raid") :],
        "raid_disks": len(status),
        "layout": None,
        "sync_action": MDSTAT_ACTION[action.group(1)] if action else "idle",
        "sync_completed": None,
        "members": [
            {"path": f"/dev/slot{i}", "slot": i, "state": "in_sync", "flags": []}
            for i, c in enumerate(status)
            if c == "U"
        ],
    }


@pytest.mark.parametrize(
    ("fixture", "array", "slot", "refused", "why"),
    [
        ("raid1-degraded-recovering-29pct.txt", "md126", 1, True, "the array is recovering"),
        ("raid1-degraded-recovering-29pct.txt", "md125", 0, False, None),
        ("raid1-recovery-and-resync-delayed.txt", "md1", 1, True, "the array is resyncing"),  # DELAYED
        ("raid5-failed-member-degraded.txt", "md0", 0, True, "RAID5 survives 1 missing member and 2"),
        ("raid5-failed-member-degraded.txt", "md0", 2, True, "last in-sync copy"),
        ("raid5-healthy-with-spares.txt", "md2", 4, False, None),
        ("raid6-degraded-no-recovery.txt", "md0", 0, False, None),  # one of two spare copies gone
        ("raid6-recovery-two-members-missing.txt", "md0", 0, True, "the array is recovering"),
        ("raid6-reshape-in-progress.txt", "md0", 3, True, "the array is reshaping"),
        ("raid1-check-running-and-resync-delayed.txt", "md0", 0, False, None),  # a scrub does not block
        ("raid1-failed-member-but-full-count.txt", "md1", 0, False, None),
    ],
)
def test_rule_on_field_mdstat_states(fixture, array, slot, refused, why):
    msg = member_removal_refusal(view_from_mdstat(fixture, array), f"/dev/slot{slot}")
    assert bool(msg) is refused, msg
    if why:
        assert why in msg and "Nothing was changed" in msg, msg
