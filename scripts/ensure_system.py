"""Install the Debian packages rackwright's tests need and start dockerd.

`packages`: apt-get install whatever of PACKAGES is missing (apt-get update only
when something is missing). `docker`: start dockerd in the background when
`docker info` fails (the build machines have no systemd), and wait for it.
Every failure ends in one line saying what to do.
"""

import shutil
import subprocess
import sys
import time
from pathlib import Path

PACKAGES = [
    "docker.io",  # Molecule's container engine
    "debootstrap",  # builds the container and VM images without a registry
    "qemu-system-x86",  # the hardware lab VMs
    "qemu-utils",
    "openipmi",  # ipmi_sim: a real BMC for the lab
    "ipmitool",
    "restic",  # the backup runner's unit tests use a real local repository
    "iptables",
    "iproute2",
    "openssh-client",
    "e2fsprogs",
    "cpio",
]
DOCKER_LOG = Path("/var/log/rackwright-dockerd.log")


def fail(message: str) -> None:
    print(f"setup: {message}", file=sys.stderr)
    sys.exit(1)


def missing_packages() -> list[str]:
    missing = []
    for pkg in PACKAGES:
        out = subprocess.run(
            ["dpkg-query", "-W", "-f=${Status}", pkg], capture_output=True, text=True, check=False
        )
        if "install ok installed" not in out.stdout:
            missing.append(pkg)
    return missing


def ensure_packages() -> None:
    missing = missing_packages()
    if not missing:
        print(f"system packages ok: {len(PACKAGES)} present")
        return
    apt = ["apt-get", "-q", "-y", "-o", "Dpkg::Use-Pty=0"]
    print(f"installing system packages: {' '.join(missing)}", flush=True)
    env = {"DEBIAN_FRONTEND": "noninteractive", "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}
    for cmd in (["apt-get", "-q", "update"], [*apt, "install", "--no-install-recommends", *missing]):
        run = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
        if run.returncode != 0:
            tail = (run.stderr or run.stdout).strip().splitlines()[-1:] or ["no output"]
            fail(f"`{' '.join(cmd[:3])}` failed ({tail[0]}); run it by hand as root and retry")


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
    actions = {"packages": ensure_packages, "docker": ensure_docker}
    if len(sys.argv) != 2 or sys.argv[1] not in actions:
        fail(f"usage: ensure_system.py {{{'|'.join(actions)}}}")
    actions[sys.argv[1]]()
