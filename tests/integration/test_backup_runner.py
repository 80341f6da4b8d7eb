"""The backup role's job runner (roles/backup/files/rackwright_backup.py) on a local restic repository."""

import json
import os
import shutil
from pathlib import Path

import pytest
from conftest import ROOT, load_script, run_script

RUNNER = ROOT / "roles" / "backup" / "files" / "rackwright_backup.py"
# A stdlib-only script the role copies to hosts (/usr/local/sbin/rackwright-backup), not a module of the
# collection, so it is loaded from its file as the host runs it.
rb = load_script(RUNNER)

# The integration layer runs after `make system-integration` installed restic: a missing restic is a broken
# setup, so it fails here rather than skipping.
needs_restic = pytest.mark.usefixtures("restic_installed")


@pytest.fixture(scope="session")
def restic_installed():
    assert shutil.which("restic"), "restic is not installed: run `make system-integration`"


@pytest.fixture
def setup(tmp_path):
    data = tmp_path / "srv" / "data"
    (data / "db").mkdir(parents=True)
    for i in range(30):
        (data / f"file-{i:02d}.txt").write_text(f"content {i}\n" * (i + 1))
    (data / "db" / "dump.sql").write_text("CREATE TABLE t (id int);\n")
    (data / "cache").mkdir()
    (data / "cache" / "skip.tmp").write_text("excluded\n")
    password = tmp_path / "password"
    password.write_text("correct horse battery staple\n")
    password.chmod(0o600)
    config = {
        "host": "test-host",
        "repository": str(tmp_path / "repo"),
        "password_file": str(password),
        "state_dir": str(tmp_path / "state"),
        "scratch_dir": str(tmp_path / "scratch"),
        "cache_dir": str(tmp_path / "cache"),
        "check_read_data_subset": "10%",
        "sftp_command": None,
        "jobs": {
            "data": {
                "paths": [str(data)],
                "one_file_system": False,
                "excludes": [str(data / "cache")],
                "pre_hooks": [f"echo dumped > {data}/db/hook.txt"],
                "post_hooks": [],
                "keep": {"daily": 7, "weekly": 4, "monthly": 6},
                "restore_test_sample": 10,
            }
        },
    }
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    return tmp_path, data, str(path)


def runner(config_path, *args):
    return run_script(RUNNER, "--config", config_path, *args, timeout=120)


@needs_restic
def test_backup_restore_test_and_restore(setup):
    tmp, data, cfg = setup
    first = runner(cfg, "init")
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout)["created"] is True
    assert json.loads(runner(cfg, "init").stdout)["created"] is False

    run = runner(cfg, "run", "data")
    assert run.returncode == 0, run.stderr
    status = json.loads((tmp / "state" / "data-status.json").read_text())
    assert status["result"] == "ok" and len(status["snapshot_id"]) >= 8 and "retention" not in status
    assert (data / "db" / "hook.txt").read_text() == "dumped\n"  # the pre hook ran before the backup

    test = runner(cfg, "restore-test", "data")
    assert test.returncode == 0, test.stderr + test.stdout
    report = json.loads((tmp / "state" / "data-restore-test.json").read_text())
    assert report["result"] == "passed", report
    assert report["snapshot_id"].startswith(status["snapshot_id"])
    assert report["files_sampled"] == 10 and report["files_checked"] == 10 and report["mismatches"] == []
    assert report["files_total"] == 32  # 30 files + dump + hook output; cache/ excluded
    assert not list((tmp / "scratch").iterdir())  # the scratch copy is removed

    victim = data / "file-07.txt"
    expected = victim.read_text()
    victim.unlink()
    restore = runner(cfg, "restore", "data", "--target", "/", "--include", str(victim))
    assert restore.returncode == 0, restore.stderr
    assert victim.read_text() == expected

    check = runner(cfg, "check")
    assert check.returncode == 0, check.stderr
    assert json.loads((tmp / "state" / "check-status.json").read_text())["result"] == "ok"


@needs_restic
def test_changed_source_files_are_skipped_not_mismatched(setup):
    tmp, data, cfg = setup
    assert runner(cfg, "init").returncode == 0
    assert runner(cfg, "run", "data").returncode == 0
    for path in data.glob("file-*.txt"):
        path.write_text("changed after the backup\n")
    runner(cfg, "restore-test", "data")
    report = json.loads((tmp / "state" / "data-restore-test.json").read_text())
    assert report["mismatches"] == []
    assert all(s["reason"] == "changed at the source since the snapshot" for s in report["skipped"])


@needs_restic
def test_wrong_password_fails_clearly_and_status_says_so(setup):
    tmp, _data, cfg = setup
    assert runner(cfg, "init").returncode == 0
    (tmp / "password").write_text("not the password\n")
    run = runner(cfg, "run", "data")
    assert run.returncode == 1
    assert "wrong password" in run.stderr
    status = json.loads((tmp / "state" / "data-status.json").read_text())
    assert status["result"] == "failed"
    assert status["message"].startswith("backup job 'data' failed: wrong password")
    assert str(tmp / "repo") in status["message"]


@needs_restic
def test_missing_repository_and_failing_hook(setup):
    tmp, _data, cfg = setup
    run = runner(cfg, "run", "data")
    assert run.returncode == 1 and "no repository at this location" in run.stderr
    config = json.loads(Path(cfg).read_text())
    config["jobs"]["data"]["pre_hooks"] = ["exit 7"]
    Path(cfg).write_text(json.dumps(config))
    assert runner(cfg, "init").returncode == 0
    run = runner(cfg, "run", "data")
    assert run.returncode == 1 and "pre hook of job 'data' failed (exit 7)" in run.stderr
    assert runner(cfg, "restore-test", "nope").returncode == 1
    config["jobs"]["data"].update(pre_hooks=[], paths=[str(tmp / "nowhere"), str(tmp / "srv" / "data")])
    Path(cfg).write_text(json.dumps(config))
    assert runner(cfg, "run", "data").returncode == 0
    status = json.loads((tmp / "state" / "data-status.json").read_text())
    assert status["result"] == "ok" and status["missing_paths"] == [str(tmp / "nowhere")]
    config["jobs"]["data"]["paths"] = [str(tmp / "nowhere")]
    Path(cfg).write_text(json.dumps(config))
    run = runner(cfg, "run", "data")
    assert run.returncode == 1 and "none of the paths exists" in run.stderr


def test_diagnose_unreachable_sftp():
    stderr = (
        "subprocess ssh: ssh: connect to host 10.77.0.13 port 22: Connection refused\n"
        "Fatal: unable to open repository at sftp:restic@10.77.0.13:/srv/restic/x: unable to start the sftp "
        "session, error: EOF\n"
    )
    assert rb.diagnose(stderr) == "repository unreachable: connection refused"
    assert rb.fatal_line(stderr).startswith("Fatal: unable to open repository")
    assert rb.parse_time_us("1970-01-01T00:00:01.123456789Z") == 1_123_456


def test_restic_argv_never_carries_the_password():
    restic = rb.Restic(
        {
            "repository": "sftp:restic@h:/r",
            "password_file": "/etc/pw",
            "sftp_command": "ssh h -s sftp",
            "cache_dir": None,
        }
    )
    argv = restic.argv("snapshots")
    assert argv[:3] == ["restic", "--repo", "sftp:restic@h:/r"]
    assert "--option" in argv and "sftp.command=ssh h -s sftp" in argv
    assert restic.env()["RESTIC_PASSWORD_FILE"] == "/etc/pw"
    assert os.environ.get("RESTIC_PASSWORD") is None or "RESTIC_PASSWORD" not in restic.env()


def test_a_config_without_the_roles_keys_is_named_not_defaulted(setup):
    """The runner takes no defaults of its own (the role's spec and template hold them): a config that lacks
    a key fails before restic runs, naming the file, the job and every missing key."""
    tmp, _data, cfg = setup
    config = json.loads(Path(cfg).read_text())
    del config["scratch_dir"]
    del config["jobs"]["data"]["excludes"], config["jobs"]["data"]["keep"]
    Path(cfg).write_text(json.dumps(config))
    run = runner(cfg, "run", "data")
    assert run.returncode != 0 and "Traceback" not in run.stderr
    assert f"{cfg}: lacks 'scratch_dir'; job 'data' lacks 'excludes', 'keep'" in run.stderr
    assert not (tmp / "state").exists()  # nothing ran
    Path(cfg).write_text("{cut off")
    broken = runner(cfg, "check")
    assert (
        broken.returncode != 0 and f"cannot read {cfg}" in broken.stderr and "Traceback" not in broken.stderr
    )
