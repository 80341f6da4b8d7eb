"""data_sync and data_manifest together on real trees with the real rsync, setfacl and setfattr (installed by
`make system-integration`): what a server replacement copies keeps everything the manifest checks, the proof
pass finds what only a checksum can see, and a failed copy is said in words. Host to host over SSH is proven
on the QEMU lab (tests/lab)."""

import os
import shutil
import subprocess

import pytest
from conftest import ODD_NAMES as ODD
from conftest import ansible

from ansible_collections.rackwright.infra.plugins.module_utils import rackwright_manifest as manifest


@pytest.fixture(scope="session", autouse=True)
def tools_installed():
    missing = [tool for tool in ("rsync", "setfacl", "setfattr") if not shutil.which(tool)]
    assert not missing, f"{missing} not installed: run `make system-integration`"


@pytest.fixture
def source(tmp_path):
    """A service's data as it looks on a real server: odd names, hard links, a sparse file, an ACL and xattrs
    set by the real tools, other owners, a setgid directory, a symlink and a FIFO."""
    root = tmp_path / "old" / "srv" / "data"
    (root / "db").mkdir(parents=True)
    base = os.fsencode(root)
    for name in ODD:
        with open(os.path.join(base, name), "wb") as handle:
            handle.write(b"odd " + name)
    (root / "db" / "customers.csv").write_text("id,name\n" + "".join(f"{i},c{i}\n" for i in range(500)))
    os.link(root / "db" / "customers.csv", root / "customers-hardlink.csv")
    with open(root / "db" / "disk.img", "wb") as handle:
        handle.truncate(64 * 1024 * 1024)
        handle.seek(1024 * 1024)
        handle.write(b"data in the middle of holes")
    subprocess.run(["setfacl", "-m", "u:1234:r,g:2345:rw", str(root / "db" / "customers.csv")], check=True)
    subprocess.run(["setfacl", "-d", "-m", "u:1234:rx", str(root / "db")], check=True)
    subprocess.run(
        ["setfattr", "-n", "user.origin", "-v", "crm-export", str(root / "db" / "customers.csv")], check=True
    )
    os.chown(root / "db", 1234, 2345)
    os.chmod(root / "db", 0o2770)
    os.symlink("db/customers.csv", root / "latest.csv")
    os.mkfifo(root / "db" / "control.fifo")
    return root


def sync(source, dest, phase, **extra):
    return ansible("data_sync", dict(src=str(source), dest=str(dest), phase=phase, **extra))


def test_a_copy_keeps_everything_the_manifest_checks_and_the_proof_pass_sees_what_only_a_checksum_can(
    source, tmp_path
):
    dest = tmp_path / "new" / "srv" / "data"
    dest.mkdir(parents=True)
    bulk, output = sync(source, dest, "bulk")
    assert bulk.get("changed") is True and bulk["rc"] == 0, output
    # every regular file's data once (the hard link is made, not sent); every entry itemized
    assert bulk["stats"]["files_transferred"] == len(ODD) + 2 and bulk["item_count"] >= len(ODD) + 6
    again, output = sync(source, dest, "final")
    assert again.get("changed") is False and again["item_count"] == 0, output  # nothing left: idempotent

    before, _ = manifest.take(str(source))
    after, _ = manifest.take(str(dest))
    assert manifest.compare(before, after)["verified"], manifest.describe(manifest.compare(before, after))
    copied = os.stat(dest / "db" / "disk.img")
    assert copied.st_blocks * 512 < 1024 * 1024  # still sparse: 64 MiB of size, a few blocks on disk
    acl = subprocess.run(
        ["getfacl", "-cp", str(dest / "db" / "customers.csv")], capture_output=True, text=True, check=False
    )
    assert "user:1234:r--" in acl.stdout and "group:2345:rw-" in acl.stdout
    assert os.stat(dest / "customers-hardlink.csv").st_ino == os.stat(dest / "db" / "customers.csv").st_ino

    proof, output = sync(source, dest, "proof")
    assert proof.get("failed") is not True and proof["item_count"] == 0, output
    assert proof["message"] == "proof pass: a checksum comparison of every file found no difference"

    target = dest / "db" / "customers.csv"  # silent corruption: same size, same mtime, other bytes
    st = os.stat(target)
    damaged = target.read_bytes().replace(b"c42\n", b"c24\n")
    target.write_bytes(damaged)
    os.utime(target, ns=(st.st_atime_ns, st.st_mtime_ns))
    proof, output = sync(source, dest, "proof")
    assert proof.get("failed") is True and proof["item_count"] == 1, output
    assert proof["msg"].startswith("data_sync: proof pass found 1 differences after the final pass: >fc")
    assert "customers" in proof["msg"]  # rsync names the file by one of its two hard-linked names
    assert target.read_bytes() == damaged  # a proof pass changes nothing


def test_check_mode_copies_nothing_and_a_failed_copy_is_said_in_words(source, tmp_path):
    dest = tmp_path / "new-empty"
    dest.mkdir()
    would, output = ansible("data_sync", dict(src=str(source), dest=str(dest), phase="bulk"), "--check")
    assert would.get("changed") is True and would["item_count"] > len(ODD) and os.listdir(dest) == [], output
    blocked = tmp_path / "a-file"
    blocked.write_text("not a directory")
    failed, output = sync(source, blocked / "sub", "bulk")
    assert failed.get("failed") is True and "bulk pass failed: rsync exit" in failed["msg"], output
    missing, _ = sync(tmp_path / "nowhere", dest, "bulk")
    assert missing.get("failed") and "is not a directory on this host" in missing["msg"]


def test_a_background_pass_reports_its_progress_repeats_while_the_delta_is_large_and_ends_with_its_result(
    tmp_path,
):
    source = tmp_path / "old" / "srv" / "data"
    (source / "db").mkdir(parents=True)
    for i in range(20):
        (source / "db" / f"row-{i}.csv").write_text(f"{i}\n")
    (source / "big.bin").write_bytes(os.urandom(4_000_000))  # 4 s at 1000 KiB/s: followed while it runs
    dest = tmp_path / "new" / "srv" / "data"
    dest.mkdir(parents=True)
    work = tmp_path / "copy"
    args = dict(bwlimit=1000, work_dir=str(work), passes=3)
    started, output = sync(source, dest, "bulk", **{**args, "run": "start"})
    assert started.get("finished") is False and started["passes"] == 1, output
    readings = []
    for _ in range(60):
        followed, output = sync(source, dest, "bulk", **{**args, "run": "follow"})
        assert followed.get("failed") is not True, output
        if followed["finished"]:
            break
        readings.append((followed["rackwright_progress"], followed["message"]))
    else:
        raise AssertionError(f"never finished: {readings}")
    # While it ran: rsync's whole-pass percentage under a name that stays while the pass runs (the page's
    # estimate follows it), and a message saying how far.
    seen = [(r, said) for r, said in readings if r["percent"] > 0 and r["what"] == "bulk pass 1 of at most 3"]
    assert seen and all(0 < r["percent"] <= 100 for r, _said in seen), readings
    assert all(said.startswith("bulk pass 1 of at most 3: ") and " bytes, " in said for _r, said in seen)
    # Pass 1 changed more than until_items (0): pass 2 ran, changed nothing, and is the result.
    assert followed["passes"] == 2 and followed["item_count"] == 0 and followed["changed"] is True, output
    before, _ = manifest.take(str(source))
    after, _ = manifest.take(str(dest))
    assert manifest.compare(before, after)["verified"]
    assert sorted(os.listdir(work)) == ["pass-1", "pass-2", "state.json"]
    # Started again, the earlier passes' files are gone: a pass never reads another's output.
    again, output = sync(source, dest, "bulk", **{**args, "run": "start", "passes": 1})
    assert again["passes"] == 1 and sorted(os.listdir(work)) == ["pass-1", "state.json"], output
    nothing, output = sync(source, dest, "bulk", **{**args, "run": "follow", "work_dir": str(tmp_path)})
    assert nothing.get("failed") and "no pass was started in" in nothing["msg"], output
