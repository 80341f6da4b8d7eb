"""Build the Molecule systemd container images with debootstrap + docker import.

Each image is labelled with the sha256 of its recipe (molecule/images.yml and
this script); an image whose label matches is reused, so the ~40 s debootstrap
runs only when the recipe changes. The Debian mirror is read from the machine's
own apt sources, never hard-coded.
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

ROOT = Path(__file__).resolve().parent.parent
RECIPE = ROOT / "molecule" / "images.yml"
LABEL = "io.rackwright.recipe"


def apt_mirror() -> str:
    """The first non-security Debian URI in /etc/apt (deb822 or one-line format)."""
    sources = sorted(Path("/etc/apt/sources.list.d").glob("*.sources"))
    for path in sources:
        for line in path.read_text().splitlines():
            if line.startswith("URIs:") and "security" not in line:
                return line.split()[1]
    for path in [Path("/etc/apt/sources.list"), *Path("/etc/apt/sources.list.d").glob("*.list")]:
        if path.exists():
            for line in path.read_text().splitlines():
                parts = line.split()
                if parts[:1] == ["deb"] and "security" not in line:
                    return next(p for p in parts[1:] if "://" in p)
    sys.exit("images: no Debian mirror found in /etc/apt/sources.list*; configure apt first")


def recipe_hash() -> str:
    digest = hashlib.sha256(RECIPE.read_bytes() + Path(__file__).read_bytes())
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
        for unit in ("getty@tty1.service", "systemd-udevd.service", "systemd-firstboot.service"):
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


def main() -> None:
    recipe = yaml.safe_load(RECIPE.read_text())
    mirror, digest = apt_mirror(), recipe_hash()
    with ThreadPoolExecutor(max_workers=len(recipe["images"])) as pool:
        jobs = [
            pool.submit(build, img, recipe["include_packages"], mirror, digest) for img in recipe["images"]
        ]
        for job in jobs:
            print(job.result(), flush=True)


if __name__ == "__main__":
    main()
