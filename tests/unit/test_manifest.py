"""The migration's proof of "nothing lost" (module_utils/rackwright_manifest.py, module data_manifest) on real
trees: odd names, hard links, sparse files, symlinks, FIFOs, xattrs and a POSIX ACL, written here with the
kernel's own calls (the lab test does the same with setfacl/setfattr and rsync between two VMs)."""

import json
import os
import shutil
import struct

import pytest
from conftest import ODD_NAMES as ODD
from conftest import ansible

from ansible_collections.rackwright.infra.plugins.module_utils import rackwright_manifest as manifest


def acl_xattr(*entries):
    """A system.posix_acl_access value (version 2; (tag, perm, id) entries), as setfacl writes it."""
    return struct.pack("<I", 2) + b"".join(
        struct.pack("<HHI", tag, perm, ident) for tag, perm, ident in entries
    )


# user::rw-, user:1234:r--, group::r--, mask::r--, other::---
ACL = acl_xattr(
    (0x01, 6, 0xFFFFFFFF),
    (0x02, 4, 1234),
    (0x04, 4, 0xFFFFFFFF),
    (0x10, 4, 0xFFFFFFFF),
    (0x20, 0, 0xFFFFFFFF),
)


@pytest.fixture
def tree(tmp_path):
    root = tmp_path / "data"
    (root / "sub" / "deeper").mkdir(parents=True)
    base = os.fsencode(root)
    for name in ODD:
        with open(os.path.join(base, name), "wb") as handle:
            handle.write(b"odd " + name)
    (root / "sub" / "a.txt").write_text("hard linked\n")
    os.link(root / "sub" / "a.txt", root / "sub" / "deeper" / "b.txt")
    (root / "dup1.txt").write_text("same bytes\n")
    (root / "sub" / "dup2.txt").write_text("same bytes\n")
    with open(root / "sparse.img", "wb") as handle:
        handle.truncate(32 * 1024 * 1024)
        handle.seek(16 * 1024 * 1024)
        handle.write(b"middle")
    os.symlink("sub/a.txt", root / "link-to-a")
    os.symlink("/nowhere/at/all", root / "dangling")
    os.mkfifo(root / "pipe")
    os.setxattr(root / "dup1.txt", "user.origin", b"seed")
    os.setxattr(root / "sub" / "a.txt", "system.posix_acl_access", ACL)
    os.chmod(root / "sub" / "deeper", 0o2750)
    return root


def by_path(entries):
    return {entry["path"]: entry for entry in entries}


def test_every_kind_of_entry_is_recorded_with_what_makes_it_that_entry(tree):
    entries, summary = manifest.take(str(tree))
    found = by_path(entries)
    assert [entry["path"] for entry in entries] == sorted(found, key=manifest.decode_path)
    assert found["."]["type"] == "dir"
    for name in ODD:
        escaped = manifest.encode_path(name)
        assert manifest.decode_path(escaped) == name and "\n" not in escaped
        assert found[escaped]["size"] == len(b"odd " + name)
    assert "new%0Aline" in found and "not-utf8-%FF%FE" in found and "100%25 sure" in found
    assert "caf\u00e9-\u2603" in found  # UTF-8 names stay readable
    a, b = found["sub/a.txt"], found["sub/deeper/b.txt"]
    assert a["link_group"] == b["link_group"] == "sub/a.txt" and a["sha256"] == b["sha256"]
    assert "link_group" not in found["dup1.txt"]  # same bytes is not the same file
    assert found["sparse.img"]["size"] == 32 * 1024 * 1024
    assert found["sparse.img"]["sha256"] == manifest.file_sha256(tree / "sparse.img")
    assert found["link-to-a"] == dict(found["link-to-a"], type="symlink", target="sub/a.txt")
    assert found["dangling"]["target"] == "/nowhere/at/all"
    assert found["pipe"]["type"] == "fifo" and "sha256" not in found["pipe"]
    assert set(found["dup1.txt"]["xattrs"]) == {"user.origin"}
    assert set(a["xattrs"]) == {"system.posix_acl_access"}
    assert found["sub/deeper"]["mode"] == "2750"
    assert summary["types"] == {"dir": 3, "file": 10, "symlink": 2, "fifo": 1}
    assert summary["entries"] == 16 and summary["bytes"] == sum(e.get("size", 0) for e in entries)


def test_a_tree_compared_with_itself_is_verified_and_with_a_damaged_copy_names_each_damage(tree, tmp_path):
    before, _ = manifest.take(str(tree))
    assert manifest.compare(before, before)["verified"]
    copy = tmp_path / "copy"
    shutil.copytree(tree, copy, symlinks=True, ignore=lambda _dir, names: [n for n in names if n == "pipe"])
    os.mkfifo(copy / "pipe")
    shutil.copystat(tree, copy)
    copied, _ = manifest.take(str(copy))
    result = manifest.compare(before, copied)
    # copytree keeps neither hard links nor the FIFO's and the root's times: the comparison must say so.
    assert not result["verified"]
    differing = {d["path"]: set(d["fields"]) for d in result["differ"]}
    assert "link_group" in differing["sub/a.txt"] and "link_group" in differing["sub/deeper/b.txt"]

    (copy / "sub" / "dup2.txt").unlink()  # an identical twin still exists at dup1.txt (hashdeep #64)
    os.unlink(os.path.join(os.fsencode(copy), b"new\nline"))
    (copy / "extra.txt").write_text("only here\n")
    stat_a = os.stat(copy / "dup1.txt")
    (copy / "dup1.txt").write_text("SAME BYTES\n")  # same size, same mtime: only the hash can tell
    os.utime(copy / "dup1.txt", ns=(stat_a.st_atime_ns, stat_a.st_mtime_ns))
    os.chmod(copy / "sub", 0o700)
    damaged = manifest.compare(before, manifest.take(str(copy))[0])
    assert damaged["missing"] == ["new%0Aline", "sub/dup2.txt"]
    assert damaged["extra"] == ["extra.txt"]
    fields = {d["path"]: d["fields"] for d in damaged["differ"]}
    assert set(fields["dup1.txt"]) == {"sha256"}
    assert fields["sub"]["mode"][1] == "0700"
    message = manifest.describe(damaged)
    assert message.startswith("NOT verified: 2 missing on the destination (new%0Aline, sub/dup2.txt)")
    assert "1 only on the destination (extra.txt)" in message
    ignored = manifest.compare(
        before, manifest.take(str(copy))[0], ignore=("sha256", "mode", "link_group", "mtime_ns")
    )
    assert "dup1.txt" not in {d["path"] for d in ignored["differ"]}


def test_the_file_round_trips_and_an_incomplete_or_foreign_file_is_refused(tree, tmp_path):
    entries, summary = manifest.take(str(tree))
    path = tmp_path / "m.jsonl"
    with open(path, "w", encoding="utf-8") as handle:
        manifest.write(handle, str(tree), entries, summary)
    header, read_back, end = manifest.read(str(path))
    assert header["root"] == str(tree) and read_back == entries and end == summary
    lines = path.read_text(encoding="utf-8").splitlines()
    (tmp_path / "cut.jsonl").write_text("\n".join(lines[:-1]) + "\n", encoding="utf-8")
    with pytest.raises(manifest.ManifestError, match="is incomplete: it has no end line"):
        manifest.read(str(tmp_path / "cut.jsonl"))
    (tmp_path / "other.json").write_text(json.dumps({"kind": "health"}) + "\n")
    with pytest.raises(manifest.ManifestError, match="is not a rackwright manifest"):
        manifest.read(str(tmp_path / "other.json"))
    skipped, _ = manifest.take(str(tree), skip=["sub", "/pipe"])
    assert {entry["path"] for entry in skipped} == {entry["path"] for entry in entries} - {
        "sub",
        "sub/a.txt",
        "sub/dup2.txt",
        "sub/deeper",
        "sub/deeper/b.txt",
        "pipe",
    }
    with pytest.raises(manifest.ManifestError, match="is not a directory"):
        manifest.take(str(tree / "dup1.txt"))


def test_the_hash_cache_reads_only_what_changed(tree, tmp_path):
    cache_path = str(tmp_path / "hashes.json")
    first, summary = manifest.take(str(tree), manifest.HashCache(cache_path))
    files = summary["types"]["file"]
    assert summary["hash_cache"] == {"hits": 1, "misses": files - 1}  # the hard-linked pair is one inode
    again, summary = manifest.take(str(tree), manifest.HashCache(cache_path))
    assert again == first and summary["hash_cache"] == {"hits": files, "misses": 0}
    (tree / "sub" / "dup2.txt").write_text("changed\n")
    _, summary = manifest.take(str(tree), manifest.HashCache(cache_path))
    assert summary["hash_cache"]["misses"] == 1
    (tmp_path / "hashes.json").write_text("{broken")  # a bad cache is only slower
    _, summary = manifest.take(str(tree), manifest.HashCache(cache_path))
    assert summary["hash_cache"] == {"hits": 1, "misses": files - 1}  # as on the first run


def test_the_module_takes_and_compares_through_ansible(tree, tmp_path):
    source, output = ansible("data_manifest", {"path": str(tree), "dest": str(tmp_path / "a.manifest")})
    assert source.get("changed") is False and source["entries"] == 16, output
    assert len(source["sha256"]) == 64 and (tmp_path / "a.manifest").is_file()
    (tree / "sub" / "a.txt").write_text("changed after the freeze\n")
    ansible("data_manifest", {"path": str(tree), "dest": str(tmp_path / "b.manifest")})
    compared, output = ansible(
        "data_manifest", {"compare": [str(tmp_path / "a.manifest"), str(tmp_path / "b.manifest")]}
    )
    assert compared["verified"] is False, output
    assert {d["path"] for d in compared["differ"]} == {"sub/a.txt", "sub/deeper/b.txt"}
    assert compared["message"].startswith("NOT verified: 2 differ (sub/a.txt [")
    refused, output = ansible(
        "data_manifest", {"compare": [str(tmp_path / "a.manifest"), str(tree / "dup1.txt")]}
    )
    assert refused.get("failed") and "is not a rackwright manifest" in refused["msg"], output
    missing_dir, _ = ansible("data_manifest", {"path": str(tree), "dest": str(tmp_path / "no" / "m")})
    assert missing_dir.get("failed") and "does not exist" in missing_dir["msg"]
