"""The default lab on real VMs: reachability, emulated hardware, and every fault with its restore."""

import json
import re
import subprocess
import time

import pytest
from conftest import ANSIBLE, ENV, ROOT, ansible, guest, lab, wait_for

pytestmark = pytest.mark.lab
VMS = {"old-server", "new-server", "backup-host"}


def test_ansible_ping_every_vm(lab_up):
    proc = subprocess.run(
        [ANSIBLE, "-i", "inventories/lab", "all", "-m", "ping"],
        cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for vm in VMS:
        assert f"{vm} | SUCCESS" in proc.stdout


def test_every_vm_keeps_the_hosts_time(lab_up):
    """`lab up` sets each VM's clock from the host (the emulated RTC counts whole seconds, so VMs booted up to
    a second apart, and the acceptance tests' 1 s time item failed on it)."""
    for vm in ("old-server", "new-server", "backup-host"):
        before = time.time()
        guest_time = float(guest(vm, "date +%s.%N"))
        after = time.time()
        assert before - 0.5 < guest_time < after + 0.5, (vm, guest_time - (before + after) / 2)


def test_inventory_has_production_shape(lab_up):
    proc = subprocess.run(
        [str(ROOT / ".venv/bin/ansible-inventory"), "-i", "inventories/lab", "--list"],
        cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    inv = json.loads(proc.stdout)
    assert "rack_lab1" in inv["site_lab"]["children"]
    assert set(inv["rack_lab1"]["hosts"]) == VMS
    assert inv["storage_servers"]["hosts"] == ["new-server"]
    assert inv["backup_servers"]["hosts"] == ["backup-host"]
    assert set(inv["vendor_qemu"]["hosts"]) == VMS
    hv = inv["_meta"]["hostvars"]["new-server"]
    assert hv["bmc_address"] == "127.0.0.1" and hv["bmc_interface"] == "lanplus"
    assert hv["bmc_port"] == lab_up["vms"]["new-server"]["bmc"]["lan_port"]
    assert hv["lab_ip"] == "10.77.0.12"


def test_smartctl_sata_and_nvme_through_ansible(lab_up):
    for dev, serial in (("/dev/sda", "SATA-S1-0003"), ("/dev/nvme0", "NVME-N1-0004")):
        res = ansible("new-server", "command", f"smartctl --json -x {dev}")["new-server"]
        data = json.loads(res["stdout"])
        assert data["serial_number"] == serial
        assert data["smartctl"]["exit_status"] & 0b11 == 0, data["smartctl"]  # command line ok, device opened
        assert data["smart_status"]["passed"] is True
    assert data["nvme_smart_health_information_log"]["critical_warning"] == 0


def test_ipmitool_sdr_through_ansible(lab_up):
    res = ansible("new-server", "command", "ipmitool sdr elist")["new-server"]
    assert res["rc"] == 0, res
    assert "CPU Temp" in res["stdout"] and "PSU1 Status" in res["stdout"]


def test_lab_lan_and_sample_data(lab_up):
    assert "1 received" in guest("old-server", "ping -c 1 -W 5 backup-host")
    assert "OK" in guest("old-server", "cd /srv/data && sha256sum -c SHA256SUMS")


def _lsblk_serials(vm: str) -> str:
    return guest(vm, "lsblk -d -n -o SERIAL")


def test_fault_disk_remove_and_insert(lab_up):
    assert "RAID-B-0002" in _lsblk_serials("new-server")
    lab("fault", "disk-remove", "new-server", "raid-b")
    wait_for(lambda: "RAID-B-0002" not in _lsblk_serials("new-server"), what="raid-b gone from lsblk")
    lab("fault", "disk-insert", "new-server", "raid-b")
    wait_for(lambda: "RAID-B-0002" in _lsblk_serials("new-server"), what="raid-b back in lsblk")


def test_fault_nvme_critical_warning(lab_up):
    def warning() -> int:
        out = guest("new-server", "smartctl --json -x /dev/nvme0", check=False)
        return json.loads(out)["nvme_smart_health_information_log"]["critical_warning"]

    lab("fault", "nvme-critical", "new-server")
    assert warning() == 4
    assert "critical_warning\t\t\t: 0x4" in guest("new-server", "nvme smart-log /dev/nvme0")
    lab("fault", "nvme-ok", "new-server")
    assert warning() == 0


def test_fault_link_down_and_up(lab_up):
    carrier = "cat /sys/class/net/lan0/carrier"
    lab("fault", "link-down", "new-server", "lan0")
    assert guest("new-server", carrier).strip() == "0"
    assert "NO-CARRIER" in guest("new-server", "ip link show lan0")
    lab("fault", "link-up", "new-server", "lan0")
    wait_for(lambda: guest("new-server", carrier).strip() == "1", what="carrier back")
    assert "1 received" in guest("new-server", "ping -c 1 -W 5 10.77.0.13")


def test_fault_bmc_sensor(lab_up):
    lab("fault", "bmc-sensor", "new-server", "cpu-temp", "95")
    sdr = guest("new-server", "ipmitool sdr elist")
    assert any(
        line.startswith("CPU Temp") and "ucr" in line and "95 degrees C" in line for line in sdr.splitlines()
    )
    assert "Upper Critical going high" in guest("new-server", "ipmitool sel elist")
    lab("fault", "bmc-sensor", "new-server", "psu1", "failure")
    assert "Failure detected" in guest("new-server", "ipmitool sdr elist")
    lab("fault", "bmc-restore", "new-server")
    sdr = guest("new-server", "ipmitool sdr elist")
    assert "45 degrees C" in sdr and "Failure detected" not in sdr


def test_fault_bmc_sel_seen_over_lanplus(lab_up):
    b = lab_up["vms"]["new-server"]["bmc"]
    ipmi = ["ipmitool", "-I", "lanplus", "-C", "3", "-H", "127.0.0.1", "-p", str(b["lan_port"])]
    ipmi += ["-U", b["user"], "-P", b["password"], "sel", "elist"]
    lab("fault", "bmc-sel", "new-server")
    assert "Uncorrectable ECC" in subprocess.run(ipmi, capture_output=True, text=True, timeout=30).stdout
    assert "Uncorrectable ECC" in guest("new-server", "ipmitool sel elist")
    lab("fault", "restore", "new-server")
    assert re.search(r"^Entries\s+: 0$", guest("new-server", "ipmitool sel info"), re.M)


def test_bad_input_is_one_line(lab_up):
    proc = lab("fault", "link-down", "no-such-vm", "lan0", check=False)
    assert proc.returncode == 2
    assert proc.stderr.strip().startswith("lab: error: no VM 'no-such-vm'") and "Traceback" not in proc.stderr
    proc = lab("fault", "disk-remove", "new-server", "sata0", check=False)
    assert proc.returncode == 2 and "cannot hot-unplug SATA" in proc.stderr


def test_up_when_up_is_a_noop(lab_up):
    proc = lab("up")
    assert "already up" in proc.stderr
