"""Shared helpers: errors, progress lines, paths and subprocess calls."""

import contextlib
import fcntl
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


class LabError(Exception):
    """An error the user can act on; the CLI prints it as one line, without a traceback."""


def log(msg: str) -> None:
    """Print one progress line."""
    print(f"[lab] {msg}", file=sys.stderr, flush=True)


@contextlib.contextmanager
def step(what: str):
    """Log WHAT, run the block, then log how long it took."""
    t0 = time.monotonic()
    log(f"{what} ...")
    yield
    log(f"{what}: done in {time.monotonic() - t0:.1f}s")


def state_dir() -> Path:
    """The lab's state directory: $RACKWRIGHT_LAB_STATE or .lab/ at the repo root."""
    return Path(os.environ.get("RACKWRIGHT_LAB_STATE") or REPO_ROOT / ".lab").resolve()


def cache_dir() -> Path:
    """Where built images are cached."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "rackwright" / "lab-images"


def inventory_path() -> Path:
    """The generated Ansible inventory of the lab."""
    return REPO_ROOT / "inventories" / "lab" / "hosts.yml"


def need_tools(*names: str) -> None:
    """Fail with one line naming the Debian package when a tool is missing."""
    packages = {
        "qemu-system-x86_64": "qemu-system-x86",
        "qemu-img": "qemu-utils",
        "debootstrap": "debootstrap",
        "ipmi_sim": "openipmi",
        "sdrcomp": "openipmi",
        "ipmitool": "ipmitool",
        "ssh": "openssh-client",
        "ssh-keygen": "openssh-client",
        "mkfs.ext4": "e2fsprogs",
    }
    missing = [n for n in names if shutil.which(n) is None]
    if missing:
        pkgs = " ".join(sorted({packages.get(n, n) for n in missing}))
        raise LabError(f"missing {', '.join(missing)}: run apt-get install -y --no-install-recommends {pkgs}")


def run(cmd: list[str], *, log_file: Path | None = None, **kw) -> subprocess.CompletedProcess:
    """Run CMD; on failure raise LabError with the command and the tail of its output."""
    if log_file is not None:
        with open(log_file, "a") as fh:
            fh.write(f"\n$ {' '.join(cmd)}\n")
            fh.flush()
            proc = subprocess.run(cmd, stdout=fh, stderr=subprocess.STDOUT, **kw)
        if proc.returncode != 0:
            raise LabError(f"{cmd[0]} failed (rc={proc.returncode}):\n{tail(log_file)}\nfull log: {log_file}")
        return proc
    proc = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if proc.returncode != 0:
        out = (proc.stderr or proc.stdout).strip()
        raise LabError(f"{' '.join(cmd[:3])} failed (rc={proc.returncode}): {out}")
    return proc


def tail(path: Path, lines: int = 15) -> str:
    """The last LINES lines of a text file ('' if it does not exist)."""
    try:
        data = path.read_bytes()[-16384:].decode(errors="replace")
    except OSError:
        return ""
    return "\n".join(data.replace("\r", "").splitlines()[-lines:])


@contextlib.contextmanager
def locked(path: Path, what: str):
    """Hold an exclusive lock on PATH; fail at once if another process holds it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise LabError(f"another lab command is running ({what} lock {path}); wait for it") from None
        yield


def free_ports(tcp: int, udp: int) -> tuple[list[int], list[int]]:
    """Pick free loopback ports (held open until all are chosen, so they differ)."""
    socks = []
    try:
        for count, kind in ((tcp, socket.SOCK_STREAM), (udp, socket.SOCK_DGRAM)):
            for _ in range(count):
                s = socket.socket(socket.AF_INET, kind)
                s.bind(("127.0.0.1", 0))
                socks.append(s)
        ports = [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()
    return ports[:tcp], ports[tcp:]


def pid_alive(pid: int | None, marker: str = "") -> bool:
    """True if PID runs and its command line contains MARKER."""
    if not pid:
        return False
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.split(") ", 1)[-1][:1] != "Z" and marker in cmdline
