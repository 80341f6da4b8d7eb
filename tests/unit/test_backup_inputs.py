"""Bad input to roles/backup and roles/storage fails in validation, naming the variable; run in check mode on
localhost (nothing is changed)."""

import json
import os
import pathlib

import pytest
from conftest import run_role

GOOD = {"backup_password": "correct horse battery", "backup_repository_type": "local"}


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ({"backup_jobz": []}, "unknown variable(s) ['backup_jobz']"),
        ({"backup_password": ""}, "backup_password is empty or shorter than 8 characters"),
        ({"backup_repository_type": "s3"}, "backup_repository_type must be one of"),
        ({"backup_jobs": [{"name": "Data!", "paths": ["/srv"]}]}, "Expected job names of lowercase letters"),
        (
            {"backup_jobs": [{"name": "data", "paths": ["srv"]}]},
            "absolute job paths in backup_jobs (got ['srv'])",
        ),
        ({"backup_jobs": [{"name": "data"}]}, "missing required arguments: paths"),
        (
            {"backup_jobs": [{"name": "data", "paths": ["/srv"], "schedule": "every tuesday"}]},
            "Expected backup_jobs[data].schedule as a systemd OnCalendar expression such as "
            "'Sun *-*-* 02:00:00' (got 'every tuesday': Failed to parse calendar specification "
            "'every tuesday': Invalid argument)",
        ),
        (
            {"backup_repository_type": "sftp", "backup_sftp_host": "10.0.0.1", "backup_sftp_user": "Root!"},
            "Expected backup_sftp_user a user name of up to 32 lowercase letters",
        ),
        (
            {"backup_repository_type": "sftp", "backup_sftp_host": "10.0.0.1", "backup_sftp_user": "b" * 33},
            "got '" + "b" * 33 + "'",
        ),
        ({"backup_sftp_path": "/srv/x"}, "unknown variable(s) ['backup_sftp_path']"),  # gone: always /repo
    ],
)
def test_backup_rejects_bad_input(extra, expected):
    run = run_role("backup", [json.dumps({**GOOD, **extra})])
    output = run.stdout + run.stderr
    assert run.returncode != 0
    assert expected in output, output
    assert "Traceback" not in output
    assert "correct horse battery" not in output  # the password never shows


def test_backup_without_systemd_says_so(monkeypatch, tmp_path):
    """A target without systemd-analyze (a bare container) is not told its schedule is wrong: the message says
    the tool did not run, and that the role needs systemd (issue 17's pristine job hit this)."""
    bin_dir = tmp_path / "bin"  # every command of this machine's PATH but systemd-analyze
    bin_dir.mkdir()
    for folder in reversed(os.environ["PATH"].split(os.pathsep)):
        for tool in pathlib.Path(folder).glob("*") if pathlib.Path(folder).is_dir() else []:
            if tool.name != "systemd-analyze":
                (bin_dir / tool.name).unlink(missing_ok=True)
                (bin_dir / tool.name).symlink_to(tool)
    monkeypatch.setenv("PATH", str(bin_dir))
    job = {"name": "data", "paths": ["/srv"], "schedule": "Sun *-*-* 02:00:00"}
    run = run_role("backup", [json.dumps({**GOOD, "backup_jobs": [job]})])
    output = run.stdout + run.stderr
    assert run.returncode != 0
    expected = "cannot check backup_jobs[data].schedule on localhost: systemd-analyze did not run"
    assert expected in output, output
    assert "the backup role needs systemd on its targets" in output
    assert "invalid input" not in output and "Traceback" not in output


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        (
            {"backup_server_group": "Backup Users"},
            "Expected backup_server_group a group name (got 'Backup Users')",
        ),
        ({"backup_server_protect_dir": "/srv/restic/protected"}, "neither inside the other"),
        ({"backup_server_root": "/"}, "Expected backup_server_root absolute, not '/'"),
        ({"backup_server_protect_days": 0}, "backup_server_protect_days 1 or more (got 0)"),
        ({"backup_server_protect_days": "two weeks"}, "backup_server_protect_days"),
        ({"backup_server_protect_schedule": "now and then"}, "now and then"),
        ({"backup_server_protect_dayz": 3}, "unknown variable(s) ['backup_server_protect_dayz']"),
    ],
)
def test_backup_server_rejects_bad_input(extra, expected):
    run = run_role("backup", [json.dumps(extra)], tasks_from="server")
    output = run.stdout + run.stderr
    assert run.returncode != 0 and expected in output, output
    assert "Traceback" not in output


def test_backup_password_is_required():
    run = run_role("backup", [json.dumps({"backup_repository_type": "local"})])
    assert run.returncode != 0 and "missing required arguments: backup_password" in run.stdout + run.stderr


def test_archive_now_names_unknown_jobs():
    run = run_role("backup", [json.dumps({"backup_archive_jobs": ["nope"]})], tasks_from="archive_now")
    assert run.returncode != 0 and "no such job(s) ['nope']" in run.stdout


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ({"storage_raid": []}, "unknown variable(s) ['storage_raid']"),
        (
            {"storage_raids": [{"name": "data", "level": 6, "devices": ["serial:A", "serial:B"]}]},
            "storage_raids[data]: RAID level 6 needs at least 4 member devices, got 2",
        ),
        (
            {"storage_filesystems": [{"device": "serial:NO-SUCH-DISK-1", "fs_type": "ext4"}]},
            "disk serial:NO-SUCH-DISK-1",
        ),
        (
            {
                "storage_filesystems": [
                    {"device": "/dev/disk/by-id/none", "fs_type": "ext4", "mount_point": "data"}
                ]
            },
            "mount_point 'data' is not an absolute path",
        ),
        ({"storage_filesystems": [{"device": "/dev/null", "fs_type": "zfs"}]}, "fs_type must be one of"),
    ],
)
def test_storage_rejects_bad_input(extra, expected):
    run = run_role("storage", [json.dumps(extra)])
    output = run.stdout + run.stderr
    assert run.returncode != 0
    assert expected in output, output
    assert "Traceback" not in output


def test_replace_disk_requires_array_and_new_device():
    run = run_role("storage", [], tasks_from="replace_disk")
    output = run.stdout + run.stderr
    assert (
        run.returncode != 0
        and "missing required arguments: storage_replace_array, storage_replace_new_device" in output
    )
