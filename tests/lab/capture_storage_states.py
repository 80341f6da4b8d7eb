"""Capture real md RAID states from the lab's new-server as storage planner fixtures.

Builds each array with mdadm on new-server's four 1 GiB data disks (vdb, vdc, sda, nvme0n1), puts it in the
state named by the scenario (a member failed for real with ``mdadm --fail``, a rebuild held at a crawl with
/proc/sys/dev/raid/speed_limit_max), and saves what ``storage_layout`` collects (``return_state: true``)
to ``tests/fixtures/storage/lab-md-<scenario>.json``, with /proc/mdstat and ``mdadm --detail`` beside it
under ``capture`` (the planner ignores that key). ``tests/unit/test_storage_redundancy.py`` reads them.

The lab is shared: run it under the lab lock, and only while no lab test runs.

    flock /tmp/rackwright-lab.lock .venv/bin/python tests/lab/capture_storage_states.py [SCENARIO ...]
"""

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from conftest import RESET_NEW_SERVER_DISKS, ROOT, ansible, guest, lab  # noqa: E402

HOST = "new-server"
OUT = ROOT / "tests" / "fixtures" / "storage"
CREATE = (
    "mdadm --create /dev/md/{name} --run --metadata=1.2 --name={name} --level={level} --raid-devices={n} "
)
QUICK = "--assume-clean "  # no initial resync: the states below are about failures, not a fresh array
SLOW = "echo 1000 > /proc/sys/dev/raid/speed_limit_min; echo 1000 > /proc/sys/dev/raid/speed_limit_max; "
FAST = "echo 1000 > /proc/sys/dev/raid/speed_limit_min; echo 200000 > /proc/sys/dev/raid/speed_limit_max; "
SETTLE = "udevadm settle; sleep 1; "


def create(name, level, devices, spares=(), quick=True):
    n = len(devices)
    extra = f"--spare-devices={len(spares)} " if spares else ""
    return (
        CREATE.format(name=name, level=level, n=n)
        + (QUICK if quick else "")
        + extra
        + " ".join(list(devices) + list(spares))
        + " >/dev/null 2>&1; "
        + SETTLE
    )


FAIL_REMOVE_VDC = (
    "mdadm /dev/md/data --fail /dev/vdc; sleep 1; mdadm /dev/md/data --remove /dev/vdc; " + SETTLE
)

# name: (description, guest commands that build the state)
SCENARIOS = {
    "raid1-degraded": (
        "RAID1 data on vdb+vdc, vdc failed with mdadm --fail: vdb is the last in-sync member",
        create("data", 1, ["/dev/vdb", "/dev/vdc"]) + "mdadm /dev/md/data --fail /dev/vdc; " + SETTLE,
    ),
    "raid1-recovering": (
        "RAID1 data: vdc failed and removed, sda added; the recovery onto sda runs (held at 1 MB/s)",
        SLOW
        + create("data", 1, ["/dev/vdb", "/dev/vdc"])
        + "mdadm /dev/md/data --fail /dev/vdc; sleep 1; mdadm /dev/md/data --remove /dev/vdc; "
        + "mdadm /dev/md/data --add /dev/sda; sleep 3; ",
    ),
    "raid1-resyncing": (
        "RAID1 data on vdb+vdc just created without --assume-clean: the initial resync runs (held at 1 MB/s)",
        SLOW + create("data", 1, ["/dev/vdb", "/dev/vdc"], quick=False) + "sleep 3; ",
    ),
    "raid1-clean": (
        "RAID1 data on vdb+vdc, healthy and idle",
        create("data", 1, ["/dev/vdb", "/dev/vdc"]),
    ),
    "raid1-spare": (
        "RAID1 data on vdb+vdc, healthy, with sda as hot spare",
        create("data", 1, ["/dev/vdb", "/dev/vdc"], spares=["/dev/sda"]),
    ),
    "raid5-degraded": (
        "RAID5 data on vdb+vdc+sda, vdc failed: vdb and sda hold the data, neither can go",
        create("data", 5, ["/dev/vdb", "/dev/vdc", "/dev/sda"])
        + "mdadm /dev/md/data --fail /dev/vdc; "
        + SETTLE,
    ),
    "raid6-one-failed": (
        "RAID6 data on vdb+vdc+sda+nvme0n1, vdc failed and removed (free for a re-add): one more member may "
        "still go",
        create("data", 6, ["/dev/vdb", "/dev/vdc", "/dev/sda", "/dev/nvme0n1"]) + FAIL_REMOVE_VDC,
    ),
    "raid6-two-failed": (
        "RAID6 data on vdb+vdc+sda+nvme0n1, vdc failed and removed, sda failed: vdb and nvme0n1 hold the "
        "data",
        create("data", 6, ["/dev/vdb", "/dev/vdc", "/dev/sda", "/dev/nvme0n1"])
        + FAIL_REMOVE_VDC
        + "mdadm /dev/md/data --fail /dev/sda; "
        + SETTLE,
    ),
    "raid10-degraded": (
        "RAID10 (near=2) data on vdb+vdc+sda+nvme0n1, vdc (slot 1) failed and removed: slot 0 holds the only "
        "copy of its mirror pair, slots 2 and 3 still mirror each other",
        create("data", 10, ["/dev/vdb", "/dev/vdc", "/dev/sda", "/dev/nvme0n1"]) + FAIL_REMOVE_VDC,
    ),
    "raid0": (
        "RAID0 data on vdb+vdc: no redundancy",
        create("data", 0, ["/dev/vdb", "/dev/vdc"]),
    ),
    "two-arrays": (
        "RAID1 data on vdb+vdc and RAID1 other on sda1 (a partition) + nvme0n1: sda is held through its "
        "partition, nvme0n1 directly",
        "addpart /dev/sda 1 2048 2093056; "  # a kernel partition (BLKPG); the image has no sfdisk
        + SETTLE
        + create("data", 1, ["/dev/vdb", "/dev/vdc"])
        + create("other", 1, ["/dev/sda1", "/dev/nvme0n1"]),
    ),
}

CLEANUP = (
    FAST + "mdadm --stop --scan >/dev/null 2>&1; "
    "if test -b /dev/sda1; then mdadm --zero-superblock -q /dev/sda1; delpart /dev/sda 1; fi 2>/dev/null; "
)


def capture(name):
    description, commands = SCENARIOS[name]
    guest(HOST, CLEANUP + RESET_NEW_SERVER_DISKS)
    guest(HOST, commands, check=False)
    result = ansible(HOST, "rackwright.infra.storage_layout", "return_state=true")[HOST]
    assert "state" in result, result
    seen = guest(HOST, "cat /proc/mdstat; for md in /dev/md/*; do mdadm --detail $md; done", check=False)
    state = result["state"]
    state["capture"] = {"scenario": name, "description": description, "mdstat_and_detail": seen}
    path = OUT / f"lab-md-{name}.json"
    path.write_text(json.dumps(state, indent=1, sort_keys=True) + "\n")
    print(f"{path.relative_to(ROOT)}: {description}\n{seen}")


def main(names):
    started_here = "lab is down" in lab("status", check=False).stdout
    lab("up", timeout=600)
    try:
        for name in names or SCENARIOS:
            capture(name)
    finally:
        guest(HOST, CLEANUP + RESET_NEW_SERVER_DISKS, check=False)
        if started_here:
            lab("down", timeout=120)


if __name__ == "__main__":
    main(sys.argv[1:])
