"""One shared hardware lab for all lab tests: brought up if needed, torn down at the end.

Only `make test-lab` runs these (it sets RACKWRIGHT_LAB_TESTS=1): they boot QEMU VMs.
"""

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "PYTHONPATH": str(ROOT / "lab"), "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg")}
ANSIBLE = str(ROOT / ".venv" / "bin" / "ansible")
# A VM's own network configuration back, as the lab booted it (rackwright-lab-init wrote
# /run/systemd/network): the network role's files, ruleset and state removed.
NETWORK_RESET = (
    "systemctl stop rackwright-network-rollback.timer rackwright-network-apply.timer 2>/dev/null; "
    "rm -f /etc/systemd/network/*-rackwright-* /etc/nftables.conf; rm -rf /var/lib/rackwright/network; "
    "ip link delete bond0 2>/dev/null; ip link delete lan0.20 2>/dev/null; nft delete table inet rackwright "
    "2>/dev/null; networkctl reload; networkctl reconfigure lan0; true"
)
# A TCP connect from a VM: open (connected), refused (RST) or filtered (no answer within 3 s).
TCP_PROBE = (
    "python3 -c 'import socket,sys\n"
    "for port in sys.argv[2:]:\n"
    "    s = socket.socket(); s.settimeout(3)\n"
    '    try: s.connect((sys.argv[1], int(port))); print(port, "open")\n'
    '    except ConnectionRefusedError: print(port, "refused")\n'
    '    except (socket.timeout, TimeoutError): print(port, "filtered")\n'
    "    finally: s.close()' "
)


# new-server's data disks back to blank, so tests pass on a lab that ran them before (or ran site.yml).
RESET_NEW_SERVER_DISKS = (
    "systemctl disable -q --now rackwright-lab-data rackwright-service-address@lab-data 2>/dev/null; "
    "umount -q /srv/data /srv/app /mnt/old 2>/dev/null; "
    "sed -i '\\# /srv/data #d; \\# /srv/app #d' /etc/fstab; "
    "vgremove -q -y -f vg_data >/dev/null 2>&1; mdadm --stop --scan >/dev/null 2>&1; "
    "for d in /dev/vdb /dev/vdc /dev/sda /dev/nvme0n1; do mdadm --zero-superblock -q $d 2>/dev/null; "
    "wipefs -q -a $d; done; rm -f /etc/mdadm/mdadm.conf; udevadm settle; lsblk -n -o NAME,FSTYPE"
)


def pytest_collection_modifyitems(config, items):
    """Skip the lab tests unless make test-lab asked for them; run the tests that break the lab last.

    Order is only about speed: the `lab_up` fixture brings a broken lab back before any test that needs it,
    so the tests pass in any order (`-p random`, `-k`, one file), but each repair costs a boot (about 100 s
    under TCG), so tests marked `breaks_lab` (they kill a VM or take the lab down) are moved to the end.
    Before them come the tests built on `site_run` (the demo and the backup tests), so the tests that inject
    faults and lay out disks run first on the lab as it boots; last among those, the ones marked
    `after_site_tests` (the server replacement, which moves old-server's service and restores it afterwards).
    """
    if os.environ.get("RACKWRIGHT_LAB_TESTS") == "1":
        items.sort(  # stable sort
            key=lambda item: (
                item.get_closest_marker("takes_lab_down")
                is not None,  # last: the lab's state is gone after it
                item.get_closest_marker("breaks_lab") is not None,
                "site_run" in item.fixturenames,
                item.get_closest_marker("after_site_tests") is not None,
            )
        )
        return
    skip = pytest.mark.skip(reason="boots QEMU VMs: run with make test-lab")
    for item in items:
        if Path(str(item.fspath)).is_relative_to(Path(__file__).parent):
            item.add_marker(skip)


def lab(*args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess:
    """Run `python -m rackwright_lab ARGS`."""
    proc = subprocess.run(
        [sys.executable, "-m", "rackwright_lab", *args],
        cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=timeout,
    )  # fmt: skip
    if check:
        assert proc.returncode == 0, f"lab {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}"
    return proc


def guest(vm: str, command: str, check: bool = True) -> str:
    """Run COMMAND on VM over SSH (quick checks of a fault's symptom)."""
    proc = lab("ssh", vm, "--", command, check=False, timeout=60)
    if check:
        assert proc.returncode == 0, (
            f"{vm}: {command!r} failed rc={proc.returncode}:\n{proc.stdout}{proc.stderr}"
        )
    return proc.stdout


def playbook(*args: str, timeout: float = 420) -> subprocess.CompletedProcess:
    """Run ansible-playbook ARGS on the lab inventory; .output holds stdout + stderr."""
    proc = subprocess.run(
        [str(ROOT / ".venv" / "bin" / "ansible-playbook"), "-i", "inventories/lab", *args],
        cwd=ROOT,
        env={**ENV, "ANSIBLE_NOCOLOR": "1", "ANSIBLE_FORCE_COLOR": "0"},
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    proc.output = with_failures(proc.stdout + proc.stderr)
    return proc


def with_failures(output: str) -> str:
    """OUTPUT with its failed tasks repeated at the end, where an assertion's tail of it is read (the task
    timings of profile_tasks would otherwise fill that tail)."""
    lines = output.splitlines()
    picked = []
    for i, line in enumerate(lines):
        if re.match(r"\s*(fatal|failed): \[|ERROR!|\[ERROR\]", line) or "FAILED!" in line:
            picked += lines[max(0, i - 1) : i + 6]
    if not picked:
        return output
    return output + "\n----- the failed tasks, repeated -----\n" + "\n".join(picked)[-2500:] + "\n"


def play_recap(proc: subprocess.CompletedProcess, host: str) -> dict:
    """HOST's PLAY RECAP counters of a playbook run ({ok, changed, unreachable, failed, ...})."""
    match = re.search(rf"^{re.escape(host)}\s+:\s+(.*)$", proc.stdout, re.MULTILINE)
    assert match, proc.output[-3000:]
    return {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", match.group(1))}


def extra(data: dict) -> list[str]:
    """-e JSON: extra vars of any type (a list, a number) as they are."""
    return ["-e", json.dumps(data)]


def wait_for(predicate, timeout: float = 20, what: str = "condition"):
    """Poll PREDICATE until it returns a truthy value."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.5)


def ansible(pattern: str, module: str, args: str | None = None) -> dict:
    """Run an ad hoc Ansible task on the lab; return {host: result} from the json callback."""
    cmd = [ANSIBLE, "-i", str(ROOT / "inventories" / "lab"), pattern, "-m", module]
    if args:
        cmd += ["-a", args]
    env = {**ENV, "ANSIBLE_LOAD_CALLBACK_PLUGINS": "1", "ANSIBLE_STDOUT_CALLBACK": "ansible.posix.json"}
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=180)
    lines = proc.stdout.splitlines(keepends=True)
    start = next(i for i, line in enumerate(lines) if line.rstrip() == "{")
    data, _ = json.JSONDecoder().raw_decode("".join(lines[start:]))
    return data["plays"][0]["tasks"][0]["hosts"]


STATE_DIR = Path(os.environ.get("RACKWRIGHT_LAB_STATE") or ROOT / ".lab")


def lab_state() -> dict:
    return json.loads((STATE_DIR / "lab.json").read_text())


def _lab_healthy() -> bool:
    """Every VM of the lab running (False when the lab is down or a VM crashed)."""
    report = json.loads(lab("status", "--json", check=False).stdout or "{}")
    return report.get("up", False) and all(v["state"] == "running" for v in report["vms"].values())


@pytest.fixture(scope="session")
def lab_session():
    """One lab for the whole session: brought up once, and down at the end if this session started it.

    A lab that was already up (a developer's, `make demo`'s) is used and left running.
    """
    before = lab("status", check=False)  # rc 1: a lab left with its VMs gone, which `lab up` starts afresh
    started_here = "lab is down" in before.stdout or before.returncode != 0
    lab("up", timeout=600)
    yield
    # Keep every VM's serial console for the CI artifact (lab down removes the lab's state).
    kept = ROOT / "reports" / "lab"
    kept.mkdir(parents=True, exist_ok=True)
    for console in STATE_DIR.glob("vms/*/console.log"):
        shutil.copyfile(console, kept / f"{console.parent.name}-console.log")
    if started_here:
        lab("down", timeout=120)


def ensure_lab() -> dict:
    """The running lab's state (lab.json), with every VM up: a lab that an earlier test broke (a killed VM,
    `lab down`) is restarted first, so no test depends on which tests ran before it."""
    if not _lab_healthy():
        lab("down", timeout=120)
        lab("up", timeout=600)
    return lab_state()


@pytest.fixture
def lab_up(lab_session):
    """ensure_lab() for one test (module-scoped fixtures call ensure_lab() themselves)."""
    return ensure_lab()


# site.yml as a new host's first run: with the backup now and restore proof (the later tests read its
# snapshot, the maintenance gates its freshness).
SITE_WITH_PROOF = ("playbooks/site.yml", "--tags", "all,backup_proof")


@pytest.fixture(scope="session")
def site_run(lab_session):
    """playbooks/site.yml (what `make demo` runs) once per session, on blank new-server disks, with what it
    left read back at once: later tests change the lab (faults, disk resets), so tests assert on this record,
    not on the lab as they find it. The backup tests build on the same run instead of converging the backup
    role a second time (10 minutes under TCG on 2 cores)."""
    run_on = ensure_lab()["lab_id"]
    guest("new-server", RESET_NEW_SERVER_DISKS)
    run = playbook(*SITE_WITH_PROOF, timeout=1800)  # 17 min measured, 2 cores, TCG
    assert run.returncode == 0, run.output[-5000:]
    state = "/var/lib/rackwright/backup"
    run.lab_id = run_on  # a lab restarted since (a test that broke it) no longer has what this run did
    run.after = {
        "layout": guest(
            "new-server", "findmnt -n -o SOURCE,FSTYPE /srv/data; cat /proc/mdstat; lvs --noheadings"
        ),
        "backup": json.loads(guest("new-server", f"cat {state}/data-status.json")),
        "restore": json.loads(guest("new-server", f"cat {state}/data-restore-test.json")),
        "fleet": json.loads((ROOT / "reports" / "health" / "fleet.json").read_text()),
    }
    return run
