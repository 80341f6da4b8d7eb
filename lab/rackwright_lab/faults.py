"""Real faults, injected through the QEMU monitor (QMP) and the ipmi_sim console, and their restores."""

import time
from pathlib import Path

from rackwright_lab import bmc
from rackwright_lab.lab import disk_device, qemu_alive, read_state
from rackwright_lab.qmp import Qmp
from rackwright_lab.util import LabError, log

# NVMe SMART critical warning bits: 0x01 spare below threshold, 0x02 temperature, 0x04 reliability
# degraded, 0x08 read-only, 0x10 volatile memory backup failed.
NVME_DEFAULT_WARNING = 0x04


def running_vm(name: str) -> dict:
    st = read_state()
    if not st:
        raise LabError("lab is down; run `lab up` first")
    if name not in st["vms"]:
        raise LabError(f"no VM {name!r} in lab '{st['name']}'; VMs: {', '.join(st['vms'])}")
    v = st["vms"][name]
    if not qemu_alive(v):
        raise LabError(f"{name} is not running (crashed?); console log: {v['console']}")
    return v


def _disk(vm_name: str, v: dict, disk: str | None, bus: str | None = None) -> str:
    disks = [d for d, info in v["disks"].items() if bus is None or info["bus"] == bus]
    if disk is None and disks:
        return disks[0]
    if disk not in disks:
        kind = f"{bus} disk" if bus else "disk"
        raise LabError(f"{vm_name} has no {kind} {disk!r}; {kind}s: {', '.join(disks) or 'none'}")
    return disk


def _present(q: Qmp, device_id: str) -> bool:
    return any(p["name"] == device_id for p in q.cmd("qom-list", path="/machine/peripheral"))


def disk_remove(vm_name: str, disk: str) -> None:
    """Hot-unplug DISK (device_del): the guest loses it as a dying drive would disappear."""
    v = running_vm(vm_name)
    disk = _disk(vm_name, v, disk)
    if v["disks"][disk]["bus"] == "sata":
        raise LabError(
            "QEMU cannot hot-unplug SATA (ide-hd on AHCI) disks; pull a virtio or nvme disk instead"
        )
    with Qmp(Path(v["qmp"])) as q:
        if not _present(q, f"disk-{disk}"):
            log(f"{vm_name}: {disk} is already removed")
            return
        q.cmd("device_del", id=f"disk-{disk}")
        if not q.wait_event("DEVICE_DELETED", 30) or _present(q, f"disk-{disk}"):
            raise LabError(f"{vm_name}: the guest did not release {disk} within 30s (ACPI hot-unplug)")
    log(f"{vm_name}: {disk} removed (device_del)")


def disk_insert(vm_name: str, disk: str) -> None:
    """Plug a removed DISK back in (device_add on the same, kept, block node)."""
    v = running_vm(vm_name)
    disk = _disk(vm_name, v, disk)
    info = v["disks"][disk]
    with Qmp(Path(v["qmp"])) as q:
        if _present(q, f"disk-{disk}"):
            log(f"{vm_name}: {disk} is present; nothing to do")
            return
        driver, _, props = disk_device(disk, info["bus"], info["serial"], info["model"], 0).partition(",")
        args = dict(p.split("=", 1) for p in props.split(","))
        q.cmd("device_add", driver=driver, **args)
    log(f"{vm_name}: {disk} inserted (device_add)")


def nvme_warning(vm_name: str, disk: str | None, value: int) -> None:
    """Set the NVMe controller's SMART critical warning byte at runtime (qom-set; 0 clears it)."""
    v = running_vm(vm_name)
    disk = _disk(vm_name, v, disk, "nvme")
    if not 0 <= value <= 0x1F:
        raise LabError(
            "critical warning must be 0..0x1f (bits: 1 spare, 2 temperature, 4 reliability, 8 read-only)"
        )
    with Qmp(Path(v["qmp"])) as q:
        q.cmd(
            "qom-set", path=f"/machine/peripheral/disk-{disk}", property="smart_critical_warning", value=value
        )
        got = q.cmd("qom-get", path=f"/machine/peripheral/disk-{disk}", property="smart_critical_warning")
    log(f"{vm_name}: {disk} smart_critical_warning = {got:#04x}")


def set_link(vm_name: str, nic: str, up: bool) -> None:
    """Pull or plug a lab NIC's cable (set_link): the guest sees carrier 0 / 1."""
    v = running_vm(vm_name)
    if nic not in v["nics"]:
        raise LabError(f"{vm_name} has no lab NIC {nic!r}; NICs: {', '.join(v['nics'])}")
    with Qmp(Path(v["qmp"])) as q:
        q.cmd("set_link", name=f"nic-{nic}", up=up)
    log(f"{vm_name}: {nic} link {'up' if up else 'down'}")


def _bmc(vm_name: str) -> dict:
    v = running_vm(vm_name)
    b = v["bmc"]
    if not b or b["type"] != "extern":
        raise LabError(f"{vm_name} has no ipmi_sim BMC (spec: bmc: {{type: extern}}); only it can be faulted")
    if not bmc.alive(b["pid"]):
        raise LabError(f"{vm_name}: ipmi_sim (pid {b['pid']}) is not running; see {b['dir']}/ipmi_sim.log")
    return b


def bmc_sensor(vm_name: str, sensor: str, value: str) -> None:
    """Set a BMC sensor (events are generated as the reading crosses thresholds)."""
    b = _bmc(vm_name)
    bmc.console(b["console_port"], *bmc.sensor_commands(sensor, value))
    log(f"{vm_name}: BMC sensor {sensor} set to {value}")


def bmc_sel(vm_name: str, kind: str) -> None:
    """Add a SEL entry (default: an uncorrectable ECC memory error)."""
    b = _bmc(vm_name)
    out = bmc.console(b["console_port"], bmc.sel_command(kind))
    log(f"{vm_name}: SEL {kind} added ({out.strip() or 'ok'})")


def bmc_restore(vm_name: str) -> None:
    """All sensors back to normal, then clear the SEL."""
    b = _bmc(vm_name)
    cmds = [c for key in bmc.SENSORS for c in bmc.sensor_commands(key, "normal")]
    bmc.console(b["console_port"], *cmds)
    time.sleep(0.2)
    bmc.ipmitool(b["lan_port"], b["user"], b["password"], "sel", "clear")
    log(f"{vm_name}: BMC sensors normal, SEL cleared")


def restore(vm_name: str) -> None:
    """Undo every fault on VM: disks back, NVMe warning 0, links up, BMC normal."""
    v = running_vm(vm_name)
    with Qmp(Path(v["qmp"])) as q:
        missing = [d for d in v["disks"] if not _present(q, f"disk-{d}")]
    for d in missing:
        disk_insert(vm_name, d)
    for d, info in v["disks"].items():
        if info["bus"] == "nvme":
            nvme_warning(vm_name, d, 0)
    for nic in v["nics"]:
        set_link(vm_name, nic, True)
    if v["bmc"] and v["bmc"]["type"] == "extern":
        bmc_restore(vm_name)
