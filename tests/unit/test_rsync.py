"""rsync's output and exit codes as a server replacement judges them (module_utils/rackwright_rsync.py), on
output captured from rsync 3.5.0 (tests/fixtures/rsync/); tests/integration/test_data_sync.py runs it."""

import pytest
from conftest import fixture_text

from ansible_collections.rackwright.infra.plugins.module_utils import rackwright_rsync as rsync

FIRST = fixture_text("rsync/rsync-3.5.0-first-pass-itemize-stats.txt")
SECOND = fixture_text("rsync/rsync-3.5.0-second-pass-delete-itemize-stats.txt")


def test_itemized_changes_and_stats_are_read_from_real_output():
    first = rsync.parse(FIRST)
    assert [item["code"] for item in first["items"]] == [
        "cL+++++++++",
        ">f+++++++++",
        ">f+++++++++",
        "cd+++++++++",
        ">f+++++++++",
        ">f+++++++++",
        "hf+++++++++",
    ]
    assert first["items"][1]["path"] == "new\\#012line" and first["items"][2]["path"] == "with space"
    assert first["items"][0]["path"] == "link -> a.txt"
    assert first["stats"] == {
        "files": 8,
        "created": 7,
        "deleted": 0,
        "files_transferred": 4,
        "total_bytes": 5009,
        "bytes_transferred": 5002,
        "literal_bytes": 5002,
        "bytes_sent": 5437,
        "bytes_received": 127,
    }
    second = rsync.parse(SECOND)
    assert second["items"] == [
        {"code": "*deleting", "path": "link"},
        {"code": ">f.s.......", "path": "sub/big.txt"},
    ]
    assert second["stats"]["deleted"] == 1


def test_vanished_files_pass_in_a_bulk_pass_and_fail_after_the_freeze():
    stderr = 'file has vanished: "/srv/data/tmp/sess-1"\nrsync warning: some files vanished (code 24)\n'
    parsed = rsync.parse(SECOND, stderr)
    assert parsed["vanished"] == ["/srv/data/tmp/sess-1"]
    ok, message = rsync.judge("bulk", 24, parsed, stderr)
    assert ok and "1 files vanished while the service ran" in message
    ok, message = rsync.judge("final", 24, parsed, stderr)
    assert not ok and "after the freeze: something still writes" in message and "rsync exit 24" in message


def test_a_proof_pass_that_finds_anything_fails_naming_it():
    ok, message = rsync.judge("proof", 0, rsync.parse(SECOND))
    assert not ok and message.startswith(
        "proof pass found 2 differences after the final pass: *deleting link"
    )
    assert rsync.judge("proof", 0, rsync.parse(""))[0]


@pytest.mark.parametrize(
    ("rc", "words"),
    [
        (255, "the SSH connection failed"),
        (11, "error in file I/O"),
        (23, "partial transfer"),
        (99, "unknown"),
    ],
)
def test_exit_codes_are_said_in_words(rc, words):
    ok, message = rsync.judge("bulk", rc, rsync.parse(""), "rsync: [sender] write error: Broken pipe\n")
    assert not ok and f"rsync exit {rc} ({words}" in message and message.endswith("Broken pipe")


def test_each_phase_has_its_command():
    bulk = rsync.command("bulk", "/srv/data", "10.0.0.2:/srv/data", rsh="ssh -i k", excludes=["tmp/"])
    base = len(rsync.BASE_OPTIONS)
    assert bulk[1 : base + 1] == list(rsync.BASE_OPTIONS)
    assert bulk[-2:] == ["/srv/data/", "10.0.0.2:/srv/data/"]
    # Times to the nanosecond, decided by the receiving side: host to host as a long option rrsync accepts.
    assert bulk[base + 1 : base + 4] == ["--remote-option=--modify-window=-1", "--rsh", "ssh -i k"]
    assert "--dry-run" not in bulk and "--exclude=tmp/" in bulk
    proof = rsync.command("proof", "/srv/data/", "/mnt/new")
    assert "--checksum" in proof and "--dry-run" in proof and proof[-1] == "/mnt/new/"
    assert "--modify-window=-1" in proof and not any(a.startswith("--remote-option") for a in proof)
    with pytest.raises(ValueError, match="phase must be one of bulk, final, proof"):
        rsync.command("copy", "/a", "/b")


def test_the_whole_pass_progress_is_read_between_the_itemized_lines():
    out = fixture_text("rsync/rsync-3.5.0-progress2-itemize-stats.txt")
    assert rsync.progress(out) == {"bytes": 3000003, "percent": 100, "rate": "989.65kB/s", "eta": "0:00:02"}
    # A tail read while the pass ran: the latest reading then.
    early = out[: out.index("2129920") + 40]
    assert rsync.progress(early)["percent"] == 70 and rsync.progress(early)["bytes"] == 2129920
    assert rsync.progress("cd+++++++++ a/\n") is None  # still listing: no reading yet
    # Without the readings, the pass parses as one without --info=progress2.
    parsed = rsync.parse(rsync.without_progress(out))
    assert [i["path"] for i in parsed["items"]] == ["a/", "a/big", "a/x y"]
    assert parsed["stats"]["bytes_transferred"] == 3000003 and parsed["stats"]["files"] == 4
    assert "progress2" not in " ".join(rsync.command("bulk", "/a", "/b"))
    with_progress = rsync.command("bulk", "/a", "/b", progress=True)
    assert "--info=progress2" in with_progress and "--no-inc-recursive" in with_progress
