"""roles/network on the lab: new-server and old-server get a VLAN, new-server an active-backup bond, both the
firewall; it is idempotent, check mode shows a change without making it, the firewall answers a peer as
declared (open, refused, filtered), and a change that locks SSH out rolls itself back."""

import json
import re

import pytest
from conftest import NETWORK_RESET, TCP_PROBE, ensure_lab, extra, guest, play_recap, playbook

pytestmark = pytest.mark.lab
HOSTS = ("new-server", "old-server")
LIMIT = ["--limit", ",".join(HOSTS)]


def reset():
    for host in HOSTS:
        guest(host, NETWORK_RESET)


@pytest.fixture(scope="module")
def network(lab_session):
    """network.yml converged on both hosts from the lab's boot configuration; the lab's back afterwards."""
    ensure_lab()
    reset()
    run = playbook("playbooks/network.yml", *LIMIT, timeout=900)
    yield run
    reset()


def test_the_lab_lan_is_configured_as_declared(network):
    assert network.returncode == 0, network.output[-5000:]
    addresses = guest("new-server", "ip -br -4 address show")
    for iface, address in (
        ("lan0", "10.77.0.12/24"),
        ("lan0.20@lan0", "10.77.20.12/24"),
        ("bond0", "10.77.1.12/24"),
    ):
        assert re.search(rf"^{re.escape(iface)}\s+UP\s+{re.escape(address)}", addresses, re.M), addresses
    bonding = guest("new-server", "cat /proc/net/bonding/bond0")
    assert "Bonding Mode: fault-tolerance (active-backup)" in bonding, bonding
    assert bonding.count("Slave Interface: lan") == 2 and "MII Status: up" in bonding, bonding
    # Traffic crosses the VLAN and the bond to old-server's side of each network.
    guest("new-server", "ping -c 2 -W 3 10.77.20.11 >/dev/null && ping -c 2 -W 3 10.77.1.11 >/dev/null")
    assert guest("new-server", "hostname; cat /etc/resolv.conf").split()[:1] == ["new-server"]
    assert "nameserver 10.77.0.13" in guest("new-server", "cat /etc/resolv.conf")
    assert guest("new-server", "systemctl is-enabled nftables").strip() == "enabled"


def test_a_second_run_changes_nothing(network):
    assert network.returncode == 0, network.output[-3000:]
    again = playbook("playbooks/network.yml", *LIMIT, timeout=900)
    assert again.returncode == 0, again.output[-3000:]
    for host in HOSTS:
        assert play_recap(again, host)["changed"] == 0, again.output[-3000:]


def test_check_mode_shows_a_ruleset_change_and_makes_none(network):
    assert network.returncode == 0, network.output[-3000:]
    before = guest("new-server", "cat /etc/nftables.conf")
    rules = [{"name": "https", "port": 443, "from": ["10.77.0.0/24"]}]  # 80 is the lab service's, declared
    check = playbook("playbooks/network.yml", "--limit", "new-server", "--check", "--diff",
                     *extra({"network_firewall_rules": rules}), timeout=600)  # fmt: skip
    assert check.returncode == 0, check.output[-3000:]
    added = '+\t\tip saddr { 10.77.0.0/24 } tcp dport 443 accept comment "https"'
    assert added in check.stdout, check.stdout[-3000:]
    assert play_recap(check, "new-server")["changed"] >= 1
    assert guest("new-server", "cat /etc/nftables.conf") == before
    assert "dport 443" not in guest("new-server", "nft list table inet rackwright")


def test_the_firewall_answers_a_peer_as_declared(network):
    assert network.returncode == 0, network.output[-3000:]
    dropped = int(re.search(r"counter packets (\d+) bytes \d+ drop comment \"dropped", guest(
        "new-server", "nft list table inet rackwright")).group(1))  # fmt: skip
    probe = guest("old-server", TCP_PROBE + "10.77.0.12 22 5432 8080")
    seen = dict(line.split() for line in probe.splitlines())
    # 22: allowed from the lab LAN (sshd answers); 5432: rejected with a reset; 8080: dropped, never answered.
    assert seen == {"22": "open", "5432": "refused", "8080": "filtered"}, seen
    after = int(re.search(r"counter packets (\d+) bytes \d+ drop comment \"dropped", guest(
        "new-server", "nft list table inet rackwright")).group(1))  # fmt: skip
    assert after > dropped  # the drop is counted, for a diagnosis to read


def test_a_change_that_locks_ssh_out_rolls_itself_back(network):
    """The firewall allows SSH on 2222 while sshd listens on 22: the new connection fails, the host restores
    the previous ruleset by itself, and the play says so."""
    assert network.returncode == 0, network.output[-3000:]
    before = guest("new-server", "cat /etc/nftables.conf")
    run = playbook("playbooks/network.yml", "--limit", "new-server", *extra({
        "network_firewall_ssh_port": 2222, "network_rollback_after": 45, "network_confirm_timeout": 15,
    }), timeout=600)  # fmt: skip
    assert run.returncode != 0, run.output[-3000:]
    assert "new-server: the network change was ROLLED BACK (not confirmed over a new connection" in run.stdout
    assert "restored /etc/nftables.conf" in run.stdout, run.stdout[-3000:]
    # The host answers a new connection again, with the ruleset it had.
    assert guest("new-server", "cat /etc/nftables.conf") == before
    last = json.loads(guest("new-server", "cat /var/lib/rackwright/network/last-switch.json"))
    assert last["action"] == "previous" and last["ok"] and last["ruleset"] == "loaded", last
    assert (
        guest("new-server", "systemctl is-active rackwright-network-rollback.timer", check=False).strip()
        != "active"
    )


def test_a_bond_mode_change_networkd_cannot_make_live_is_refused(network):
    """bond0 runs in another mode than declared (as after a hand-made change) and its .netdev is missing: the
    change would need the bond deleted, which networkd never does live, so the run refuses before anything
    changes. (The inventory cannot be changed with -e here: extra vars reach every host, and the inventory
    check would rightly refuse new-server's addresses on all of them.)"""
    assert network.returncode == 0, network.output[-3000:]
    netdev = "/etc/systemd/network/20-rackwright-bond0.netdev"  # the module fixture's reset removes it all
    guest("new-server", f"rm {netdev}; ip link delete bond0; ip link add bond0 type bond mode balance-rr")
    run = playbook("playbooks/network.yml", "--limit", "new-server", timeout=600)
    assert run.returncode != 0
    assert (
        "refused, nothing was changed: systemd-networkd cannot make these changes to a live link: "
        "bond bond0 runs in mode balance-rr and network_interfaces asks for active-backup"
    ) in run.stdout, run.stdout[-3000:]
    assert guest("new-server", f"ls {netdev}", check=False) == ""
    assert "balance-rr" in guest("new-server", "cat /sys/class/net/bond0/bonding/mode")
    timer = guest("new-server", "systemctl is-active rackwright-network-rollback.timer", check=False)
    assert timer.strip() != "active"
