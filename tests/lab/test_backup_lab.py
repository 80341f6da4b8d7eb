"""roles/backup on the lab: old-server's /srv/data to backup-host over SFTP on the lab LAN, restore, restore
test, timers, and clear failures (wrong password, unreachable repository)."""

import json
import re

import pytest
from conftest import guest, lab, playbook

pytestmark = pytest.mark.lab
CLIENT = "old-server"
LIMIT = ["--limit", f"{CLIENT},backup-host,localhost"]
STATE = "/var/lib/rackwright/backup"
UNIT = "rackwright-backup-data.service"


def status(name: str) -> dict:
    return json.loads(guest(CLIENT, f"cat {STATE}/{name}"))


@pytest.fixture(scope="module")
def backups(lab_up):
    run = playbook("playbooks/backup.yml", *LIMIT)
    assert run.returncode == 0, run.output[-4000:]
    return run


def test_timers_are_enabled_with_a_next_run(backups):
    timers = guest(CLIENT, "systemctl list-timers --all --no-pager 'rackwright-*'")
    for unit in (
        "rackwright-backup-data.timer",
        "rackwright-restore-test-data.timer",
        "rackwright-backup-check.timer",
    ):
        line = next(line for line in timers.splitlines() if unit in line)
        assert re.match(r"^\w{3} \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC", line), timers  # NEXT is set
    assert guest(CLIENT, "systemctl is-enabled rackwright-backup-data.timer").strip() == "enabled"
    timer = guest(CLIENT, "systemctl cat rackwright-backup-data.timer")
    assert "Persistent=true" in timer and "RandomizedDelaySec=900" in timer
    assert re.search(r"^OnCalendar=\*-\*-\* 0[1-4]:\d\d:00$", timer, re.MULTILINE), timer
    assert "rackwright-backup-data.timer" in backups.stdout  # the play shows list-timers


def test_archive_now_backs_up_over_sftp_then_a_deleted_file_is_restored(backups):
    run = playbook("playbooks/archive_now.yml", *LIMIT)
    assert run.returncode == 0, run.output[-4000:]
    saved = status("data-status.json")
    assert saved["result"] == "ok" and saved["repository"] == "sftp:restic@10.77.0.13:/srv/restic/old-server"
    assert f"data: snapshot {saved['snapshot_id']} saved" in run.stdout
    assert "config" in guest("backup-host", "ls /srv/restic/old-server")  # the repository is on backup-host
    guest(CLIENT, "rm /srv/data/db/customers.csv")
    assert "FAILED" in guest(CLIENT, "cd /srv/data && sha256sum -c SHA256SUMS 2>&1", check=False)
    guest(CLIENT, "rackwright-backup restore data --include /srv/data/db/customers.csv")
    assert "customers.csv: OK" in guest(CLIENT, "cd /srv/data && sha256sum -c SHA256SUMS")


def test_restore_test_job_passes_and_writes_json(backups):
    run = playbook("playbooks/backup.yml", "--tags", "restore_test", *LIMIT)
    assert run.returncode == 0, run.output[-4000:]
    report = status("data-restore-test.json")
    assert report["result"] == "passed", report
    assert report["files_checked"] >= 5 and report["mismatches"] == [] and report["snapshot_id"]
    assert {"time", "files_total", "files_sampled", "message"} <= set(report)
    unit = guest(CLIENT, "systemctl show -p Result rackwright-restore-test-data.service").strip()
    assert unit == "Result=success"


def test_wrong_password_fails_clearly_and_the_status_says_so(backups):
    guest(
        CLIENT,
        "cp -p /etc/rackwright/backup/password /root/password.good && "
        "echo not-the-password > /etc/rackwright/backup/password",
    )
    try:
        assert guest(CLIENT, f"systemctl start {UNIT}", check=False) == ""
        assert guest(CLIENT, f"systemctl show -p Result {UNIT}").strip() == "Result=exit-code"
        failed = status("data-status.json")
        assert failed["result"] == "failed"
        assert failed["message"].startswith("backup job 'data' failed: wrong password")
        assert "wrong password" in guest(CLIENT, f"journalctl -u {UNIT} -n 20 --no-pager")
        run = playbook("playbooks/archive_now.yml", *LIMIT)
        assert run.returncode != 0
        assert (
            "backup job 'data' failed: wrong password: the repository key does not match backup_password"
            in (run.stdout)
        )
        assert "result exit-code" in run.stdout
    finally:
        guest(CLIENT, "mv /root/password.good /etc/rackwright/backup/password")


def test_unreachable_repository_fails_clearly(backups):
    lab("fault", "link-down", CLIENT, "lan0")
    try:
        guest(CLIENT, f"systemctl start {UNIT}", check=False)
        failed = status("data-status.json")
        assert failed["result"] == "failed"
        assert "repository unreachable" in failed["message"], failed
        assert guest(CLIENT, f"systemctl show -p Result {UNIT}").strip() == "Result=exit-code"
    finally:
        lab("fault", "link-up", CLIENT, "lan0")
    guest(CLIENT, "sleep 2; ping -c 1 -W 5 backup-host >/dev/null")
    guest(CLIENT, f"systemctl start {UNIT}")
    assert status("data-status.json")["result"] == "ok"
