"""Install the Debian packages each test layer needs, and start dockerd.

`packages LAYER...`: apt-get install whatever the layers' packages lack (apt-get update only when
something is missing); `packages all` is every layer. `docker`: start dockerd in the background when
`docker info` fails (the build machines have no systemd), and wait for it. Every failure ends in one
line saying what to do. Runs with the system python3 alone (standard library only), so `make setup`
can call it before the virtualenv exists.
"""

import importlib.util
import shutil
import subprocess
import sys
import time
from pathlib import Path

# What each layer of `make test` needs from Debian, beyond python3 and make. The lint layer needs nothing but
# the virtualenv (proven in a pristine container by `make pristine`).
LAYERS = {
    # `python3 -m venv` needs ensurepip, which Debian ships apart; pip verifies TLS with the CA bundle.
    "setup": ["python3-venv", "ca-certificates"],
    # The backup role checks schedules with systemd-analyze, on targets and in its unit tests on localhost;
    # a bare container has no systemd (issue 17: the pristine lint-unit job failed on that).
    "unit": ["systemd"],
    # The backup runner on a real restic repository; data_sync copying a tree with ACLs and xattrs for real;
    # a replacement moving a DNS name by signed dynamic update on a real BIND (named).
    "integration": ["restic", "rsync", "acl", "attr", "bind9"],
    "molecule": ["docker.io", "debootstrap"],  # container engine; images built without a registry
    "pristine": ["docker.io", "debootstrap"],  # a bare Debian container for the lint and unit layers
    "lab": [
        "qemu-system-x86",  # the hardware lab VMs
        "qemu-utils",
        "debootstrap",  # the lab image
        "e2fsprogs",
        "cpio",
        "openipmi",  # ipmi_sim: a real BMC for the lab
        "ipmitool",
        "restic",  # the lab tests read the backup repositories from the host too
        "iptables",
        "iproute2",
        "openssh-client",
        "apt-utils",  # apt-ftparchive: the lab's local apt repository (lab/rackwright_lab/aptrepo.py)
        "chromium",  # renders the reports and prints the spec sheet's PDF (tests/lab/test_reports_lab.py)
        "fonts-dejavu-core",  # a font for it to render with in a bare container
    ],
}
PACKAGES = sorted({pkg for pkgs in LAYERS.values() for pkg in pkgs})
DOCKER_LOG = Path("/var/log/rackwright-dockerd.log")


def fail(message: str) -> None:
    print(f"system: {message}", file=sys.stderr)
    sys.exit(1)


def _is_debian() -> bool:
    try:
        fields = dict(
            line.split("=", 1) for line in Path("/etc/os-release").read_text().splitlines() if "=" in line
        )
    except OSError:
        return False
    return fields.get("ID", "").strip('"') == "debian"


def missing_packages(packages: list[str]) -> list[str]:
    missing = []
    for pkg in packages:
        if pkg == "python3-venv" and importlib.util.find_spec("ensurepip"):
            continue  # this python has venv with ensurepip already (a python not from Debian, say)
        out = subprocess.run(
            ["dpkg-query", "-W", "-f=${Status}", pkg], capture_output=True, text=True, check=False
        )
        if "install ok installed" not in out.stdout:
            missing.append(pkg)
    return missing


def ensure_packages(layers: list[str]) -> None:
    unknown = [layer for layer in layers if layer != "all" and layer not in LAYERS]
    if unknown or not layers:
        fail(f"unknown layer(s) {unknown or layers}: expected one or more of {', '.join(LAYERS)} or all")
    wanted = list(PACKAGES) if "all" in layers else sorted({p for layer in layers for p in LAYERS[layer]})
    if not shutil.which("apt-get"):
        fail(f"apt-get not found: rackwright's tests run on Debian; install {' '.join(wanted)} by hand")
    if set(wanted) & {"debootstrap"} and not _is_debian():
        wanted.append(
            "debian-archive-keyring"
        )  # debootstrap checks Debian's signatures with it (Ubuntu lacks it)
    missing = missing_packages(wanted)
    if not missing:
        print(f"system packages ok for {' '.join(layers)}: {len(wanted)} present")
        return
    apt = ["apt-get", "-q", "-y", "-o", "Dpkg::Use-Pty=0"]
    print(f"installing system packages: {' '.join(missing)}", flush=True)
    env = {"DEBIAN_FRONTEND": "noninteractive", "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}
    for cmd in (["apt-get", "-q", "update"], [*apt, "install", "--no-install-recommends", *missing]):
        run = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
        if run.returncode != 0:
            lines = f"{run.stdout}\n{run.stderr}".strip().splitlines()
            # dpkg names its reason on the lines after "dpkg: error"; apt's last line only says dpkg failed
            why = [ln.strip() for i, ln in enumerate(lines) if i and lines[i - 1].startswith("dpkg: error")]
            why = [*why[:2], *(lines[-1:] or ["no output"])]
            fail(f"`{' '.join(cmd[:3])}` failed ({'; '.join(why)}); run it by hand as root and retry")


def docker_ready() -> bool:
    return subprocess.run(["docker", "info"], capture_output=True, check=False).returncode == 0


def ensure_docker() -> None:
    if docker_ready():
        print("docker ok: daemon answering")
        return
    dockerd = shutil.which("dockerd")
    if not dockerd:
        fail("dockerd not found; run `make system` (installs docker.io)")
    print(f"starting dockerd (log: {DOCKER_LOG})", flush=True)
    with DOCKER_LOG.open("ab") as log:
        subprocess.Popen([dockerd], stdout=log, stderr=log, start_new_session=True)
    for _ in range(60):
        if docker_ready():
            print("docker ok: daemon started")
            return
        time.sleep(1)
    fail(f"dockerd did not answer within 60 s; see the end of {DOCKER_LOG}")


if __name__ == "__main__":
    if sys.argv[1:2] == ["packages"]:
        ensure_packages(sys.argv[2:])
    elif sys.argv[1:] == ["docker"]:
        ensure_docker()
    else:
        fail(f"usage: ensure_system.py packages LAYER... ({', '.join(LAYERS)}, all) | docker")
