"""The backup host's protect tool (roles/backup/files/rackwright_backup_protect.py) on real directory trees: a
client deleting or rewriting its own repository never reaches the protected copies, copies of unchanged files
are hard links, old copies expire but the newest stays, and a copy goes back in place of the client's tree."""

import datetime
import json
import os
import pwd
from pathlib import Path

import pytest
from conftest import ROOT, load_script, run_script

TOOL = ROOT / "roles" / "backup" / "files" / "rackwright_backup_protect.py"
# A stdlib-only script the role copies to backup hosts, not a module of the collection: loaded from its file.
rp = load_script(TOOL)

ACCOUNT = pwd.getpwuid(os.getuid()).pw_name  # restore chowns to the account: use one that exists


def repo_files():
    return {
        "config": b"restic config\n",
        "keys/k1": b"key one\n",
        "snapshots/s1": b"snapshot one\n",
        "index/i1": b"index one\n",
        "data/ab/ab01": os.urandom(4096),
        "data/cd/cd02": os.urandom(8192),
    }


@pytest.fixture
def server(tmp_path):
    root, protect = tmp_path / "srv" / "restic", tmp_path / "protected"
    repo = root / ACCOUNT / "repo"
    files = repo_files()
    for rel, content in files.items():
        (repo / rel).parent.mkdir(parents=True, exist_ok=True)
        (repo / rel).write_bytes(content)
    (repo / "locks").mkdir()
    (repo / "locks" / "l1").write_text("lock\n")
    (repo / "data" / "ab" / "ab03-restic-temp-0123").write_text("upload in progress\n")
    (root / "not-a-client").mkdir()  # no repo directory inside: not an account
    config = {
        "server_root": str(root),
        "protect_dir": str(protect),
        "protect_days": 14,
        "repository": "repo",
        "state_dir": str(tmp_path / "state"),
    }
    path = tmp_path / "backup-server.json"
    path.write_text(json.dumps(config))
    return config, repo, files, str(path)


def tool(config_path, *args):
    return run_script(TOOL, "--config", config_path, *args, timeout=60)


def test_snapshot_copies_what_restic_keeps_root_only(server):
    config, repo, files, path = server
    run = tool(path, "snapshot")
    assert run.returncode == 0, run.stderr
    status = json.loads(run.stdout)
    assert status["result"] == "ok" and [a["account"] for a in status["accounts"]] == [ACCOUNT]
    entry = status["accounts"][0]
    assert entry["changed"] and entry["files_copied"] == len(files) and entry["files_linked"] == 0
    copy = rp.copies(config, ACCOUNT)[-1]["path"]
    for rel, content in files.items():
        assert Path(copy, rel).read_bytes() == content
    assert os.listdir(os.path.join(copy, "locks")) == []  # locks and uploads in progress are left out
    assert not os.path.exists(os.path.join(copy, "data", "ab", "ab03-restic-temp-0123"))
    assert os.stat(copy).st_mode & 0o777 == 0o700 and os.stat(config["protect_dir"]).st_mode & 0o777 == 0o700
    assert json.loads(Path(config["state_dir"], "protect-status.json").read_text())["result"] == "ok"


def test_unchanged_repository_makes_no_new_copy_and_new_files_link_the_rest(server):
    config, repo, files, path = server
    tool(path, "snapshot")
    again = json.loads(tool(path, "snapshot").stdout)["accounts"][0]
    assert again["changed"] is False and len(rp.copies(config, ACCOUNT)) == 1
    (repo / "data" / "ef").mkdir()
    (repo / "data" / "ef" / "ef04").write_bytes(b"new pack\n")
    third = rp.snapshot_one(config, ACCOUNT)  # within the same second: stamp-1
    assert third["changed"] and third["files_copied"] == 1 and third["files_linked"] == len(files)
    first, last = (c["path"] for c in rp.copies(config, ACCOUNT))
    assert os.stat(os.path.join(first, "config")).st_ino == os.stat(os.path.join(last, "config")).st_ino


def test_client_deleting_and_rewriting_its_files_does_not_reach_the_copy(server):
    config, repo, files, path = server
    tool(path, "snapshot")
    copy = rp.copies(config, ACCOUNT)[-1]["path"]
    # What a compromised client can do over SFTP: overwrite a pack in place, delete the rest.
    with open(repo / "data" / "ab" / "ab01", "r+b") as handle:
        handle.write(b"ransom" * 100)
    for rel in ("snapshots/s1", "data/cd/cd02", "index/i1"):
        (repo / rel).unlink()
    for rel, content in files.items():
        assert Path(copy, rel).read_bytes() == content, rel
    later = json.loads(tool(path, "snapshot").stdout)["accounts"][0]
    assert later["changed"] and later["snapshots_removed_since_previous"] == ["s1"]


def test_symlinks_and_fifos_in_the_client_tree_are_not_followed(server, tmp_path):
    config, repo, files, path = server
    secret = tmp_path / "secret"
    secret.write_text("root only\n")
    (repo / "data" / "zz").symlink_to(tmp_path)  # a directory symlink
    (repo / "snapshots" / "s2").symlink_to(secret)
    os.mkfifo(repo / "index" / "fifo")
    run = tool(path, "snapshot")
    assert run.returncode == 0, run.stderr
    copy = rp.copies(config, ACCOUNT)[-1]["path"]
    assert not os.path.lexists(os.path.join(copy, "snapshots", "s2"))
    assert not os.path.lexists(os.path.join(copy, "index", "fifo"))
    assert not os.path.exists(os.path.join(copy, "data", "zz", "secret"))


def test_old_copies_expire_but_the_newest_is_kept(server):
    config, repo, files, path = server
    base = os.path.join(config["protect_dir"], ACCOUNT)
    os.makedirs(base)
    for stamp in ("20260101T000000Z", "20260102T000000Z", "20260301T000000Z"):
        os.mkdir(os.path.join(base, stamp))
        with open(os.path.join(base, stamp + ".json"), "w") as handle:
            json.dump({"stamp": stamp, "fingerprint": stamp}, handle)
    when = datetime.datetime(2026, 3, 10, tzinfo=datetime.UTC)
    assert rp.expire(config, ACCOUNT, when=when) == ["20260101T000000Z", "20260102T000000Z"]
    assert [c["stamp"] for c in rp.copies(config, ACCOUNT)] == ["20260301T000000Z"]
    far = datetime.datetime(2027, 1, 1, tzinfo=datetime.UTC)
    assert rp.expire(config, ACCOUNT, when=far) == []  # the newest copy never expires


def test_restore_puts_the_copy_back_and_keeps_the_replaced_tree(server):
    config, repo, files, path = server
    tool(path, "snapshot")
    for rel in files:
        (repo / rel).unlink()
    run = tool(path, "restore", ACCOUNT)
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout)
    assert result["result"] == "ok" and result["snapshots"] == ["s1"]
    for rel, content in files.items():
        assert (repo / rel).read_bytes() == content
    assert os.stat(repo).st_mode & 0o777 == 0o700
    replaced = Path(result["replaced_kept_at"])
    assert replaced.parent == repo.parent and replaced.is_dir() and not (replaced / "config").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["restore", "nobody-here"], "no client account 'nobody-here'"),
        (["restore", ACCOUNT, "--copy", "20990101T000000Z"], "no protected copy 20990101T000000Z"),
    ],
)
def test_restore_refuses_what_does_not_exist(server, args, message):
    config, repo, files, path = server
    tool(path, "snapshot")
    run = tool(path, *args)
    assert run.returncode == 1 and message in run.stderr and "Traceback" not in run.stderr


def test_missing_or_broken_configuration_is_a_clear_error(tmp_path):
    run = tool(str(tmp_path / "nope.json"), "snapshot")
    assert (
        run.returncode == 1
        and "cannot read the configuration" in run.stderr
        and "Traceback" not in run.stderr
    )
    bad = tmp_path / "bad.json"
    bad.write_text('{"server_root": "/srv/restic"}')
    run = tool(str(bad), "list")
    assert run.returncode == 1 and "lacks ['protect_dir', 'protect_days', 'repository']" in run.stderr
