"""playbooks/incident_disk.yml on the lab's new-server: a RAID1 member pulled by the lab's fault injection is
detected and located by its serial, the host is archived first (no redundancy left, the backup not fresh
enough), nothing is replaced without the typed confirmation, and with it the run waits for the disk to be put
back, replaces and rebuilds it to a clean array and publishes the incident report."""

import json
import subprocess
import time

import pytest
from conftest import ENV, ROOT, ensure_lab, guest, lab, playbook, wait_for

# It needs site.yml's run (new-server's RAID1 data array on raid-a + raid-b, its backup jobs): run after the
# other tests built on that run; it leaves the array whole again.
pytestmark = [pytest.mark.lab, pytest.mark.after_site_tests]
HOST = "new-server"
RECORD = ROOT / "reports" / "incident" / f"{HOST}.json"
STALE = ["-e", "incident_backup_max_age_hours=0"]  # any backup is too old: the no-redundancy archive runs


def record():
    return json.loads(RECORD.read_text())


def steps(rec):
    return {entry["step"]: entry["what"] for entry in rec["details"]["timeline"]}


@pytest.fixture(scope="module")
def pulled(site_run):
    """new-server's data array as site.yml left it (RAID1 over raid-a and raid-b), then raid-b pulled."""
    ensure_lab()
    mdstat = guest(HOST, "cat /proc/mdstat")
    assert "[2/2] [UU]" in mdstat and "vdb[" in mdstat and "vdc[" in mdstat, mdstat
    lab("fault", "disk-remove", HOST, "raid-b")
    guest(HOST, "echo written-after-the-failure > /srv/data/after.txt && sync")
    wait_for(lambda: "[2/1]" in guest(HOST, "cat /proc/mdstat"), timeout=60, what="md to notice the pull")
    yield
    if "vdc" not in guest(HOST, "lsblk -dn -o NAME"):
        lab("fault", "disk-insert", HOST, "raid-b")
    guest(HOST, "rm -f /srv/data/after.txt")  # new-server's data volume empty again, as site.yml left it


def test_without_the_confirmation_it_locates_archives_and_changes_no_disk(pulled):
    run = playbook(
        "playbooks/incident_disk.yml", "-e", f"rackwright_incident_host={HOST}", *STALE, timeout=900
    )
    assert run.returncode == 0, run.output[-4000:]
    rec = record()
    assert rec["status"] == "warning", rec
    assert rec["reasons"] == [f"awaiting the replacement: re-run with -e confirm_replace={HOST}"]
    timeline = steps(rec)
    located = timeline["located"]
    assert "serial RAID-B-0002" in located and "is not on the bus any more" in located, timeline
    assert "can lose 0 more member(s)" in timeline["detected"], timeline
    assert "no redundancy left and the backup is not fresh: archiving now" in timeline["backup"], timeline
    assert timeline["archived"].startswith("snapshot "), timeline
    assert timeline["led"] == "no slot LED: the disk is gone from the bus, find it by its serial"
    assert f"To replace it: re-run with -e confirm_replace={HOST}" in run.stdout
    assert "[2/1]" in guest(HOST, "cat /proc/mdstat")  # nothing was replaced
    md = (ROOT / "reports" / "incident" / f"{HOST}.md").read_text()
    assert md.startswith(f"# Incident on {HOST}: failed disk in data") and "RAID-B-0002" in md


def test_a_wrong_confirmation_is_refused_before_anything_changes(pulled):
    run = playbook("playbooks/incident_disk.yml", "-e", "confirm_replace=all", timeout=300)
    assert run.returncode != 0 and "Traceback" not in run.output
    assert "Refusing to replace a RAID member: confirm_replace='all' names a group" in run.output, run.output[
        -2000:
    ]
    assert "[2/1]" in guest(HOST, "cat /proc/mdstat")


def test_confirmed_it_waits_for_the_disk_replaces_and_rebuilds_it_clean(pulled):
    cmd = [str(ROOT / ".venv" / "bin" / "ansible-playbook"), "-i", "inventories/lab",
           "playbooks/incident_disk.yml", "-e", f"confirm_replace={HOST}",
           "-e", "incident_disk_new_device=serial:RAID-B-0002",
           "-e", "incident_disk_poll_seconds=3", "-e", "incident_disk_wait_minutes=5"]  # fmt: skip
    log = ROOT / "reports" / "lab" / "incident-disk-confirmed.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "w") as out:
        proc = subprocess.Popen(cmd, cwd=ROOT, env={**ENV, "ANSIBLE_NOCOLOR": "1"}, stdout=out,
                                stderr=subprocess.STDOUT)  # fmt: skip
        try:
            wait_for(lambda: "Wait for a blank disk to appear" in log.read_text() or proc.poll() is not None,
                     timeout=600, what="the run to wait for the new disk")  # fmt: skip
            assert proc.poll() is None, log.read_text()[-4000:]
            time.sleep(5)
            lab("fault", "disk-insert", HOST, "raid-b")  # the technician puts the disk in
            rc = proc.wait(timeout=900)
        finally:
            if proc.poll() is None:
                proc.kill()
    output = log.read_text()
    assert rc == 0, output[-5000:]
    assert "Insert a blank disk of at least" in output and "RAID-B-0002" in output
    mdstat = guest(HOST, "cat /proc/mdstat")
    assert "[2/2] [UU]" in mdstat and "vdc[" in mdstat, mdstat
    assert guest(HOST, "cat /srv/data/after.txt").strip() == "written-after-the-failure"
    rec = record()
    assert rec["status"] == "ok" and rec["reasons"] == [], rec
    timeline = steps(rec)
    assert "mdadm --zero-superblock" in timeline["replaced"] and "--add" in timeline["replaced"], timeline
    assert "State : clean" in timeline["rebuilt"], timeline
    assert timeline["verified"].startswith("SMART of the new disk: "), timeline
    assert list(steps(rec))[:4] == ["opened", "detected", "located", "led"]
