"""The network role's firewall and its commit-confirmed switch, without a host: the ruleset says what
nftables(8) expects, every bad rule is named, and rackwright-network-switch makes a directory of files the
managed configuration (real files in a temporary tree; the lab runs it on real networkd and nftables)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.rackwright.infra.plugins.filter import rackwright_network as filters
from ansible_collections.rackwright.infra.plugins.module_utils.rackwright_firewall import (
    firewall_problems,
    nftables_ruleset,
)
from ansible_collections.rackwright.infra.plugins.modules import network_commit

ROOT = Path(__file__).resolve().parents[2]
SWITCH = ROOT / "roles" / "network" / "files" / "rackwright_network_switch.py"
ADMIN = ["10.20.0.0/22", "2001:db8:20::/48"]
RULES = [
    {"name": "postgres", "port": 5432, "from": ["10.20.0.0/23", "10.20.2.0/23"]},
    {"name": "dns", "port": 53, "proto": "udp"},
    {"name": "x11", "port": "6000-6010", "action": "reject"},
]


def test_the_ruleset_denies_by_default_and_allows_what_is_declared():
    text = nftables_ruleset(RULES, ADMIN)
    lines = [line.strip() for line in text.splitlines()]
    # Only our table, replaced whole on every load (the declare-then-delete idiom also works on a first load).
    assert lines[3:6] == ["table inet rackwright", "delete table inet rackwright", "table inet rackwright {"]
    assert "flush ruleset" not in text
    assert "type filter hook input priority filter; policy drop;" in lines
    assert lines.index("ct state established,related accept") < lines.index('iif "lo" accept')
    assert 'ip saddr { 10.20.0.0/22 } tcp dport 22 accept comment "ssh from the admin networks"' in lines
    assert 'ip6 saddr { 2001:db8:20::/48 } tcp dport 22 accept comment "ssh from the admin networks"' in lines
    # Adjacent source networks are merged; no source means from anywhere; reject answers with a reset.
    assert 'ip saddr { 10.20.0.0/22 } tcp dport 5432 accept comment "postgres"' in lines
    assert 'udp dport 53 accept comment "dns"' in lines
    assert 'tcp dport 6000-6010 counter reject with tcp reset comment "x11"' in lines
    assert lines[-3] == 'counter drop comment "dropped: not allowed"'


@pytest.mark.parametrize(
    ("rules", "admin", "port", "message"),
    [
        (RULES, [], 22, "network_firewall_admin_networks is empty"),
        (RULES, ["10.20.0.0/33"], 22, "network_firewall_admin_networks[0] '10.20.0.0/33' is not a network"),
        (RULES, "10.20.0.0/22", 22, "network_firewall_admin_networks must be a list of networks"),
        (RULES, ADMIN, 70000, "network_firewall_ssh_port '70000' is not a port number"),
        ({"name": "x"}, ADMIN, 22, "network_firewall_rules must be a list of rules"),
        (["http"], ADMIN, 22, "network_firewall_rules[0] must be a mapping"),
        ([{"name": "a b", "port": 1}], ADMIN, 22, "network_firewall_rules[0].name 'a b' must be 1 to 40"),
        ([{"name": "web", "port": 0}], ADMIN, 22, "network_firewall_rules[web].port '0' is not a port"),
        (
            [{"name": "web", "port": "90-80"}],
            ADMIN,
            22,
            "network_firewall_rules[web].port '90-80' is not a port",
        ),
        ([{"name": "web", "port": 80, "proto": "icmp"}], ADMIN, 22, "[web].proto 'icmp' is not one of"),
        ([{"name": "web", "port": 80, "action": "allow"}], ADMIN, 22, "[web].action 'allow' is not one of"),
        ([{"name": "web", "port": 80, "from": ["nowhere"]}], ADMIN, 22, "[web].from[0] 'nowhere' is not a"),
        ([{"name": "web", "port": 80, "sources": []}], ADMIN, 22, "[web]: unknown key 'sources'"),
        (
            [{"name": "web", "port": 80}, {"name": "web", "port": 81}],
            ADMIN,
            22,
            "the name is used by another",
        ),
    ],
)
def test_each_bad_input_is_named(rules, admin, port, message):
    problems = firewall_problems(rules, admin, port)
    assert any(message in p for p in problems), problems
    with pytest.raises(AnsibleFilterError, match="nftables_ruleset: "):
        filters.nftables_ruleset(rules, admin, port)


def test_the_filter_renders_sound_rules():
    assert filters.nftables_ruleset(RULES, ADMIN) == nftables_ruleset(RULES, ADMIN)


def _dir(path: Path, files: dict, ruleset=None, **manifest) -> Path:
    path.mkdir(parents=True)
    for name, text in files.items():
        (path / name).write_text(text)
    if ruleset is not None:
        (path / "nftables.conf").write_text(ruleset)
    entry = {"networkd": sorted(files), "ruleset": ruleset is not None, "id": path.name, **manifest}
    (path / "manifest.json").write_text(json.dumps(entry))
    return path


def test_the_switch_makes_a_directory_the_managed_configuration(tmp_path):
    """Managed files replaced and removed (others untouched), the ruleset written, the report says what it
    did; a missing tool (no networkctl, ip or nft here) is an error in the report, not a traceback."""
    live = tmp_path / "etc-systemd-network"
    live.mkdir()
    (live / "10-rackwright-eno1.network").write_text("[Match]\nName=eno1\n")
    (live / "20-rackwright-bond0.netdev").write_text("[NetDev]\nName=bond0\nKind=bond\n")
    (live / "50-local.network").write_text("[Match]\nName=eno9\n")  # not ours
    dhcp = "[Match]\nName=eno1\n\n[Network]\nDHCP=ipv4\n"
    new = _dir(tmp_path / "next", {"10-rackwright-eno1.network": dhcp}, ruleset="table inet rackwright {}\n")
    env = {
        **os.environ,
        "PATH": str(tmp_path / "no-tools"),
        "RACKWRIGHT_NETWORKD_DIR": str(live),
        "RACKWRIGHT_RULESET": str(tmp_path / "nftables.conf"),
        "RACKWRIGHT_NETWORK_STATE": str(tmp_path / "st"),
    }
    run = subprocess.run([sys.executable, str(SWITCH), "--reason", "apply", str(new)],
                         env=env, capture_output=True, text=True, check=False)  # fmt: skip
    assert run.returncode == 1 and "Traceback" not in run.stderr, run.stderr
    assert sorted(p.name for p in live.iterdir()) == ["10-rackwright-eno1.network", "50-local.network"]
    assert "DHCP=ipv4" in (live / "10-rackwright-eno1.network").read_text()
    assert (tmp_path / "nftables.conf").read_text() == "table inet rackwright {}\n"
    report = json.loads((tmp_path / "st" / "last-switch.json").read_text())
    assert report["id"] == "next" and report["ok"] is False and report["ruleset"] == "failed"
    assert report["files_changed"] == ["10-rackwright-eno1.network", "20-rackwright-bond0.netdev",
                                       str(tmp_path / "nftables.conf")]  # fmt: skip
    assert any(e.startswith("networkctl reload:") for e in report["errors"]), report["errors"]
    assert report["uptime"] > 0
    # The snapshot of a host that had no ruleset takes the file away again.
    back = _dir(tmp_path / "previous", {}, ruleset_absent=True)
    subprocess.run([sys.executable, str(SWITCH), str(back)], env=env, capture_output=True, check=False)
    assert not (tmp_path / "nftables.conf").exists() and sorted(p.name for p in live.iterdir()) == [
        "50-local.network"
    ]


def test_the_switch_refuses_a_directory_without_manifest(tmp_path):
    run = subprocess.run(
        [sys.executable, str(SWITCH), str(tmp_path)], capture_output=True, text=True, check=False
    )
    assert run.returncode == 2 and "manifest.json not found" in run.stderr


def test_a_confirmation_outside_ssh_cannot_claim_a_new_connection():
    """network_commit finds the connection's start from the sshd process that accepted it; pytest runs under
    no sshd, so there is none (the lab test proves the SSH case)."""
    assert network_commit.connection_started() is None
    chain = network_commit._ancestors()
    assert chain[0][0] == os.getpid() and all(start >= 0 for *_rest, start in chain)


@pytest.mark.parametrize("name", ["new-server", "db01", "a" * 63])
def test_host_names_accepted(name):
    assert network_commit.HOSTNAME.fullmatch(name)


@pytest.mark.parametrize("name", ["", "-db", "db-", "db01.example.com", "a" * 64, "db_01"])
def test_host_names_refused(name):
    assert not network_commit.HOSTNAME.fullmatch(name)
