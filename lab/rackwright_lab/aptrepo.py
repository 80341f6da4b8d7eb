"""A small local apt repository for the lab: lab VMs have no route to a package mirror, so the updates
that maintenance installs and evaluate counts come from here.

Built on the controller with dpkg-deb and apt-ftparchive, copied to the VM over SSH (tar), and made the VM's
only apt source (a `file:` source, trusted: it comes from the controller). Two packages, each in version 1.0
(`--stage old`) and, added on top, 1.1 (`--stage new`):

- rackwright-lab-service: a daemon (a copy of coreutils' sleep, marked with its version, run by
  rackwright-lab-service.service). Upgrading it replaces the running program, so needrestart names the
  service.
- rackwright-lab-firmware: its 1.1 postinst asks for a reboot as Debian's update-notifier does
  (/run/reboot-required and /run/reboot-required.pkgs).
"""

import shutil
import subprocess
import tempfile
from pathlib import Path

from rackwright_lab.faults import running_vm
from rackwright_lab.lab import ssh_cmd
from rackwright_lab.util import LabError, need_tools

REPO_ON_VM = "/srv/rackwright-lab-apt"
SOURCE_ON_VM = "/etc/apt/sources.list.d/rackwright-lab.list"
VERSIONS = {"old": ["1.0"], "new": ["1.0", "1.1"]}
UNIT = """[Unit]
Description=rackwright lab service (a daemon the lab's apt repository updates)

[Service]
ExecStart=/usr/lib/rackwright-lab-service/rackwright-lab-service infinity

[Install]
WantedBy=multi-user.target
"""
REBOOT_POSTINST = """#!/bin/sh
set -e
if [ "$1" = configure ]; then
    echo '*** System restart required ***' > /run/reboot-required
    echo rackwright-lab-firmware >> /run/reboot-required.pkgs
fi
"""


def _control(name: str, version: str, description: str) -> str:
    return (
        f"Package: {name}\nVersion: {version}\nArchitecture: all\n"
        "Maintainer: rackwright lab <lab@localhost>\nSection: misc\nPriority: optional\n"
        f"Description: {description}\n"
    )


def _package(work: Path, out: Path, name: str, version: str) -> None:
    root = work / f"{name}_{version}"
    (root / "DEBIAN").mkdir(parents=True)
    if name == "rackwright-lab-service":
        program = root / "usr/lib/rackwright-lab-service/rackwright-lab-service"
        program.parent.mkdir(parents=True)
        shutil.copyfile("/bin/sleep", program)
        with program.open("ab") as handle:  # ELF ignores trailing bytes: each version is another file
            handle.write(f"\nrackwright-lab-service {version}\n".encode())
        program.chmod(0o755)
        unit = root / "lib/systemd/system/rackwright-lab-service.service"
        unit.parent.mkdir(parents=True)
        unit.write_text(UNIT)
        description = "lab daemon whose upgrade leaves the running one on a deleted program"
    else:
        marker = root / "usr/share/rackwright-lab-firmware/VERSION"
        marker.parent.mkdir(parents=True)
        marker.write_text(version + "\n")
        description = "lab firmware whose upgrade asks for a reboot"
        if version != "1.0":
            postinst = root / "DEBIAN/postinst"
            postinst.write_text(REBOOT_POSTINST)
            postinst.chmod(0o755)
    (root / "DEBIAN/control").write_text(_control(name, version, description))
    subprocess.run(
        ["dpkg-deb", "--root-owner-group", "--build", str(root), str(out / f"{name}_{version}_all.deb")],
        check=True, capture_output=True,
    )  # fmt: skip


def build(dest: Path, stage: str) -> list[str]:
    """Build the repository for STAGE into the empty directory DEST; returns the .deb file names."""
    need_tools("dpkg-deb", "apt-ftparchive")
    with tempfile.TemporaryDirectory() as work:
        for name in ("rackwright-lab-service", "rackwright-lab-firmware"):
            for version in VERSIONS[stage]:
                _package(Path(work), dest, name, version)
    packages = subprocess.run(
        ["apt-ftparchive", "packages", "."], cwd=dest, check=True, capture_output=True, text=True
    ).stdout
    (dest / "Packages").write_text(packages)
    release = subprocess.run(
        ["apt-ftparchive", "-o", "APT::FTPArchive::Release::Origin=rackwright-lab", "release", "."],
        cwd=dest, check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip
    (dest / "Release").write_text(release)
    return sorted(p.name for p in dest.glob("*.deb"))


def publish(vm_name: str, stage: str) -> str:
    """Build STAGE's repository and make it VM_NAME's only apt source (apt-get update run), or with STAGE
    off put the image's sources back; returns a line."""
    if stage not in (*VERSIONS, "off"):
        raise LabError(f"apt-repo: stage must be one of {', '.join(VERSIONS)}, off; got {stage!r}")
    vm = running_vm(vm_name)
    if stage == "off":
        script = (
            # and the lists apt made of it (a file: source's are symlinks into the repository, left dangling)
            f"rm -rf {REPO_ON_VM} {SOURCE_ON_VM} /var/lib/apt/lists/{REPO_ON_VM.replace('/', '_')}_*; "
            "for f in /etc/apt/sources.list /etc/apt/sources.list.d/debian.sources; do "
            'if [ -e "$f.rackwright-lab-disabled" ]; then mv "$f.rackwright-lab-disabled" "$f"; fi; done'
        )
        proc = subprocess.run(ssh_cmd(vm["ssh_port"], script), capture_output=True, timeout=60, check=False)
        if proc.returncode != 0:
            raise LabError(f"apt-repo: {vm_name}: {proc.stderr.decode(errors='replace')[-800:]}")
        return f"{vm_name}: the lab's apt source removed, the image's sources back"
    with tempfile.TemporaryDirectory() as tmp:
        dest = Path(tmp)
        debs = build(dest, stage)
        tar = subprocess.run(
            ["tar", "-C", str(dest), "-cf", "-", "."], check=True, capture_output=True
        ).stdout
    script = (
        f"rm -rf {REPO_ON_VM} && mkdir -p {REPO_ON_VM} && tar -xf - -C {REPO_ON_VM} && "
        # The image's mirror is out of reach: this repository is the VM's only source.
        "for f in /etc/apt/sources.list /etc/apt/sources.list.d/debian.sources; do "
        'if [ -e "$f" ]; then mv "$f" "$f.rackwright-lab-disabled"; fi; done; '
        f"echo 'deb [trusted=yes] file:{REPO_ON_VM} ./' > {SOURCE_ON_VM} && "
        "apt-get update -q -o APT::Update::Error-Mode=any >/dev/null"
    )
    proc = subprocess.run(
        ssh_cmd(vm["ssh_port"], script), input=tar, capture_output=True, timeout=300, check=False
    )
    if proc.returncode != 0:
        raise LabError(
            f"apt-repo: publishing to {vm_name} failed: {proc.stderr.decode(errors='replace')[-800:]}"
        )
    return f"{vm_name}: apt source {REPO_ON_VM} ({stage}): {', '.join(debs)}"
