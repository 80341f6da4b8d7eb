"""Health modules against the real tools in the lab VMs, and verdicts that follow injected faults."""

import json

import pytest
from conftest import RESET_NEW_SERVER_DISKS, ansible, guest, lab, wait_for

pytestmark = pytest.mark.lab


def module(name: str, args: dict | None = None, host: str = "new-server") -> dict:
    result = ansible(host, f"rackwright.infra.{name}", json.dumps(args) if args else None)[host]
    assert not result.get("failed"), result
    return result


def disk(result: dict, device: str) -> dict:
    return next(d for d in result["disks"] if d["device"] == device)


def test_disk_health_reads_real_sata_and_nvme(lab_up):
    result = module("disk_health")
    assert result["health"] == "ok", result["reasons"]
    sata, nvme = disk(result, "/dev/sda"), disk(result, "/dev/nvme0")
    assert (sata["serial"], sata["protocol"]) == ("SATA-S1-0003", "ATA")
    assert (nvme["serial"], nvme["protocol"]) == ("NVME-N1-0004", "NVMe")
    assert sata["reasons"] == [] and nvme["reasons"] == []


def test_nvme_critical_warning_turns_disk_health_critical(lab_up):
    lab("fault", "nvme-critical", "new-server")
    try:
        result = module("disk_health")
        nvme = disk(result, "/dev/nvme0")
        assert result["health"] == "critical" and nvme["health"] == "critical"
        assert any("critical_warning 0x04" in reason for reason in nvme["reasons"]), nvme["reasons"]
        assert disk(result, "/dev/sda")["health"] == "ok"
    finally:
        lab("fault", "nvme-ok", "new-server")
    assert module("disk_health")["health"] == "ok"


def md_array(vm: str, members: str) -> None:
    guest(vm, f"mdadm --create /dev/md/rwtest --run --level=1 --raid-devices=2 --metadata=1.2 {members}")
    wait_for(lambda: "[UU]" in guest(vm, "cat /proc/mdstat"), timeout=120, what="md resync to finish")


def test_raid_member_failed_then_rebuilt(lab_up):
    loops = "/dev/loop6 /dev/loop7"
    guest("new-server", RESET_NEW_SERVER_DISKS)
    guest(
        "new-server",
        "for i in 6 7; do truncate -s 64M /root/rw-md$i.img; losetup /dev/loop$i /root/rw-md$i.img; done",
    )
    try:
        md_array("new-server", loops)
        healthy = module("raid_health")
        array = next(a for a in healthy["arrays"] if a["name"].startswith("md"))
        assert (healthy["health"], array["state"], array["level"]) == ("ok", "optimal", "raid1")

        guest("new-server", "mdadm /dev/md/rwtest --fail /dev/loop7")
        failed = module("raid_health")
        array = next(a for a in failed["arrays"] if a["name"].startswith("md"))
        assert failed["health"] == "critical" and array["state"] == "degraded"
        assert any("loop7" in r and "faulty" in r for r in array["reasons"]), array["reasons"]

        guest("new-server", "mdadm /dev/md/rwtest --remove /dev/loop7 --add /dev/loop7")
        wait_for(lambda: "[UU]" in guest("new-server", "cat /proc/mdstat"), timeout=180, what="md rebuild")
        assert module("raid_health")["health"] == "ok"
    finally:
        guest("new-server", f"mdadm --stop /dev/md/rwtest; mdadm --zero-superblock {loops}")
        guest("new-server", "losetup -d /dev/loop6 /dev/loop7; rm -f /root/rw-md6.img /root/rw-md7.img; true")


def test_pulled_disk_degrades_the_array(lab_up):
    guest("new-server", RESET_NEW_SERVER_DISKS)
    md_array("new-server", "/dev/disk/by-id/virtio-RAID-A-0001 /dev/disk/by-id/virtio-RAID-B-0002")
    try:
        lab("fault", "disk-remove", "new-server", "raid-b")
        wait_for(lambda: module("raid_health")["health"] == "critical", timeout=60, what="md to see the pull")
        array = next(a for a in module("raid_health")["arrays"] if a["name"].startswith("md"))
        assert array["state"] == "degraded"
        assert any(r.startswith("degraded: 1 of 2 ") for r in array["reasons"]), array  # one of its two left
    finally:
        lab("fault", "disk-insert", "new-server", "raid-b")
        wait_for(
            lambda: "RAID-B-0002" in guest("new-server", "ls /dev/disk/by-id/"), timeout=30, what="disk back"
        )
        guest("new-server", RESET_NEW_SERVER_DISKS)
    assert "rwtest" not in guest("new-server", "cat /proc/mdstat")


def test_bmc_health_remote_and_local_follow_sensor_and_sel_faults(lab_up):
    bmc = lab_up["vms"]["new-server"]["bmc"]
    remote = {
        "host": "127.0.0.1",
        "port": bmc["lan_port"],
        "username": bmc["user"],
        "password": bmc["password"],
    }
    assert module("bmc_health", remote, host="localhost")["health"] == "ok"
    assert module("bmc_health")["health"] == "ok"  # in-band, the guest's /dev/ipmi0
    try:
        lab("fault", "bmc-sensor", "new-server", "cpu-temp", "95")
        hot = module("bmc_health", remote, host="localhost")
        assert hot["health"] == "critical"
        assert any("CPU Temp" in r for r in hot["reasons"]), hot["reasons"]
        local = module("bmc_health")
        assert local["health"] == "critical" and any("CPU Temp" in r for r in local["reasons"])

        lab("fault", "bmc-sensor", "new-server", "cpu-temp", "normal")
        lab("fault", "bmc-sel", "new-server", "psu-failure")
        psu = module("bmc_health", remote, host="localhost")
        assert psu["health"] == "critical", psu  # "Failure detected" (tests/unit/test_lab_fixtures.py)
        assert any("PSU1 Status Failure detected" in r for r in psu["reasons"]), psu["reasons"]
    finally:
        lab("fault", "bmc-restore", "new-server")
    assert module("bmc_health", remote, host="localhost")["health"] == "ok"
