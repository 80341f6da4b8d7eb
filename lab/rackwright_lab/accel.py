"""KVM when this machine can really run it, TCG (software emulation) otherwise.

`/dev/kvm` existing is not enough: on some nested-virtualisation hosts it opens fine and guests then hang
at boot. So `auto` (the default; $RACKWRIGHT_LAB_ACCEL=kvm|tcg forces one) boots the lab's own kernel
under KVM for a few seconds with no root filesystem and waits for it to panic; a kernel that printed its
banner and panicked proves KVM works. The answer is cached per host boot and kernel image, so only the
first `lab up` after a reboot pays for the probe. Timeouts scale with the answer (TCG is slower).
"""

import hashlib
import json
import os
import subprocess
import tempfile
import time
from pathlib import Path

from rackwright_lab.util import LabError, cache_dir, log

VARIABLE = "RACKWRIGHT_LAB_ACCEL"
PROBE_SECONDS = 20
ARGS = {
    "kvm": ["-accel", "kvm", "-cpu", "host"],
    "tcg": ["-accel", "tcg,thread=multi", "-cpu", "max"],
}
# How much longer everything that waits on a guest may take, relative to KVM.
TIME_SCALE = {"kvm": 1.0, "tcg": 2.5}


def _boot_id() -> str:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return "unknown-boot"


def _probe(qemu: str, kernel: Path) -> tuple[bool, str]:
    """Boot KERNEL under KVM until it panics for want of a root filesystem."""
    with tempfile.TemporaryDirectory(prefix="rwlab-kvm-") as tmp:
        console = Path(tmp) / "console.log"
        argv = [
            qemu, *ARGS["kvm"], "-machine", "pc", "-m", "256", "-nodefaults", "-no-user-config",
            "-display", "none", "-no-reboot", "-kernel", str(kernel),
            "-append", "console=ttyS0 panic=-1 root=/dev/nonexistent loglevel=4",
            "-chardev", f"file,id=c,path={console}", "-serial", "chardev:c",
        ]  # fmt: skip
        start = time.monotonic()
        try:
            proc = subprocess.run(argv, capture_output=True, text=True, timeout=PROBE_SECONDS, check=False)
        except subprocess.TimeoutExpired:
            return (
                False,
                f"a KVM test boot printed nothing useful within {PROBE_SECONDS} s (guests hang here)",
            )
        text = console.read_text(errors="replace") if console.exists() else ""
        if "Linux version" in text and "Kernel panic" in text:
            return True, f"a KVM test boot reached the kernel in {time.monotonic() - start:.1f} s"
        why = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        return False, f"a KVM test boot failed ({why})"


def choose(qemu: str, kernel: Path) -> tuple[str, str]:
    """('kvm' or 'tcg', the reason), as forced by $RACKWRIGHT_LAB_ACCEL or found by the probe."""
    forced = os.environ.get(VARIABLE, "auto").strip().lower() or "auto"
    if forced not in ("auto", *ARGS):
        raise LabError(f"{VARIABLE}={forced!r}: expected kvm, tcg or auto")
    usable = os.access("/dev/kvm", os.R_OK | os.W_OK)
    if forced == "tcg":
        return "tcg", f"{VARIABLE}=tcg"
    if forced == "kvm":
        if not usable:
            raise LabError(
                f"{VARIABLE}=kvm but /dev/kvm is missing or not readable and writable by this user"
            )
        return "kvm", f"{VARIABLE}=kvm"
    if not usable:
        return "tcg", "/dev/kvm is missing or not usable by this user"
    key = hashlib.sha256(f"{_boot_id()}:{kernel.stat().st_size}:{kernel}".encode()).hexdigest()[:16]
    cache = cache_dir().parent / f"lab-accel-{key}.json"
    try:
        seen = json.loads(cache.read_text())
        return seen["accel"], f"{seen['reason']} (probed earlier in this boot)"
    except (OSError, ValueError, KeyError):
        pass
    ok, reason = _probe(qemu, kernel)
    accel = "kvm" if ok else "tcg"
    cache.parent.mkdir(parents=True, exist_ok=True)
    cache.write_text(json.dumps({"accel": accel, "reason": reason}))
    return accel, reason


def announce(accel: str, reason: str) -> None:
    log(f"accelerator: {accel.upper()} ({reason}); guest timeouts x{TIME_SCALE[accel]:g}")
