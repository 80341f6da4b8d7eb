"""The fleet benchmark (issue 15): N SSH hosts as containers on this machine, and, side by side in one run,
`ansible -m ping`, rackwright's health sweep (playbooks/hardware_health.yml with the project's settings), a
naive sweep (facts + 4 command tasks) on Ansible's stock settings, their ratios and the module runs per host
the sweep made (its progress record counts them). Optionally (--lab) the lab's site.yml first run and re-run.
Prints figures only (asserts nothing).

The hosts: containers of bench/fleet-image.yml (built like the Molecule images, from the machine's own apt
mirror), each running only sshd on its own 127.0.0.1 port (--network host); nothing else is contacted.

usage: .venv/bin/python -m bench.bench_fleet [--sizes 10,25,50] [--rounds 3] [--lab] [--keep]
"""

import argparse
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = ROOT / ".venv" / "bin"
IMAGE = "rackwright/fleet-debian12"
PREFIX = "rw-fleet-"
# Every host is loopback; the containers get new host keys each start, so no known_hosts is kept for them.
BASE_ENV = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
BASE_ENV.update(ANSIBLE_HOST_KEY_CHECKING="False", ANSIBLE_NOCOLOR="1", ANSIBLE_COLLECTIONS_PATH=str(ROOT))

NAIVE = """
- name: A naive health sweep (facts and four commands, Ansible's stock settings)
  hosts: all
  gather_facts: true
  tasks:
    - name: Disks
      ansible.builtin.command: smartctl --scan-open --json
      changed_when: false
      failed_when: false
    - name: RAID
      ansible.builtin.command: cat /proc/mdstat
      changed_when: false
      failed_when: false
    - name: BMC
      ansible.builtin.command: ipmitool sdr
      changed_when: false
      failed_when: false
    - name: PCI devices (GPUs)
      ansible.builtin.command: lspci -mm
      changed_when: false
      failed_when: false
"""


def sh(cmd, **kwargs):
    kwargs.setdefault("capture_output", True)
    kwargs.setdefault("text", True)
    return subprocess.run(cmd, check=False, **kwargs)


def must(proc, what):
    if proc.returncode != 0:
        sys.exit(f"{what} failed (rc {proc.returncode}):\n{proc.stdout[-3000:]}{proc.stderr[-3000:]}")
    return proc


def start_fleet(count, base_port, key):
    """COUNT containers, each sshd on 127.0.0.1:base_port+i accepting KEY; their ports."""
    stop_fleet()
    public = Path(f"{key}.pub").read_text().strip()
    ports = [base_port + i for i in range(count)]
    for i, port in enumerate(ports):
        script = (
            "mkdir -p /run/sshd /root/.ssh && chmod 700 /root/.ssh && printf '%s\\n' \"$KEY\" >"
            " /root/.ssh/authorized_keys && ssh-keygen -A >/dev/null && exec /usr/sbin/sshd -D -e"
            f" -p {port} -o ListenAddress=127.0.0.1 -o PermitRootLogin=prohibit-password -o MaxStartups=100"
        )
        must(
            sh(
                [
                    "docker",
                    "run",
                    "-d",
                    "--rm",
                    "--network",
                    "host",
                    "--name",
                    f"{PREFIX}{i:02d}",
                    "-e",
                    f"KEY={public}",
                    "--entrypoint",
                    "sh",
                    IMAGE,
                    "-c",
                    script,
                ]
            ),  # fmt: skip
            f"starting container {i}",
        )
    deadline = time.monotonic() + 120
    for port in ports:
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=2) as conn:
                    if conn.recv(4).startswith(b"SSH-"):
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                sys.exit(f"sshd on 127.0.0.1:{port} did not answer within 120 s")
            time.sleep(0.3)
    return ports


def stop_fleet():
    names = sh(["docker", "ps", "-aq", "--filter", f"name={PREFIX}"]).stdout.split()
    if names:
        sh(["docker", "rm", "-f", *names])


def inventory(directory, ports, key):
    """A rackwright inventory of the fleet (one site, one rack: the inventory gate's shape)."""
    hosts = {
        f"fleet-{i:02d}": {"ansible_host": "127.0.0.1", "ansible_port": port} for i, port in enumerate(ports)
    }
    data = {
        "all": {
            "vars": {
                "ansible_user": "root",
                "ansible_ssh_private_key_file": str(key),
                "ansible_python_interpreter": "/usr/bin/python3",
                "hw_vendor": "generic",
                "rackwright_acceptance": {"cpus": 1},
            },
            "children": {"site_bench": {"children": {"rack_bench_a": {"hosts": hosts}}}},
        }
    }
    path = directory / f"fleet-{len(ports)}.json"
    path.write_text(json.dumps(data))
    return path


def timed(cmd, env, cwd=ROOT):
    start = time.monotonic()
    proc = sh(cmd, env=env, cwd=cwd)
    return time.monotonic() - start, proc


def measure(size, ports, key, work, rounds):
    """Medians of ROUNDS rounds of ping, the project's sweep and the naive sweep over the first SIZE hosts."""
    inv = inventory(work, ports[:size], key)
    project = dict(BASE_ENV, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), RACKWRIGHT_RUNS_DIR=str(work / "runs"))
    stock = dict(BASE_ENV, ANSIBLE_CONFIG=str(ROOT / "tests" / "empty-ansible.cfg"), ANSIBLE_FORKS="5")
    naive = work / "naive.yml"
    naive.write_text(NAIVE)
    times = {"ping": [], "sweep": [], "naive": []}
    runs = None
    for _round in range(rounds):
        elapsed, proc = timed(
            [str(BIN / "ansible"), "-i", str(inv), "all", "-m", "ansible.builtin.ping"], project
        )
        times["ping"].append(must(proc, "ping") and elapsed)
        sweep = [str(BIN / "ansible-playbook"), "-i", str(inv), "playbooks/hardware_health.yml"]
        sweep += ["-e", json.dumps({"rackwright_reports_dir": str(work / "reports")})]
        elapsed, proc = timed(sweep, project)
        times["sweep"].append(must(proc, "the health sweep") and elapsed)
        record = json.loads((work / "runs" / "latest" / "progress.json").read_text())
        runs = sorted(set(record.get("module_runs", {}).values()))
        elapsed, proc = timed([str(BIN / "ansible-playbook"), "-i", str(inv), str(naive)], stock)
        times["naive"].append(must(proc, "the naive sweep") and elapsed)
    return {name: statistics.median(values) for name, values in times.items()}, runs


def lab_rerun():
    """site.yml on a freshly booted lab, then again: (first s, re-run s, changed per host of the re-run)."""
    lab = [sys.executable, "-m", "rackwright_lab"]
    env = dict(os.environ, PYTHONPATH=str(ROOT / "lab"))
    must(sh([*lab, "down"], cwd=ROOT, env=env), "lab down")
    must(sh([*lab, "up"], cwd=ROOT, env=env), "lab up")
    site = [str(BIN / "ansible-playbook"), "-i", "inventories/lab", "playbooks/site.yml"]
    first, proc = timed(site, dict(os.environ, ANSIBLE_NOCOLOR="1"))
    must(proc, "site.yml, first run")
    again, proc = timed(site, dict(os.environ, ANSIBLE_NOCOLOR="1"))
    must(proc, "site.yml, re-run")
    changed = dict(re.findall(r"^(\S+)\s+: ok=\d+\s+changed=(\d+)", proc.stdout, re.M))
    return first, again, changed


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="10,25,50", help="fleet sizes, comma-separated (default 10,25,50)")
    ap.add_argument("--rounds", type=int, default=3, help="rounds per size; medians are printed (default 3)")
    ap.add_argument("--base-port", type=int, default=42200, help="first loopback port (default 42200)")
    ap.add_argument("--lab", action="store_true", help="also time site.yml's first run and re-run on the lab")
    ap.add_argument("--keep", action="store_true", help="leave the containers running")
    args = ap.parse_args()
    sizes = sorted({int(s) for s in args.sizes.split(",") if s.strip()})
    if not sizes or sizes[0] < 1 or sizes[-1] > 200:
        sys.exit(f"--sizes: expected numbers from 1 to 200, got {args.sizes!r}")
    if sh(["docker", "info"]).returncode != 0:
        sys.exit("docker is not running: `make docker` starts it")
    print(
        f"rackwright fleet bench on {os.cpu_count()} CPUs, {args.rounds} rounds per size (medians)",
        flush=True,
    )
    must(
        sh([sys.executable, "scripts/build_images.py", "bench/fleet-image.yml"], cwd=ROOT), "the fleet image"
    )
    with tempfile.TemporaryDirectory(prefix="rackwright-fleet-") as tmp:
        work = Path(tmp)
        key = work / "id_ed25519"
        must(sh(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)]), "ssh-keygen")
        ports = start_fleet(sizes[-1], args.base_port, key)
        try:
            print(f"{'hosts':>5} {'ping s':>8} {'sweep s':>8} {'naive s':>8} {'sweep/ping':>11} "
                  f"{'naive/sweep':>12} {'module runs/host':>17}", flush=True)  # fmt: skip
            for size in sizes:
                medians, runs = measure(size, ports, key, work, args.rounds)
                ping, sweep, naive = medians["ping"], medians["sweep"], medians["naive"]
                print(
                    f"{size:>5} {ping:>8.1f} {sweep:>8.1f} {naive:>8.1f} {sweep / ping:>10.2f}x "
                    f"{naive / sweep:>11.2f}x {','.join(map(str, runs or [])):>17}",
                    flush=True,
                )
        finally:
            if not args.keep:
                stop_fleet()
    if args.lab:
        first, again, changed = lab_rerun()
        share = 100 * again / first
        print(f"lab site.yml: first run {first:.0f} s, re-run {again:.0f} s ({share:.0f} % of the first), "
              f"re-run changed: {changed}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
