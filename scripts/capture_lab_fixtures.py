"""Capture real tool output from the running lab into tests/fixtures/lab/ for the parser tests.

Runs smartctl, ipmitool and mdadm inside the lab VMs, healthy and with injected
faults (NVMe critical warning, CPU over temperature, PSU failure in the SEL, an md
member failed), restoring each fault afterwards. Needs `make lab-up` first.
"""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "tests" / "fixtures" / "lab"
LAB = [sys.executable, "-m", "rackwright_lab"]
ENV = {"PYTHONPATH": str(ROOT / "lab"), "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}


def lab(*args: str) -> str:
    run = subprocess.run([*LAB, *args], cwd=ROOT, env=ENV, capture_output=True, text=True, check=False)
    if run.returncode not in (0, 4, 8, 64) or (args[0] != "ssh" and run.returncode):
        sys.exit(f"capture: lab {' '.join(args)} failed (rc {run.returncode}): {run.stderr.strip()}")
    return run.stdout


def guest(command: str) -> str:
    return lab("ssh", "new-server", "--", command)


def save(name: str, text: str) -> None:
    (OUT / name).write_text(text)
    print(f"wrote tests/fixtures/lab/{name} ({len(text)} bytes)")


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    save("smartctl-qemu-sata-healthy.json", guest("smartctl --json -x /dev/sda; true"))
    save("smartctl-qemu-nvme-healthy.json", guest("smartctl --json -x /dev/nvme0; true"))
    lab("fault", "nvme-critical", "new-server")
    save("smartctl-qemu-nvme-critical-warning.json", guest("smartctl --json -x /dev/nvme0; true"))
    lab("fault", "nvme-ok", "new-server")

    save("ipmitool-sdr-elist-ipmi-sim-healthy.txt", guest("ipmitool sdr elist 2>/dev/null"))
    lab("fault", "bmc-sensor", "new-server", "cpu-temp", "95")
    save("ipmitool-sdr-elist-ipmi-sim-cpu-95c.txt", guest("ipmitool sdr elist 2>/dev/null"))
    save("ipmitool-sensor-ipmi-sim-cpu-95c.txt", guest("ipmitool sensor 2>/dev/null"))
    save("ipmitool-sel-elist-ipmi-sim-cpu-95c.txt", guest("ipmitool sel elist 2>/dev/null"))
    lab("fault", "bmc-restore", "new-server")
    lab("fault", "bmc-sel", "new-server", "psu-failure")
    save("ipmitool-sel-elist-ipmi-sim-psu-failure.txt", guest("ipmitool sel elist 2>/dev/null"))
    lab("fault", "bmc-restore", "new-server")

    loops = "/dev/loop6 /dev/loop7"
    guest("for i in 6 7; do truncate -s 64M /root/cap$i.img; losetup /dev/loop$i /root/cap$i.img; done")
    try:
        guest(f"mdadm --create /dev/md/cap --run --level=1 --raid-devices=2 --assume-clean {loops}")
        guest("mdadm /dev/md/cap --fail /dev/loop7")
        save("mdstat-qemu-raid1-member-failed.txt", guest("cat /proc/mdstat"))
        save("mdadm-detail-qemu-raid1-member-failed.txt", guest("mdadm --detail /dev/md/cap"))
    finally:
        guest(f"mdadm --stop /dev/md/cap; mdadm --zero-superblock {loops}; losetup -d {loops}")
        guest("rm -f /root/cap6.img /root/cap7.img")


if __name__ == "__main__":
    main()
