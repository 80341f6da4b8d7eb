"""A crashed VM is reported, and `lab down` leaves nothing behind (both break the lab: marked breaks_lab, so
conftest runs them after the other lab tests; a test after them gets a restarted lab)."""

import json
import os
import signal
from pathlib import Path

import pytest
from conftest import ROOT, lab, lab_state

pytestmark = [pytest.mark.lab, pytest.mark.breaks_lab, pytest.mark.takes_lab_down]


def test_crashed_vm_is_reported(lab_up):
    vm = lab_up["vms"]["backup-host"]
    os.kill(vm["pid"], signal.SIGKILL)
    proc = lab("status", check=False)
    assert proc.returncode == 1
    assert "crashed" in proc.stdout and vm["console"] in proc.stdout
    report = json.loads(lab("status", "--json", check=False).stdout)
    assert report["vms"]["backup-host"]["state"] == "crashed"
    assert report["vms"]["new-server"]["state"] == "running"


def _running(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(") ", 1)[1][0] != "Z"
    except OSError:
        return False


def _commands_mentioning(text: str) -> list[str]:
    """Command lines of running processes that contain TEXT (read from /proc: no procps needed)."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            command = cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:  # gone while we looked
            continue
        pid = int(cmdline.parent.name)
        if text in command and pid != os.getpid() and _running(pid):
            found.append(f"{pid} {command}")
    return found


def test_down_leaves_nothing(lab_session):
    lab_up = lab_state()  # the lab as it is: after test_crashed_vm_is_reported, one VM is already gone
    sdir = lab_up["vms"]["new-server"]["dir"].rsplit("/vms/", 1)[0]
    pids = [v["pid"] for v in lab_up["vms"].values()] + [lab_up["hub"]["pid"]]
    pids += [v["bmc"]["pid"] for v in lab_up["vms"].values() if v["bmc"]]
    lab("down")
    left = _commands_mentioning(sdir)
    assert not left, "processes of this lab still running:\n" + "\n".join(left)
    assert not [pid for pid in pids if _running(pid)], "lab processes left running"
    assert not (ROOT / "inventories/lab/hosts.yml").exists()
    assert not (Path(sdir) / "lab.json").exists()
    assert "lab is down" in lab("status").stdout
