"""Command line: python -m rackwright_lab {build,up,down,status,fault,ssh}."""

import argparse
import os
import sys

from rackwright_lab import aptrepo, bmc, faults, lab
from rackwright_lab.image import ensure_image
from rackwright_lab.spec import load_spec
from rackwright_lab.util import LabError

FAULTS_HELP = """\
faults (each with its restore):
  disk-remove VM DISK        hot-unplug a virtio/nvme disk   | disk-insert VM DISK
  nvme-critical VM [DISK]    NVMe SMART critical warning     | nvme-ok VM [DISK]
  link-down VM NIC           lab NIC carrier off             | link-up VM NIC
  bmc-sensor VM SENSOR VAL   sensor reading (+ SEL events)   | bmc-sensor VM SENSOR normal
  bmc-sel VM [KIND]          add a SEL entry                 | bmc-restore VM (sensors normal, SEL cleared)
  restore VM                 undo every fault on VM
"""


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="rackwright_lab", description="The rackwright hardware lab (QEMU VMs).")
    sub = p.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build", help="build the VM image (cached by recipe hash)")
    b.add_argument("--force", action="store_true", help="rebuild even if the cached image is current")
    u = sub.add_parser("up", help="start the lab and write inventories/lab/hosts.yml")
    u.add_argument("--spec", help="lab spec (default lab/spec/default.yml)")
    u.add_argument("--timeout", type=float, default=240, help="seconds to wait for SSH on every VM")
    sub.add_parser("down", help="stop the lab and remove its state")
    s = sub.add_parser("status", help="show each VM: running / crashed, SSH, BMC")
    s.add_argument("--json", action="store_true")
    c = sub.add_parser("check-spec", help="validate a lab spec")
    c.add_argument("spec", nargs="?")
    x = sub.add_parser("ssh", help="ssh into a VM as root (extra args: a command)")
    x.add_argument("vm")
    x.add_argument("cmd", nargs=argparse.REMAINDER)

    r = sub.add_parser("apt-repo", help="make the lab's local apt repository a VM's only apt source")
    r.add_argument("vm")
    r.add_argument(
        "stage",
        choices=["old", "new", "off"],
        help="old: the 1.0 packages; new: 1.1 added (the updates); off: the image's sources back",
    )

    f = sub.add_parser(
        "fault",
        help="inject or restore a hardware fault",
        epilog=FAULTS_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    fs = f.add_subparsers(dest="fault", required=True)
    for name in ("disk-remove", "disk-insert"):
        a = fs.add_parser(name)
        a.add_argument("vm")
        a.add_argument("disk")
    for name in ("nvme-critical", "nvme-ok"):
        a = fs.add_parser(name)
        a.add_argument("vm")
        a.add_argument("disk", nargs="?", help="NVMe disk (default: the VM's first)")
        if name == "nvme-critical":
            a.add_argument(
                "--value",
                type=lambda s: int(s, 0),
                default=faults.NVME_DEFAULT_WARNING,
                help="critical warning bits (default 0x04, reliability degraded)",
            )
    for name in ("link-down", "link-up"):
        a = fs.add_parser(name)
        a.add_argument("vm")
        a.add_argument("nic")
    a = fs.add_parser("bmc-sensor", help=f"sensors: {', '.join(bmc.SENSORS)}")
    a.add_argument("vm")
    a.add_argument("sensor", choices=list(bmc.SENSORS))
    a.add_argument("value", help="a reading in the sensor's unit, 'normal', or for psu1 a state")
    a = fs.add_parser("bmc-sel")
    a.add_argument("vm")
    a.add_argument("kind", nargs="?", default="ecc-uncorrectable", choices=list(bmc.SEL_KINDS))
    for name in ("bmc-restore", "restore"):
        fs.add_parser(name).add_argument("vm")
    return p


def _fault(args) -> int:
    actions = {
        "disk-remove": lambda: faults.disk_remove(args.vm, args.disk),
        "disk-insert": lambda: faults.disk_insert(args.vm, args.disk),
        "nvme-critical": lambda: faults.nvme_warning(args.vm, args.disk, args.value),
        "nvme-ok": lambda: faults.nvme_warning(args.vm, args.disk, 0),
        "link-down": lambda: faults.set_link(args.vm, args.nic, False),
        "link-up": lambda: faults.set_link(args.vm, args.nic, True),
        "bmc-sensor": lambda: faults.bmc_sensor(args.vm, args.sensor, args.value),
        "bmc-sel": lambda: faults.bmc_sel(args.vm, args.kind),
        "bmc-restore": lambda: faults.bmc_restore(args.vm),
        "restore": lambda: faults.restore(args.vm),
    }
    actions[args.fault]()
    return 0


def _ssh(args) -> int:
    st = lab.read_state()
    if not st or args.vm not in st["vms"]:
        raise LabError(
            f"no running VM {args.vm!r}" + (f"; VMs: {', '.join(st['vms'])}" if st else "; lab is down")
        )
    cmd = args.cmd[1:] if args.cmd[:1] == ["--"] else args.cmd
    argv = lab.ssh_cmd(st["vms"][args.vm]["ssh_port"], *cmd)
    if sys.stdin.isatty() and not cmd:
        argv.insert(1, "-t")
    os.execvp(argv[0], argv)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; LabError becomes one 'lab: error: ...' message and rc 2."""
    args = _parser().parse_args(argv)
    try:
        if args.command == "build":
            ensure_image(force=args.force)
            return 0
        if args.command == "up":
            return lab.up(args.spec, args.timeout)
        if args.command == "down":
            return lab.down()
        if args.command == "status":
            return lab.status(args.json)
        if args.command == "check-spec":
            spec = load_spec(args.spec)
            print(f"{spec.path}: ok ({len(spec.vms)} VMs: {', '.join(vm.name for vm in spec.vms)})")
            return 0
        if args.command == "ssh":
            return _ssh(args)
        if args.command == "apt-repo":
            print(aptrepo.publish(args.vm, args.stage))
            return 0
        return _fault(args)
    except LabError as exc:
        print(f"lab: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("lab: interrupted", file=sys.stderr)
        return 130
