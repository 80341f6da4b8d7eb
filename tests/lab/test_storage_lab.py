"""roles/storage on the lab's new-server: RAID1 + LVM + ext4, idempotence, grow, data protection, disk
replacement."""

import re
import subprocess

import pytest
from conftest import RESET_NEW_SERVER_DISKS, ensure_lab, extra, guest, play_recap, playbook

pytestmark = pytest.mark.lab
HOST = "new-server"


def recap(proc: subprocess.CompletedProcess, host: str = HOST) -> dict:
    return play_recap(proc, host)


def layout(size: str = "512M") -> dict:
    return {
        "storage_volume_groups": [
            {
                "name": "vg_data",
                "devices": ["/dev/md/data"],
                "volumes": [
                    {
                        "name": "srv",
                        "size": size,
                        "fs_type": "ext4",
                        "fs_label": "srv",
                        "mount_point": "/srv/data",
                        "mount_options": "defaults,noatime",
                    }
                ],
            }
        ]
    }


@pytest.fixture(scope="module")
def blank(lab_session):
    ensure_lab()
    out = guest(HOST, RESET_NEW_SERVER_DISKS)
    assert "linux_raid_member" not in out and "LVM2_member" not in out, out


def test_check_mode_shows_the_plan_and_touches_nothing(blank):
    run = playbook("playbooks/storage.yml", "--check", "--diff")
    assert run.returncode == 0, run.output[-3000:]
    for command in (
        "mdadm --create /dev/md/data --run --level=1 --raid-devices=2 --metadata=1.2 --name=data "
        "/dev/vdb /dev/vdc",
        "pvcreate --yes /dev/md/data",
        "lvcreate --yes --wipesignatures y -L 536870912b -n srv vg_data",
        "mkfs.ext4 -q -L srv /dev/vg_data/srv",
        "would create ext4 and mount it at /srv/data",
    ):
        assert command in run.stdout
    assert "md127" not in guest(HOST, "cat /proc/mdstat")
    assert "TYPE" not in guest(HOST, "blkid -p /dev/vdb /dev/vdc; true")


def test_creates_raid1_lvm_ext4_mounted_by_uuid(blank):
    run = playbook("playbooks/storage.yml")
    assert run.returncode == 0, run.output[-3000:]
    state = guest(
        HOST,
        "cat /proc/mdstat; findmnt -n -o SOURCE,FSTYPE /srv/data; grep /srv/data /etc/fstab; "
        "grep ^ARRAY /etc/mdadm/mdadm.conf; lvs --noheadings -o lv_size --units m vg_data/srv",
    )
    assert re.search(r"md127 : active raid1 (vd[bc]\[\d\] ?){2}", state), state
    assert "/dev/mapper/vg_data-srv ext4" in state
    assert re.search(r"^UUID=[0-9a-f-]{36} /srv/data ext4 defaults,noatime", state, re.MULTILINE), state
    assert "ARRAY /dev/md/data metadata=1.2 name=new-server:data UUID=" in state
    assert "512.00m" in state


def test_second_run_changes_nothing(blank):
    run = playbook("playbooks/storage.yml")
    assert run.returncode == 0, run.output[-3000:]
    assert recap(run)["changed"] == 0, run.output[-3000:]


def test_grow_lv_and_mounted_filesystem_online(blank):
    guest(HOST, "echo keep-me > /srv/data/keep.txt")
    before = int(guest(HOST, "df -B1 --output=size /srv/data | tail -1"))
    run = playbook("playbooks/storage.yml", *extra(layout("768M")))
    assert run.returncode == 0, run.output[-3000:]
    assert "lvextend --resizefs -L 805306368b vg_data/srv" in run.stdout
    after = int(guest(HOST, "df -B1 --output=size /srv/data | tail -1"))
    assert after > before + 200 * 2**20, (before, after)
    assert guest(HOST, "findmnt -n -o TARGET /srv/data; cat /srv/data/keep.txt").split() == [
        "/srv/data",
        "keep-me",
    ]


def test_bad_input_fails_before_anything_changes(blank):
    bad = layout("5G")
    bad["storage_volume_groups"][0]["volumes"][0]["mount_point"] = "srv/data"
    bad["storage_raids"] = [
        {"name": "data", "level": 5, "devices": ["serial:RAID-A-0001", "serial:NO-SUCH-DISK"]}
    ]
    run = playbook("playbooks/storage.yml", *extra(bad))
    assert run.returncode != 0
    assert "storage_raids[data]: RAID level 5 needs at least 3 member devices, got 2" in run.stdout
    assert "disk serial:NO-SUCH-DISK does not exist" in run.stdout
    assert "mount_point 'srv/data' is not an absolute path" in run.stdout
    assert recap(run)["changed"] == 0


def test_refuses_to_reformat_a_disk_holding_data(blank):
    guest(
        HOST,
        "mkfs.ext4 -q -F -L olddata /dev/nvme0n1 && mkdir -p /mnt/old && mount /dev/nvme0n1 /mnt/old && "
        "echo precious > /mnt/old/precious.txt && umount /mnt/old",
    )
    wanted = {**layout("768M"), "storage_filesystems": [{"device": "serial:NVME-N1-0004", "fs_type": "swap"}]}
    run = playbook("playbooks/storage.yml", *extra(wanted))
    assert run.returncode != 0
    assert "refusing to use serial:NVME-N1-0004 (/dev/nvme0n1)" in run.stdout
    assert re.search(r"blkid: TYPE=ext4 UUID=[0-9a-f-]{36} LABEL=olddata", run.stdout)
    assert (
        "set storage_protect_data: false and add 'serial:NVME-N1-0004' to storage_confirm_wipe" in run.stdout
    )
    assert recap(run)["changed"] == 0
    assert guest(
        HOST, "mount -o ro /dev/nvme0n1 /mnt/old && cat /mnt/old/precious.txt; umount /mnt/old"
    ).strip() == ("precious")


def test_replace_disk_needs_a_typed_confirmation(blank):
    run = playbook("playbooks/replace_disk.yml", "-e", "storage_replace_array=data")
    assert run.returncode != 0 and "confirm_replace is not set. Type the exact host name(s)" in run.output
    assert "UNREACHABLE" not in run.output and "new-server" not in run.stdout.split("PLAY RECAP")[-1]


def replace_disk(*extra_vars: str, check: bool = False) -> subprocess.CompletedProcess:
    """playbooks/replace_disk.yml on new-server, confirmed by its exact name, array data."""
    pairs = ["confirm_replace=new-server", "storage_replace_array=data", *extra_vars]
    options = [x for pair in pairs for x in ("-e", pair)] + (["--check"] if check else [])
    return playbook("playbooks/replace_disk.yml", *options)


def test_refuses_to_fail_the_last_in_sync_member(blank):
    """Degraded RAID1 (vdc failed for real): naming the good member vdb as failed is refused, also in check
    mode, before any command runs; the array keeps its in-sync member and the data."""
    guest(HOST, "mdadm /dev/md/data --fail /dev/vdc")
    mdstat = guest(HOST, "cat /proc/mdstat")
    assert "vdc[1](F)" in mdstat and "[2/1] [U_]" in mdstat, mdstat
    good = (
        "storage_replace_failed_device=serial:RAID-A-0001",
        "storage_replace_new_device=serial:SATA-S1-0003",
    )
    for run in (replace_disk(*good, check=True), replace_disk(*good)):
        assert run.returncode != 0, run.output[-3000:]
        for text in (
            "refusing to fail and remove serial:RAID-A-0001 (/dev/vdb) (slot 0, in_sync) from /dev/md/data "
            "(/dev/md127, RAID1, 2 slots; members: /dev/vdb slot 0 in_sync, /dev/vdc faulty, slot 1 empty)",
            "it holds the last in-sync copy of some data",
            "Nothing was changed. Instead, replace the member that already failed first (/dev/vdc",
        ):
            assert text in run.stdout, run.output[-3000:]
        assert "Traceback" not in run.output and recap(run)["changed"] == 0, run.output[-3000:]
        assert "mdadm /dev/md/data --fail /dev/vdb" not in run.stdout
    mdstat = guest(HOST, "cat /proc/mdstat")
    assert "vdb[0]" in mdstat and "vdb[0](F)" not in mdstat and "[2/1] [U_]" in mdstat, mdstat
    assert "sda" not in mdstat, mdstat
    assert guest(HOST, "cat /sys/block/md127/md/dev-vdb/state").strip() == "in_sync"
    assert "linux_raid_member" not in guest(HOST, "blkid -p -o export /dev/sda; true")
    assert guest(HOST, "cat /srv/data/keep.txt").strip() == "keep-me"


def test_degrade_and_rebuild_through_replace_disk(blank):
    if "vdc[1](F)" not in guest(HOST, "cat /proc/mdstat"):  # the refusal test above already failed it
        guest(HOST, "mdadm /dev/md/data --fail /dev/vdc")
    assert "[U_]" in guest(HOST, "cat /proc/mdstat")
    run = replace_disk(
        "storage_replace_failed_device=serial:RAID-B-0002",
        "storage_replace_new_device=serial:SATA-S1-0003",
        "storage_replace_poll_delay=2",
    )
    assert run.returncode == 0, run.output[-4000:]
    assert "mdadm /dev/md/data --remove /dev/vdc" in run.stdout
    assert "mdadm /dev/md/data --add /dev/sda" in run.stdout
    mdstat = guest(HOST, "cat /proc/mdstat")
    assert "[2/2] [UU]" in mdstat and "sda[" in mdstat and "vdc[" not in mdstat, mdstat
    detail = guest(HOST, "mdadm --detail /dev/md/data")
    assert re.search(r"State : (clean|active)\s*$", detail, re.M), detail  # rebuilt, not degraded
    assert re.search(r"active sync\s+/dev/sda$", detail, re.M), detail
    again = replace_disk("storage_replace_new_device=serial:SATA-S1-0003")
    assert again.returncode == 0 and recap(again)["changed"] == 0, again.output[-3000:]
    assert guest(HOST, "cat /srv/data/keep.txt").strip() == "keep-me"
