"""Measure the hardware lab: image build (cold with --cold, and cached), boot to SSH-ready, an ad hoc
Ansible round trip. Prints timings only (no asserts).

usage: .venv/bin/python bench/bench_lab.py [--cold] [--keep]
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": str(ROOT / "lab")}
LAB = [sys.executable, "-m", "rackwright_lab"]


def timed(label: str, cmd: list[str], env: dict | None = None) -> float:
    """Run CMD, print its wall time; exit with its output if it fails."""
    t0 = time.monotonic()
    proc = subprocess.run(cmd, cwd=ROOT, env=env or ENV, capture_output=True, text=True)
    elapsed = time.monotonic() - t0
    if proc.returncode != 0:
        sys.exit(f"{label}: failed (rc={proc.returncode})\n{proc.stdout}{proc.stderr}")
    print(f"{label:<44} {elapsed:7.1f} s", flush=True)
    return elapsed


def main() -> int:
    """Run the measurements."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--cold", action="store_true", help="also build the image from scratch in a temporary cache"
    )
    ap.add_argument("--keep", action="store_true", help="leave the lab up afterwards")
    args = ap.parse_args()
    if subprocess.run([*LAB, "status"], cwd=ROOT, env=ENV, capture_output=True, text=True).stdout.strip() != (
        "lab is down"
    ):
        sys.exit("the lab is up: run `python -m rackwright_lab down` first so the boot can be measured")
    print(f"rackwright lab bench on {os.cpu_count()} CPUs")
    if args.cold:
        with tempfile.TemporaryDirectory(prefix="rackwright-bench-") as cache:
            timed("image build, cold (empty cache)", [*LAB, "build"], {**ENV, "XDG_CACHE_HOME": cache})
    timed("image build, cached", [*LAB, "build"])
    timed("lab up (3 VMs, cached image, to SSH-ready)", [*LAB, "up"])
    try:
        ansible = [str(ROOT / ".venv/bin/ansible"), "-i", "inventories/lab", "all", "-m", "command"]
        ansible += ["-a", "cat /proc/mdstat"]
        timed("ad hoc ansible, all VMs, first (new SSH)", ansible)
        timed("ad hoc ansible, all VMs, again (ControlPersist)", ansible)
        timed("lab status", [*LAB, "status"])
    finally:
        if not args.keep:
            timed("lab down", [*LAB, "down"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
