"""Build container images with debootstrap + docker import: the Molecule systemd images
(molecule/images.yml, the default) or another recipe given as the argument (tests/pristine/image.yml).

Each image is labelled with the sha256 of its recipe (molecule/images.yml and
this script); an image whose label matches is reused, so the ~40 s debootstrap
runs only when the recipe changes. The Debian mirror is read from the machine's
own apt sources (or $DEBIAN_MIRROR), never hard-coded.
"""

import hashlib
import json
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "lab"))
from rackwright_lab.mirror import MirrorError, debian_mirror, debootstrap_keyring_args  # noqa: E402 - the lab package is beside scripts/

ROOT = Path(__file__).resolve().parent.parent
RECIPE = ROOT / "molecule" / "images.yml"
LABEL = "io.rackwright.recipe"


def apt_mirror() -> str:
    try:
        return debian_mirror()
    except MirrorError as err:
        sys.exit(f"images: {err}")


def recipe_hash(recipe: Path) -> str:
    digest = hashlib.sha256(recipe.read_bytes() + Path(__file__).read_bytes())
    return digest.hexdigest()[:16]


def current_label(name: str) -> str | None:
    out = subprocess.run(["docker", "image", "inspect", name], capture_output=True, text=True, check=False)
    if out.returncode != 0:
        return None
    return (json.loads(out.stdout)[0]["Config"].get("Labels") or {}).get(LABEL)


def build(image: dict, packages: list[str], mirror: str, digest: str) -> str:
    name, suite = image["name"], image["suite"]
    if current_label(name) == digest:
        return f"{name}: cached (recipe {digest})"
    start = time.monotonic()
    print(f"{name}: debootstrap {suite} (about 40 s)...", flush=True)
    with tempfile.TemporaryDirectory(prefix="rw-image-", dir="/var/tmp") as tmp:
        rootfs = Path(tmp) / "rootfs"
        cmd = [
            "debootstrap",
            "--variant=minbase",
            *debootstrap_keyring_args(),
            f"--include={','.join(packages)}",
            suite,
            str(rootfs),
            mirror,
        ]
        run = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if run.returncode != 0:
            tail = "\n".join((run.stdout + run.stderr).splitlines()[-5:])
            sys.exit(f"images: debootstrap of {suite} failed:\n{tail}")
        (rootfs / "etc/hostname").write_text("localhost\n")
        # Containers have no consoles or udev; these units only slow boot and fail.
        units = rootfs / "etc/systemd/system"
        for unit in ("getty@tty1.service", "systemd-udevd.service", "systemd-firstboot.service"):
            if not units.is_dir():  # an image without systemd (the pristine one)
                break
            (rootfs / "etc/systemd/system" / unit).unlink(missing_ok=True)
            (rootfs / "etc/systemd/system" / unit).symlink_to("/dev/null")
        tar = subprocess.Popen(["tar", "-C", str(rootfs), "-c", "."], stdout=subprocess.PIPE)
        imp = subprocess.run(
            [
                "docker",
                "import",
                "-c",
                'CMD ["/lib/systemd/systemd"]',
                "-c",
                f"LABEL {LABEL}={digest}",
                "-",
                name,
            ],
            stdin=tar.stdout,
            capture_output=True,
            text=True,
            check=False,
        )
        tar.wait()
        if imp.returncode != 0:
            sys.exit(f"images: docker import of {name} failed: {imp.stderr.strip()}")
    return f"{name}: built in {time.monotonic() - start:.0f} s (recipe {digest})"


def main(argv: list[str]) -> None:
    path = Path(argv[0]).resolve() if argv else RECIPE
    if not path.is_file() or len(argv) > 1:
        sys.exit(f"usage: build_images.py [RECIPE.yml] (default {RECIPE.relative_to(ROOT)}); got {argv}")
    recipe = yaml.safe_load(path.read_text())
    mirror, digest = apt_mirror(), recipe_hash(path)
    with ThreadPoolExecutor(max_workers=len(recipe["images"])) as pool:
        jobs = [
            pool.submit(build, img, recipe["include_packages"], mirror, digest) for img in recipe["images"]
        ]
        for job in jobs:
            print(job.result(), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
