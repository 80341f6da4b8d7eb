"""Lab lifecycle: up, down, status. State lives in the state dir (.lab/ by default)."""

import hashlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from rackwright_lab import bmc, inventory
from rackwright_lab.accel import ARGS as accel_args
from rackwright_lab.accel import TIME_SCALE
from rackwright_lab.accel import announce as announce_accel
from rackwright_lab.accel import choose as choose_accel
from rackwright_lab.image import Image, ensure_image
from rackwright_lab.qmp import Qmp
from rackwright_lab.spec import SERVICES, Spec, Vm, load_spec
from rackwright_lab.util import (
    LabError,
    free_ports,
    inventory_path,
    locked,
    log,
    need_tools,
    pid_alive,
    run,
    state_dir,
    step,
    tail,
)

QEMU = "qemu-system-x86_64"
MGMT_IP, MGMT_GW = "10.0.2.15/24", "10.0.2.2"
SSH_OPTS = [
    "-o", "StrictHostKeyChecking=no",
    "-o", "UserKnownHostsFile=/dev/null",
    "-o", "LogLevel=ERROR",
    "-o", "BatchMode=yes",
    "-o", "ConnectTimeout=5",
]  # fmt: skip


def lab_file() -> Path:
    """The state file of the running lab."""
    return state_dir() / "lab.json"


def read_state() -> dict | None:
    """The running lab's state, or None when the lab is down."""
    try:
        return json.loads(lab_file().read_text())
    except FileNotFoundError:
        return None
    except ValueError:
        raise LabError(f"{lab_file()} is corrupt; run `lab down` to clean up") from None


def _write_state(state: dict) -> None:
    tmp = lab_file().with_suffix(".tmp")
    tmp.write_text(json.dumps(state, indent=2) + "\n")
    tmp.replace(lab_file())


def key_path() -> Path:
    """The lab's SSH private key."""
    return state_dir() / "ssh" / "id_ed25519"


def ssh_cmd(port: int, *command: str) -> list[str]:
    """ssh argv that runs COMMAND as root on the VM forwarded to loopback PORT."""
    return ["ssh", *SSH_OPTS, "-i", str(key_path()), "-p", str(port), "root@127.0.0.1", *command]


def qemu_alive(vm: dict) -> bool:
    """True if the VM's QEMU process runs."""
    return pid_alive(vm.get("pid"), vm["dir"])


def _read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


def _mac(vm_index: int, nic_index: int) -> str:
    return f"52:54:00:77:{vm_index:02x}:{nic_index:02x}"


def _qemu_argv(vm: Vm, idx: int, vdir: Path, img: Image, st: dict, spec: Spec, pubkey: str) -> list[str]:
    """The QEMU command line of VM."""
    v = st["vms"][vm.name]
    machine_id = hashlib.sha256(f"{st['lab_id']}:{vm.name}".encode()).hexdigest()[:32]
    append = [
        f"root=UUID={img.root_uuid}", "rw", "console=ttyS0", "quiet", "loglevel=3",
        "mitigations=off", "cryptomgr.notests=1",
        f"systemd.hostname={vm.name}", f"systemd.machine_id={machine_id}",
        f"rackwright.nic=mgmt0,{_mac(idx, 0)},{MGMT_IP},{MGMT_GW}",
        "rackwright.sshkey={}:{}".format(*pubkey.split()[:2]),
    ]  # fmt: skip
    for j, nic in enumerate(vm.nics, start=1):
        append.append(f"rackwright.nic={nic.name},{_mac(idx, j)}" + (f",{nic.ip}" if nic.ip else ""))
    append += [f"rackwright.serviceip={nic.name},{nic.service_ip}" for nic in vm.nics if nic.service_ip]
    append += [f"systemd.wants={SERVICES[service]}" for service in vm.services]
    for other in spec.vms:
        append.append(f"rackwright.host={other.name},{other.nics[0].ip.split('/')[0]}")
    if vm.sample_data:
        append.append("rackwright.sampledata=1")
    serial = vm.serial.replace(",", ",,")
    argv = [
        QEMU, "-name", f"{vm.name},process=rwlab-{vm.name}",
        *accel_args[st.get("accel", "tcg")], "-machine", "pc",
        "-smp", str(vm.cpus), "-m", str(vm.memory),
        "-nodefaults", "-no-user-config", "-display", "none",
        "-kernel", str(img.kernel), "-initrd", str(img.initrd), "-append", " ".join(append),
        "-chardev", f"file,id=console,path={vdir / 'console.log'}", "-serial", "chardev:console",
        "-qmp", f"unix:{vdir / 'qmp.sock'},server=on,wait=off",
        "-pidfile", str(vdir / "qemu.pid"), "-daemonize",
        "-smbios", f"type=1,manufacturer=QEMU,product=Rackwright Lab VM,serial={serial}",
        "-device", "virtio-rng-pci",
        "-blockdev", _blockdev("root", vdir / "root.qcow2"),
        "-device", "virtio-blk-pci,drive=root,id=root-disk",
        "-netdev", f"user,id=net-mgmt0,restrict=on,hostfwd=tcp:127.0.0.1:{v['ssh_port']}-:22",
        "-device", f"virtio-net-pci,netdev=net-mgmt0,id=nic-mgmt0,mac={_mac(idx, 0)}",
    ]  # fmt: skip
    for j, nic in enumerate(vm.nics, start=1):
        port = v["lan_ports"][nic.name]
        argv += [
            "-netdev",
            f"socket,id=net-{nic.name},udp=127.0.0.1:{st['hub']['port']},localaddr=127.0.0.1:{port}",
        ]
        argv += ["-device", f"virtio-net-pci,netdev=net-{nic.name},id=nic-{nic.name},mac={_mac(idx, j)}"]
    if any(d.bus == "sata" for d in vm.disks):
        argv += ["-device", "ahci,id=ahci0"]
    sata_port = 0
    for d in vm.disks:
        argv += ["-blockdev", _blockdev(f"d-{d.name}", vdir / f"{d.name}.qcow2")]
        argv += ["-device", disk_device(d.name, d.bus, d.serial, d.model, sata_port)]
        sata_port += d.bus == "sata"
    if vm.bmc and vm.bmc.type == "extern":
        argv += ["-chardev", f"socket,id=bmc-chr,host=127.0.0.1,port={v['bmc']['kcs_port']},reconnect=5"]
        argv += ["-device", "ipmi-bmc-extern,chardev=bmc-chr,id=bmc0", "-device", "isa-ipmi-kcs,bmc=bmc0"]
    elif vm.bmc:
        argv += ["-device", "ipmi-bmc-sim,id=bmc0", "-device", "isa-ipmi-kcs,bmc=bmc0"]
    return argv


def _blockdev(node: str, path: Path) -> str:
    """-blockdev JSON for a qcow2 file; the node survives device_del, so a pulled disk can come back."""
    return json.dumps(
        {
            "driver": "qcow2",
            "node-name": node,
            "discard": "unmap",
            "cache": {"no-flush": True},
            "file": {"driver": "file", "filename": str(path), "cache": {"no-flush": True}},
        }
    )


def disk_device(name: str, bus: str, serial: str, model: str, sata_port: int) -> str:
    """The -device / device_add spec of a data disk."""
    if bus == "virtio":
        return f"virtio-blk-pci,drive=d-{name},id=disk-{name},serial={serial}"
    if bus == "nvme":
        return f"nvme,drive=d-{name},id=disk-{name},serial={serial}"
    model_opt = f",model={model}" if model else ""
    return f"ide-hd,drive=d-{name},id=disk-{name},bus=ahci0.{sata_port},serial={serial}{model_opt}"


def up(spec_path: str | None, timeout: float) -> int:
    """Bring the lab up (no-op when it is already up); wait until every VM answers SSH."""
    spec = load_spec(spec_path)
    tools = [QEMU, "qemu-img", "ssh", "ssh-keygen"]
    if any(vm.bmc and vm.bmc.type == "extern" for vm in spec.vms):
        tools += ["ipmi_sim", "sdrcomp", "ipmitool"]
    need_tools(*tools)
    sdir = state_dir()
    with locked(sdir / ".lock", "lab"):
        st = read_state()
        if st:
            dead = [n for n, v in st["vms"].items() if not qemu_alive(v)]
            if not dead:
                log(f"lab '{st['name']}' is already up ({len(st['vms'])} VMs); nothing to do")
                return 0
            if len(dead) < len(st["vms"]):  # some still run: keep them and their consoles for whoever looks
                raise LabError(
                    f"lab '{st['name']}' is up but {', '.join(dead)} crashed or stopped "
                    "(see `lab status`); run `lab down` then `lab up`"
                )
            # A reboot or a killed session: nothing is left to look at; the stale state goes just below.
            log(f"lab '{st['name']}' was left up but none of its VMs is running; starting it afresh")
        if sdir.exists() and any(p.name != ".lock" for p in sdir.iterdir()):
            log(f"removing stale state in {sdir}")
            _teardown(quiet=True)
        t0 = time.monotonic()
        img = ensure_image()
        accel, reason = choose_accel(QEMU, img.kernel)
        announce_accel(accel, reason)
        try:
            st = _start(spec, img, sdir, accel)
            # --timeout is what TCG needs; KVM gets proportionally less before a hang is reported.
            _wait_ready(st, timeout * TIME_SCALE[accel] / TIME_SCALE["tcg"])
        except BaseException:
            log("start failed; tearing the partial lab down")
            _teardown(quiet=True)
            raise
        inventory.write(spec, st, key_path())
        log(f"lab '{spec.name}' up in {time.monotonic() - t0:.1f}s; inventory {inventory_path()}")
        for name, v in st["vms"].items():
            log(f"  {name}: ssh port {v['ssh_port']}, lab ip {v['lab_ip']}, console {v['console']}")
    return 0


def _start(spec: Spec, img: Image, sdir: Path, accel: str = "tcg") -> dict:
    """Create the disks and start the hub, the BMCs and the VMs (booting in parallel)."""
    sdir.mkdir(parents=True, exist_ok=True)
    (sdir / "ssh").mkdir(mode=0o700, exist_ok=True)
    run(
        [
            "ssh-keygen",
            "-q",
            "-t",
            "ed25519",
            "-N",
            "",
            "-C",
            f"rackwright-lab-{spec.name}",
            "-f",
            str(key_path()),
        ]
    )
    pubkey = key_path().with_suffix(".pub").read_text()
    extern = [vm for vm in spec.vms if vm.bmc and vm.bmc.type == "extern"]
    nics = sum(len(vm.nics) for vm in spec.vms)
    tcp, udp = free_ports(len(spec.vms) + 2 * len(extern), 1 + nics + len(extern))
    st = {
        "name": spec.name,
        "spec": str(spec.path),
        "lab_id": secrets.token_hex(8),
        "started_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "hub": {"port": udp.pop(0), "pid": None},
        "accel": accel,
        "vms": {},
    }
    for vm in spec.vms:
        vdir = sdir / "vms" / vm.name
        v = st["vms"][vm.name] = {
            "dir": str(vdir),
            "console": str(vdir / "console.log"),
            "qmp": str(vdir / "qmp.sock"),
            "ssh_port": tcp.pop(0),
            "lab_ip": vm.nics[0].ip.split("/")[0],
            "lan_ports": {nic.name: udp.pop(0) for nic in vm.nics},
            "disks": {d.name: {"bus": d.bus, "serial": d.serial, "model": d.model} for d in vm.disks},
            "nics": [nic.name for nic in vm.nics],
            "pid": None,
            "bmc": None,
        }
        if vm in extern:
            v["bmc"] = {
                "type": "extern",
                "user": vm.bmc.user,
                "password": secrets.token_urlsafe(12),
                "lan_port": udp.pop(0),
                "console_port": tcp.pop(0),
                "kcs_port": tcp.pop(0),
                "dir": str(vdir / "bmc"),
                "pid": None,
            }
        elif vm.bmc:
            v["bmc"] = {"type": "builtin"}
    _write_state(st)
    members = [p for v in st["vms"].values() for p in v["lan_ports"].values()]
    with open(sdir / "hub.log", "w") as out:
        hub = subprocess.Popen(
            [sys.executable, "-m", "rackwright_lab.hub", str(st["hub"]["port"]), *map(str, members)],
            env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])},
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    st["hub"]["pid"] = hub.pid
    (sdir / "hub.pid").write_text(f"{hub.pid}\n")
    _write_state(st)
    with step(f"start {len(spec.vms)} VMs ({', '.join(vm.name for vm in spec.vms)})"):
        for idx, vm in enumerate(spec.vms, start=1):
            vdir = sdir / "vms" / vm.name
            vdir.mkdir(parents=True, exist_ok=True)
            v = st["vms"][vm.name]
            run(
                [
                    "qemu-img",
                    "create",
                    "-q",
                    "-f",
                    "qcow2",
                    "-F",
                    "qcow2",
                    "-b",
                    str(img.rootfs),
                    str(vdir / "root.qcow2"),
                ]
            )
            for d in vm.disks:
                run(["qemu-img", "create", "-q", "-f", "qcow2", str(vdir / f"{d.name}.qcow2"), d.size])
            if v["bmc"] and v["bmc"]["type"] == "extern":
                b = v["bmc"]
                b["pid"] = bmc.start(
                    Path(b["dir"]),
                    lan_port=b["lan_port"],
                    console_port=b["console_port"],
                    kcs_port=b["kcs_port"],
                    user=b["user"],
                    password=b["password"],
                    serial=vm.serial,
                )
                (Path(b["dir"]) / "ipmi_sim.pid").write_text(f"{b['pid']}\n")
                _write_state(st)
            qlog = vdir / "qemu.log"
            argv = _qemu_argv(vm, idx, vdir, img, st, spec, pubkey)
            (vdir / "qemu.argv").write_text(json.dumps(argv, indent=1) + "\n")
            with open(qlog, "w") as out:
                rc = subprocess.run(
                    argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT
                ).returncode
            if rc != 0:
                raise LabError(f"QEMU for {vm.name} failed to start (rc={rc}): {tail(qlog, 5)}")
            v["pid"] = _read_pid(vdir / "qemu.pid")
            _write_state(st)
    return st


def _ssh_banner(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
            s.settimeout(2)
            return s.recv(64).startswith(b"SSH-")
    except OSError:
        return False


def _set_clock(port: int) -> str:
    """Set the VM's clock from the host's. A guest boots with its clock read from the emulated RTC, which
    counts whole seconds, so two VMs start up to a second apart (the acceptance tests' time item allows 1 s,
    and failed on it in CI). The host's time is written once the VM's shell waits for it, so the SSH
    connection's set-up does not count; what is left is one pipe write over an open connection."""
    remote = 'echo ready; read t && date -u -s "@$t" >/dev/null && echo set'
    with subprocess.Popen(
        ssh_cmd(port, remote), stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    ) as proc:
        ready = proc.stdout.readline().strip()
        if ready != "ready":
            proc.kill()
            return f"clock not set (the VM said {ready!r})"
        proc.stdin.write(f"{time.time():.6f}\n")
        proc.stdin.flush()
        done = proc.stdout.readline().strip()
        proc.wait(timeout=30)
    return "clock set from the host" if done == "set" else f"clock not set (the VM said {done!r})"


def _wait_ready(st: dict, timeout: float) -> None:
    """Wait (in parallel) until every VM accepts the lab key over SSH; fail naming the VM."""

    def wait(name: str) -> float:
        v = st["vms"][name]
        t0 = time.monotonic()
        while True:
            if not qemu_alive(v):
                raise LabError(
                    f"{name}: QEMU exited during boot; console {v['console']}:\n{tail(Path(v['console']))}"
                )
            if _ssh_banner(v["ssh_port"]):
                probe = subprocess.run(ssh_cmd(v["ssh_port"], "true"), capture_output=True, timeout=30)
                if probe.returncode == 0:
                    return time.monotonic() - t0, _set_clock(v["ssh_port"])
            if time.monotonic() - t0 > timeout:
                raise LabError(
                    f"{name}: no SSH on 127.0.0.1:{v['ssh_port']} after {timeout:.0f}s; "
                    f"console {v['console']}:\n{tail(Path(v['console']))}"
                )
            time.sleep(1)

    with step("wait for SSH on all VMs"), ThreadPoolExecutor(len(st["vms"])) as pool:
        futures = {name: pool.submit(wait, name) for name in st["vms"]}
        for name, fut in futures.items():
            took, clock = fut.result()
            log(f"  {name}: SSH ready after {took:.1f}s, {clock}")


def _stop_pid(pid: int | None, marker: str, what: str) -> bool:
    """SIGTERM then SIGKILL PID (only if its command line has MARKER); True if it was running."""
    if not pid_alive(pid, marker):
        return False
    os.kill(pid, signal.SIGTERM)
    for _ in range(50):
        if not pid_alive(pid, marker):
            return True
        time.sleep(0.1)
    log(f"{what} (pid {pid}) ignored SIGTERM; killing it")
    os.kill(pid, signal.SIGKILL)
    return True


def _teardown(quiet: bool = False) -> list[str]:
    """Stop every process of the lab found in the state dir and remove the state."""
    sdir = state_dir()
    stopped = []
    for vdir in sorted((sdir / "vms").glob("*")) if (sdir / "vms").exists() else []:
        pid = _read_pid(vdir / "qemu.pid")
        was_running = pid_alive(pid, str(vdir))
        if was_running:
            try:
                with Qmp(vdir / "qmp.sock", timeout=3) as q:
                    q.cmd("quit")
            except LabError:
                pass
            for _ in range(30):
                if not pid_alive(pid, str(vdir)):
                    break
                time.sleep(0.1)
        _stop_pid(pid, str(vdir), f"QEMU {vdir.name}")
        if was_running:
            stopped.append(f"qemu:{vdir.name}")
        bpid = _read_pid(vdir / "bmc" / "ipmi_sim.pid")
        if _stop_pid(bpid, "ipmi_sim", f"ipmi_sim {vdir.name}"):
            stopped.append(f"ipmi_sim:{vdir.name}")
    if _stop_pid(_read_pid(sdir / "hub.pid"), "rackwright_lab.hub", "lab hub"):
        stopped.append("hub")
    for entry in ("vms", "ssh", "lab.json", "lab.tmp", "hub.pid", "hub.log"):
        p = sdir / entry
        if p.is_dir():
            shutil.rmtree(p)
        elif p.exists():
            p.unlink()
    inventory_path().unlink(missing_ok=True)
    if not quiet and stopped:
        log(f"stopped {', '.join(stopped)}")
    return stopped


def down() -> int:
    """Stop the lab and remove its state and inventory."""
    sdir = state_dir()
    if not sdir.exists():
        log("lab is not up; nothing to do")
        return 0
    with locked(sdir / ".lock", "lab"), step("lab down"):
        st = read_state() if lab_file().exists() else None
        stopped = _teardown()
        if not st and not stopped:
            log("lab was not up; removed leftover state")
    (sdir / ".lock").unlink(missing_ok=True)
    if not any(sdir.iterdir()):
        sdir.rmdir()
    return 0


def status(as_json: bool = False) -> int:
    """Print each VM's state (running / crashed), SSH readiness and BMC; rc 1 if any VM is down."""
    st = read_state()
    if not st:
        print(json.dumps({"up": False}) if as_json else "lab is down")
        return 0
    report = {"up": True, "name": st["name"], "spec": st["spec"], "accel": st.get("accel", "tcg"), "vms": {}}
    for name, v in st["vms"].items():
        running = qemu_alive(v)
        entry = {
            "state": "running" if running else "crashed",
            "ssh": f"127.0.0.1:{v['ssh_port']}",
            "ssh_ready": running and _ssh_banner(v["ssh_port"]),
            "lab_ip": v["lab_ip"],
            "console": v["console"],
        }
        if v["bmc"] and v["bmc"]["type"] == "extern":
            entry["bmc"] = (
                f"127.0.0.1:{v['bmc']['lan_port']} ({'running' if bmc.alive(v['bmc']['pid']) else 'down'})"
            )
        report["vms"][name] = entry
    if as_json:
        print(json.dumps(report, indent=2))
    else:
        print(f"lab '{st['name']}' ({st['spec']})")
        for name, e in report["vms"].items():
            ready = "ready" if e["ssh_ready"] else "not ready"
            line = f"  {name:<14} {e['state']:<8} ssh {e['ssh']:<16} {ready:<9} lab {e['lab_ip']}"
            if "bmc" in e:
                line += f"  bmc {e['bmc']}"
            if e["state"] == "crashed":
                line += f"\n    QEMU is gone; console log: {e['console']}"
            print(line)
    return 0 if all(e["state"] == "running" for e in report["vms"].values()) else 1
