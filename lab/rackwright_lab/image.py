"""Build (or reuse) the cached Debian 12 VM image the lab boots from.

The cache key is the sha256 of the recipe: this file, everything under guest/ and RECIPE_VERSION.
"""

import hashlib
import json
import os
import shutil
import subprocess
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from rackwright_lab.mirror import MirrorError, debian_mirror, debootstrap_keyring_args
from rackwright_lab.util import LabError, cache_dir, locked, log, need_tools, run, step

RECIPE_VERSION = "1"
SUITE = "bookworm"
ROOT_SIZE = "6G"
GUEST = Path(__file__).parent / "guest"
# Services in every image, started only on the VM whose spec asks for them (spec.SERVICES).
LAB_SERVICES = ["dnsmasq.service", "chrony.service", "rackwright-lab-data.service"]
# Units that only slow a lab VM's boot down (timers, monitors, waits for the network).
MASKED_UNITS = [
    "apt-daily.timer",
    "apt-daily-upgrade.timer",
    "e2scrub_all.timer",
    "e2scrub_reap.service",
    "fstrim.timer",
    "man-db.timer",
    "mdcheck_start.timer",
    "mdcheck_continue.timer",
    "mdmonitor-oneshot.timer",
    "mdmonitor.service",
    "lvm2-monitor.service",
    "lvm2-lvmpolld.socket",
    "dm-event.socket",
    "smartmontools.service",
    "systemd-networkd-wait-online.service",
    "systemd-timesyncd.service",
    "getty@tty1.service",
    "systemd-pstore.service",
    "modprobe@drm.service",
    "modprobe@loop.service",
    "modprobe@configfs.service",
    "modprobe@fuse.service",
    "modprobe@dm_mod.service",
    "nvmf-autoconnect.service",
    "nvmefc-boot-connections.service",
    "getty-static.service",
    "serial-getty@ttyS0.service",
    "dev-hugepages.mount",
    "dev-mqueue.mount",
    "sys-kernel-debug.mount",
    "sys-kernel-tracing.mount",
    "sys-kernel-config.mount",
    "sys-fs-fuse-connections.mount",
    "proc-sys-fs-binfmt_misc.automount",
    "systemd-binfmt.service",
    "systemd-network-generator.service",
    "systemd-update-utmp.service",
    "systemd-update-utmp-runlevel.service",
    "systemd-sysusers.service",
    "systemd-journal-flush.service",
    "systemd-random-seed.service",
    "systemd-tmpfiles-clean.timer",
    "systemd-journal-catalog-update.service",
    "systemd-update-done.service",
    "systemd-hwdb-update.service",
    "ldconfig.service",
]
# The root filesystem is plain ext4: keep md/LVM assembly (and raid6 benchmarks) out of the initramfs.
INITRAMFS_DIVERTS = [
    "/usr/share/initramfs-tools/hooks/mdadm",
    "/usr/share/initramfs-tools/scripts/local-block/mdadm",
    "/usr/share/initramfs-tools/scripts/local-bottom/mdadm",
    "/usr/share/initramfs-tools/hooks/lvm2",
    "/usr/share/initramfs-tools/hooks/dmsetup",
]


@dataclass
class Image:
    """A built image: kernel, initrd and the root filesystem overlays are based on."""

    path: Path
    kernel: Path
    initrd: Path
    rootfs: Path
    root_uuid: str
    recipe: str


def recipe_hash() -> str:
    """sha256 over the build code, the guest files and the recipe version."""
    h = hashlib.sha256(f"rackwright-lab-image {RECIPE_VERSION} {SUITE}\n".encode())
    for f in [Path(__file__), *sorted(GUEST.iterdir())]:
        h.update(f"{f.name}\n".encode())
        h.update(f.read_bytes())
    return h.hexdigest()


def packages() -> list[str]:
    """The package list of the image (guest/packages.txt)."""
    lines = (GUEST / "packages.txt").read_text().splitlines()
    return [ln.strip() for ln in lines if ln.strip() and not ln.startswith("#")]


def apt_mirror() -> str:
    """The Debian mirror: $DEBIAN_MIRROR or this machine's own Debian apt sources (rackwright_lab.mirror)."""
    try:
        return debian_mirror()
    except MirrorError as err:
        raise LabError(str(err)) from None


def load(path: Path) -> Image | None:
    """The image at PATH if it is complete, else None."""
    try:
        meta = json.loads((path / "image.json").read_text())
    except (OSError, ValueError):
        return None
    img = Image(
        path=path,
        kernel=path / meta["kernel"],
        initrd=path / meta["initrd"],
        rootfs=path / meta["rootfs"],
        root_uuid=meta["root_uuid"],
        recipe=meta["recipe"],
    )
    return img if all(p.exists() for p in (img.kernel, img.initrd, img.rootfs)) else None


def ensure_image(force: bool = False, cache: Path | None = None) -> Image:
    """Return the cached image for the current recipe, building it first if needed."""
    cache = cache or cache_dir()
    recipe = recipe_hash()
    final = cache / recipe
    if not force and (img := load(final)):
        log(f"image {recipe[:12]} cached at {final}")
        return img
    with locked(cache / ".lock", "image build"):
        if not force and (img := load(final)):
            return img
        t0 = time.monotonic()
        for stale in cache.glob(".build-*"):  # left by an interrupted or failed build
            _clean(stale)
        work = cache / f".build-{recipe}"
        work.mkdir(parents=True)
        _build(work, recipe)
        _clean(final)
        work.rename(final)
        log(f"image {recipe[:12]} built in {time.monotonic() - t0:.1f}s at {final}")
        return load(final)


def _mounts_under(path: Path) -> list[str]:
    prefix = str(path.resolve()) + "/"
    with open("/proc/mounts") as fh:
        points = [line.split()[1].replace("\\040", " ") for line in fh]
    return sorted((p for p in points if p.startswith(prefix)), reverse=True)


def _umount_all(path: Path) -> None:
    for point in _mounts_under(path):
        subprocess.run(["umount", "-l", point], check=False)
    if _mounts_under(path):
        raise LabError(f"cannot unmount {path}; unmount its mounts by hand before retrying")


def _clean(path: Path) -> None:
    if path.exists():
        _umount_all(path)
        shutil.rmtree(path)


def _build(work: Path, recipe: str) -> None:
    if os.geteuid() != 0:
        raise LabError("building the lab image needs root (debootstrap, chroot); run it as root")
    need_tools("debootstrap", "qemu-img", "mkfs.ext4", "chroot")
    rootfs = work / "rootfs"
    build_log = work / "build.log"
    log(f"building image {recipe[:12]} (log: {build_log})")
    mirror = apt_mirror()
    pkgs = packages()
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive", "LC_ALL": "C.UTF-8"}
    with step(f"debootstrap {SUITE} from {mirror}"):
        argv = ["debootstrap", "--variant=minbase", *debootstrap_keyring_args(), SUITE, str(rootfs), mirror]
        run(argv, log_file=build_log, env=env)
    _put(rootfs / "usr/sbin/policy-rc.d", "#!/bin/sh\nexit 101\n", 0o755)
    _put(rootfs / "etc/initramfs-tools/conf.d/rackwright-lab.conf", (GUEST / "initramfs.conf").read_text())
    _put(rootfs / "etc/initramfs-tools/modules", (GUEST / "initramfs-modules").read_text())
    try:
        run(["mount", "-t", "proc", "proc", str(rootfs / "proc")])
        run(["mount", "-t", "sysfs", "sysfs", str(rootfs / "sys")])
        run(["mount", "--bind", "/dev", str(rootfs / "dev")])
        chroot = ["chroot", str(rootfs)]
        with step(f"apt-get install {len(pkgs)} packages"):
            run([*chroot, "apt-get", "update", "-q"], log_file=build_log, env=env)
            run(
                [*chroot, "apt-get", "install", "-y", "-q", "--no-install-recommends"]
                + ["-o", "Dpkg::Options::=--force-confold", *pkgs],
                log_file=build_log,
                env=env,
            )
        with step("configure the guest"):
            root_uuid = str(uuid.uuid4())
            _configure(rootfs, root_uuid)
            run(
                [*chroot, "systemctl", "enable", "systemd-networkd", "rackwright-lab-init"],
                log_file=build_log,
            )
            run([*chroot, "systemctl", "mask", *MASKED_UNITS], log_file=build_log)
            # The lab services start only where the spec lists them (systemd.wants= on that VM's cmdline).
            run([*chroot, "systemctl", "disable", *LAB_SERVICES], log_file=build_log)
        with step("update-initramfs"):
            for path in INITRAMFS_DIVERTS:
                divert = [
                    "dpkg-divert",
                    "--local",
                    "--rename",
                    "--divert",
                    f"{path}.rackwright-lab",
                    "--add",
                    path,
                ]
                run([*chroot, *divert], log_file=build_log)
            run([*chroot, "update-initramfs", "-u", "-k", "all"], log_file=build_log)
            run([*chroot, "apt-get", "clean"], log_file=build_log, env=env)
    finally:
        _umount_all(rootfs)
    (rootfs / "usr/sbin/policy-rc.d").unlink()
    kernel = max((rootfs / "boot").glob("vmlinuz-*"))
    initrd = max((rootfs / "boot").glob("initrd.img-*"))
    shutil.copy2(kernel, work / "vmlinuz")
    shutil.copy2(initrd, work / "initrd.img")
    with step(f"mkfs.ext4 {ROOT_SIZE} + qcow2"):
        raw = work / "root.raw"
        run(
            ["mkfs.ext4", "-q", "-F", "-L", "rackwright-root", "-U", root_uuid, "-d", str(rootfs), str(raw)]
            + [ROOT_SIZE],
            log_file=build_log,
        )
        run(["qemu-img", "convert", "-O", "qcow2", str(raw), str(work / "rootfs.qcow2")], log_file=build_log)
        raw.unlink()
        shutil.rmtree(rootfs)
    meta = {
        "recipe": recipe,
        "recipe_version": RECIPE_VERSION,
        "suite": SUITE,
        "packages": pkgs,
        "kernel": "vmlinuz",
        "kernel_version": kernel.name.removeprefix("vmlinuz-"),
        "initrd": "initrd.img",
        "rootfs": "rootfs.qcow2",
        "root_uuid": root_uuid,
        "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    (work / "image.json").write_text(json.dumps(meta, indent=2) + "\n")


def _put(path: Path, text: str, mode: int = 0o644) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(mode)


def _configure(rootfs: Path, root_uuid: str) -> None:
    """Write the lab's guest files into ROOTFS."""
    _put(rootfs / "etc/fstab", f"UUID={root_uuid} / ext4 rw,noatime,errors=remount-ro 0 0\n")
    _put(rootfs / "etc/hostname", "rackwright-lab\n")
    _put(rootfs / "usr/local/sbin/rackwright-lab-init", (GUEST / "rackwright-lab-init").read_text(), 0o755)
    _put(
        rootfs / "etc/systemd/system/rackwright-lab-init.service",
        (GUEST / "rackwright-lab-init.service").read_text(),
    )
    _put(
        rootfs / "etc/ssh/sshd_config.d/rackwright-lab.conf", (GUEST / "sshd-rackwright-lab.conf").read_text()
    )
    _put(
        rootfs / "etc/systemd/journald.conf.d/rackwright-lab.conf",
        (GUEST / "journald-rackwright-lab.conf").read_text(),
    )
    _put(
        rootfs / "etc/modules-load.d/rackwright-lab-ipmi.conf", (GUEST / "modules-load-ipmi.conf").read_text()
    )
    _put(rootfs / "etc/modprobe.d/rackwright-lab.conf", (GUEST / "modprobe-rackwright-lab.conf").read_text())
    _put(rootfs / "etc/dnsmasq.d/rackwright-lab.conf", (GUEST / "dnsmasq-rackwright-lab.conf").read_text())
    _put(rootfs / "etc/chrony/conf.d/rackwright-lab.conf", (GUEST / "chrony-rackwright-lab.conf").read_text())
    _put(
        rootfs / "etc/systemd/system/rackwright-lab-data.service",
        (GUEST / "rackwright-lab-data.service").read_text(),
    )
    _sample_data(rootfs / "usr/share/rackwright-lab/sample-data")


def _sample_data(dest: Path) -> None:
    """Deterministic sample data (copied to /srv/data on VMs with sample_data: true)."""
    files = {
        "www/index.html": "<html><body><h1>rackwright sample site</h1></body></html>\n",
        "app/config.ini": "[app]\nname = inventory\ndb = /srv/data/db/customers.csv\n",
        "db/customers.csv": "id,name,rack\n"
        + "".join(f"{i},customer-{i:04d},lab1-u{i % 42 + 1}\n" for i in range(1, 2001)),
    }
    for name, text in files.items():
        _put(dest / name, text)
    for i in range(4):
        blob = bytearray()
        seed = f"rackwright-sample-{i}".encode()
        while len(blob) < 1 << 20:
            seed = hashlib.sha256(seed).digest()
            blob += seed * 32
        (dest / "blobs").mkdir(parents=True, exist_ok=True)
        (dest / f"blobs/blob-{i}.bin").write_bytes(bytes(blob[: 1 << 20]))
    sums = [
        f"{hashlib.sha256(p.read_bytes()).hexdigest()}  {p.relative_to(dest)}\n"
        for p in sorted(dest.rglob("*"))
        if p.is_file()
    ]
    _put(dest / "SHA256SUMS", "".join(sums))
