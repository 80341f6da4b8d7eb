"""playbooks/acceptance.yml on the lab's new-server: it passes as the lab boots it, and after each injected
fault the run fails naming exactly the items the fault breaks (lan0's link, its MTU, a closed port, a pulled
disk, DNS answering wrong). It never changes the host."""

import json

import pytest
from conftest import ROOT, ensure_lab, guest, lab, playbook

pytestmark = pytest.mark.lab
HOST = "new-server"
RUN = ["--limit", f"{HOST},old-server,localhost", "-e", f"rackwright_acceptance_hosts={HOST}"]
LAB_HOSTS = "/run/rackwright-lab/hosts"  # what backup-host's dnsmasq answers from
# A firewall of the test's own, on lan0 only (the management NIC keeps SSH): port 22 answers "refused".
CLOSE_22 = " && ".join((
    "nft add table inet faults",
    "nft add chain inet faults input '{ type filter hook input priority -10; }'",
    "nft add rule inet faults input iifname lan0 tcp dport 22 reject with tcp reset",
))  # fmt: skip


def accept():
    run = playbook("playbooks/acceptance.yml", *RUN, timeout=600)
    record = json.loads((ROOT / "reports" / "acceptance" / f"{HOST}.json").read_text())
    rows = {row["item"]: row for row in record["details"]["rows"]}
    return run, record, rows


def failed_items(rows):
    return {item for item, row in rows.items() if row["status"] != "pass"}


@pytest.fixture(scope="module")
def lab_as_booted(lab_session):
    ensure_lab()
    guest(
        HOST, "rm -f /etc/systemd/network/*-rackwright-*; nft delete table inet rackwright 2>/dev/null; true"
    )


def test_a_provisioned_host_is_accepted_and_left_as_it_was(lab_as_booted):
    before = guest(HOST, "ip -br address; nft list ruleset; md5sum /etc/hosts /etc/resolv.conf")
    run, record, rows = accept()
    assert run.returncode == 0, run.output[-4000:]
    assert record["status"] == "ok" and failed_items(rows) == set(), rows
    # Every kind of item was measured, not skipped: hardware, links, peers, DNS both ways, time, ports, BMC.
    for item in ("disks[0] 4 hdd of 1 GB or more", "nic lan0 mtu", "peer 10.77.0.11 path mtu",
                 "dns new-server.lab.test forward", "dns 10.77.0.12 reverse", "time offset to 10.77.0.13",
                 "port 22 from old-server", "port 5432 from old-server", "bmc reachable"):  # fmt: skip
        assert rows[item]["status"] == "pass", rows[item]
    assert guest(HOST, "ip -br address; nft list ruleset; md5sum /etc/hosts /etc/resolv.conf") == before
    md = (ROOT / "reports" / "acceptance" / f"{HOST}.md").read_text()
    assert md.startswith(f"# Acceptance of {HOST}: PASSED")


def test_each_injected_fault_is_named(lab_as_booted):
    """Four independent faults at once (wrong MTU, a port closed, a disk pulled, DNS answering wrong): the run
    fails, and the items that fail are exactly the ones those faults break."""
    original = guest("backup-host", f"cat {LAB_HOSTS}")
    try:
        guest(HOST, "ip link set lan0 mtu 1400")
        guest(HOST, CLOSE_22)
        lab("fault", "disk-remove", HOST, "raid-b")
        guest("backup-host", f"sed -i 's/^10.77.0.12 /10.77.0.99 /' {LAB_HOSTS} && systemctl reload dnsmasq")
        run, record, rows = accept()
        assert run.returncode != 0, run.output[-3000:]
        assert record["status"] == "critical"
        assert failed_items(rows) == {
            "nic lan0 mtu", "peer 10.77.0.11 path mtu", "peer 10.77.0.13 path mtu",
            "port 22 from old-server", "disks[0] 4 hdd of 1 GB or more",
            "dns new-server.lab.test forward", "dns 10.77.0.12 reverse",
        }, {item: rows[item] for item in failed_items(rows)}  # fmt: skip
        assert rows["nic lan0 mtu"]["measured"] == 1400
        assert rows["port 22 from old-server"]["measured"].startswith("closed")
        assert rows["disks[0] 4 hdd of 1 GB or more"]["measured"] == 3
        assert rows["dns new-server.lab.test forward"]["measured"] == "10.77.0.99"
        for item in failed_items(rows):  # the run's failure names every item
            assert item in run.stdout, (item, run.stdout[-3000:])
    finally:
        guest("backup-host", f"printf '%s' '{original}' > {LAB_HOSTS}; systemctl reload dnsmasq")
        lab("fault", "disk-insert", HOST, "raid-b")
        guest(HOST, "ip link set lan0 mtu 1500; nft delete table inet faults 2>/dev/null; true")


def test_a_link_down_is_named(lab_as_booted):
    try:
        lab("fault", "link-down", HOST, "lan0")
        run, _record, rows = accept()
        assert run.returncode != 0, run.output[-3000:]
        assert rows["nic lan0 link"]["status"] == "fail" and rows["nic lan0 link"]["measured"] == "down"
        # Everything reached over lan0 goes with it; what does not use lan0 still passes.
        for item in (
            "peer 10.77.0.11 reachable",
            "dns new-server.lab.test forward",
            "port 22 from old-server",
        ):
            assert rows[item]["status"] != "pass", rows[item]
        for item in ("cpus", "disks[1] serial NVME-N1-0004", "bmc reachable"):
            assert rows[item]["status"] == "pass", rows[item]
        assert "nic lan0 link" in run.stdout
    finally:
        lab("fault", "link-up", HOST, "lan0")
