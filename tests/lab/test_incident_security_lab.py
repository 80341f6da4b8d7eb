"""playbooks/incident_security.yml on the lab's old-server, with an intrusion planted after its baseline was
recorded: a uid-0 account, an SSH key the inventory does not know, a changed binary in /usr/bin, a cron entry
and a listener. Each is named in the findings with its evidence file, the sealed bundle verifies on the
controller, collection leaves the host as it found it, and containment (SSH from the admin networks only,
the accounts locked, the evidence untouched) happens only with the typed confirmation."""

import json
import re
import subprocess

import pytest
from conftest import NETWORK_RESET, ROOT, TCP_PROBE, ensure_lab, guest, playbook

pytestmark = pytest.mark.lab
HOST = "old-server"
RECORD = ROOT / "reports" / "security" / f"{HOST}.json"
BASELINE = ROOT / "reports" / "baseline" / f"{HOST}.json"
# A real ed25519 public key nobody in the inventory holds (its private half was thrown away).
INTRUDER = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDc0bPqO9wV1nJ1oR2z8yX3kS6tH7uE8wM9vN0aB1cD2 mallory@evil"
PLANT = (
    "useradd -o -u 0 -g 0 -M -d /root -s /bin/bash toor && "
    f"echo '{INTRUDER}' >> /root/.ssh/authorized_keys && "
    "cp -p /usr/bin/tac /run/tac.orig && printf 'backdoor' >> /usr/bin/tac && "
    "echo '@reboot root /usr/local/bin/.sync' > /etc/cron.d/sync && "  # runs nothing before a reboot
    "systemd-run -q --unit=rackwright-test-listener python3 -c 'import socket, time; s = socket.socket(); "
    's.setsockopt(1, 2, 1); s.bind(("0.0.0.0", 31337)); s.listen(); time.sleep(86400)\''
)
UNPLANT = (
    "systemctl stop rackwright-test-listener 2>/dev/null; rm -f /etc/cron.d/sync; "
    "test -e /run/tac.orig && cp -p /run/tac.orig /usr/bin/tac && rm /run/tac.orig; "
    "sed -i '/mallory@evil/d' /root/.ssh/authorized_keys; userdel -f toor 2>/dev/null; true"
)
# What collection must leave as it was: every path, size, mtime, ctime, mode and owner under the system's
# directories (Ansible's own remote temporary directory, /root/.ansible, aside), and /var/tmp's entries.
STATE = (
    "find /etc /usr /root /home /var/spool /boot -xdev -path /root/.ansible -prune -o "
    "-printf '%p %s %T@ %C@ %m %U\\n' | sort | sha256sum; ls -A /var/tmp; "
    "ss -Htln | awk '{print $4}' | sort; nft list ruleset | sha256sum; passwd -S -a | sort"
)


def record():
    return json.loads(RECORD.read_text())


def run_incident(*args):
    return playbook("playbooks/incident_security.yml", *args, timeout=900)


@pytest.fixture(scope="module")
def planted(lab_session):
    """old-server's trusted baseline recorded (install time), then the intrusion planted; all of it (and the
    network as the lab booted it) undone afterwards."""
    ensure_lab()
    guest(HOST, UNPLANT + "; " + NETWORK_RESET)
    BASELINE.unlink(missing_ok=True)  # a baseline of another lab boot would not be this host's
    run = playbook("playbooks/baseline.yml", "--limit", HOST, timeout=600)
    assert run.returncode == 0, run.output[-3000:]
    guest(HOST, PLANT)
    yield
    guest(HOST, UNPLANT + "; " + NETWORK_RESET)


@pytest.fixture(scope="module")
def investigated(planted):
    """The investigation without containment, and the host's state just before and after it."""
    before = guest(HOST, STATE)
    run = run_incident("-e", f"rackwright_incident_host={HOST}")
    return run, before, guest(HOST, STATE)


def test_each_planted_item_is_found_with_its_evidence(investigated):
    run = investigated[0]
    assert run.returncode == 0, run.output[-4000:]
    rec = record()
    assert rec["status"] == "critical"
    found = {(f["kind"], f["item"]): f for f in rec["details"]["findings"]}
    assert found[("uid-0 account", "toor")]["evidence"] == "06-passwd.txt"
    [key] = [f for (kind, _item), f in found.items() if kind == "unknown key"]
    assert key["item"].startswith("root: SHA256:") and "mallory@evil" in key["detail"]
    assert key["evidence"] == "07-authorized_keys.json"
    assert found[("modified binary", "/usr/bin/tac")]["evidence"] == "12-binaries.json"
    assert found[("persistence", "/etc/cron.d/sync")]["evidence"] == "08-cron.json"
    listener = found[("listener", "tcp/31337")]
    assert listener["evidence"] == "02-sockets.json" and "python3" in listener["detail"]
    # Nothing else: the host as the lab booted it is clean against its baseline and the inventory, but for the
    # transient unit that runs the planted listener.
    others = set(found) - {("uid-0 account", "toor"), ("unknown key", key["item"]),
                           ("modified binary", "/usr/bin/tac"), ("persistence", "/etc/cron.d/sync"),
                           ("listener", "tcp/31337")}  # fmt: skip
    assert others == {("persistence", "/run/systemd/transient/rackwright-test-listener.service")}, others
    report = (RECORD.parent / f"{HOST}.md").read_text()
    assert "**critical** uid-0 account `toor`" in report and f"-e confirm_contain={HOST}" in report


def test_the_sealed_bundle_verifies_on_the_controller(investigated):
    custody_file = sorted((ROOT / "reports" / "incidents").glob(f"{HOST}-*/custody.json"))[-1]
    custody = json.loads(custody_file.read_text())
    bundle = custody_file.parent / "bundle"
    check = subprocess.run(
        ["sha256sum", "--check", "--strict", "SHA256SUMS"],
        cwd=bundle,
        capture_output=True,
        text=True,
        check=False,
    )
    assert check.returncode == 0, check.stdout + check.stderr
    assert len(check.stdout.splitlines()) == custody["files"] >= 25
    assert custody["host"] == HOST and custody["remote_user"] == "root" and custody["operator"]
    assert re.fullmatch(r"[0-9a-f]{64}", custody["archive_sha256"])
    acquisition = json.loads((bundle / "acquisition.json").read_text())
    # The most volatile first.
    assert [row["file"] for row in acquisition][:2] == ["01-processes.json", "02-sockets.json"]
    assert record()["details"]["custody"]["bundle"] == str(bundle)


def test_collection_left_the_host_as_it_was(investigated):
    before, after = investigated[1:]
    assert after == before
    assert "rackwright-evidence" not in guest(HOST, "ls -A /var/tmp")


def test_containment_is_refused_without_the_exact_host(planted):
    before = guest(HOST, STATE)
    for typed in ("all", "old-*", "app_servers"):
        run = run_incident("-e", f"confirm_contain={typed}")
        assert run.returncode != 0, run.output[-2000:]
        assert "Refusing to contain a suspected break-in" in run.output, run.output[-2000:]
    assert guest(HOST, STATE) == before


def test_containment_leaves_only_admin_access_and_the_evidence(planted):
    probe = TCP_PROBE + "10.77.0.11 22 31337"
    seen = dict(line.split() for line in guest("new-server", probe).splitlines())
    assert seen == {"22": "open", "31337": "open"}, seen
    run = run_incident("-e", f"confirm_contain={HOST}")
    assert run.returncode == 0, run.output[-4000:]
    contained = record()["details"]["containment"]
    assert contained["locked"] == ["toor"]
    assert "10.0.2.0/24" in contained["firewall"]
    # The lab LAN no longer reaches old-server at all; the admin network (the controller, through QEMU's user
    # network) still does: this very command runs over it.
    seen = dict(line.split() for line in guest("new-server", probe).splitlines())
    assert seen == {"22": "filtered", "31337": "filtered"}, seen
    assert re.search(r"^toor L ", guest(HOST, "passwd -S toor"), re.M)
    ageing = guest(HOST, "chage -l toor")
    assert re.search(r"Account expires\s+: Jan 03, 1970", ageing), ageing
    # The evidence stays where the intruder left it.
    assert "mallory@evil" in guest(HOST, "cat /root/.ssh/authorized_keys")
    assert guest(HOST, "cat /etc/cron.d/sync").startswith("@reboot root")
    assert guest(HOST, "tail -c 8 /usr/bin/tac") == "backdoor"
