"""network_interfaces: every inconsistency is named before anything changes (rackwright_network), the networkd
files say what systemd.network(5)/systemd.netdev(5) expect, and the address-planning filters."""

from pathlib import Path

import pytest
import yaml
from ansible.errors import AnsibleFilterError

from ansible_collections.rackwright.infra.plugins.filter import rackwright_network as filters
from ansible_collections.rackwright.infra.plugins.module_utils.rackwright_network import (
    duplicate_address_problems,
    interface_addresses,
    interface_problems,
)

CASES = yaml.safe_load((Path(__file__).parent / "network_cases.yml").read_text())
SITE = {"x": {"mgmt": "10.20.0.0/22", "bmc": "10.20.8.0/24", "storage": "10.21.0.0/24", "mtu": 9000}}
OTHER_KEYS = ("gateway", "mtu")  # the site's settings that are no network (the schema's network_other_keys)
# A bonded server with a tagged storage VLAN and a bridge for guests: what the check must accept as it is.
SOUND = [
    {"name": "eno1", "mtu": 9000},
    {"name": "eno2", "mtu": 9000},
    {"name": "bond0", "kind": "bond", "members": ["eno1", "eno2"], "bond_mode": "802.3ad", "mtu": 9000,
     "addresses": ["10.20.0.31/22"], "gateway": "10.20.0.1", "network": "mgmt",
     "routes": [{"to": "10.30.0.0/16", "via": "10.20.0.254"}]},
    {"name": "bond0.20", "kind": "vlan", "parent": "bond0", "vlan_id": 20, "mtu": 9000,
     "addresses": ["10.20.8.31/24"], "network": "bmc"},
    {"name": "eno3"},
    {"name": "br0", "kind": "bridge", "members": ["eno3"], "addresses": ["10.21.0.31/24"],
     "network": "storage"},
]  # fmt: skip


def problems(interfaces, site="x"):
    return interface_problems("h1", interfaces, site, SITE, OTHER_KEYS)


def test_a_sound_layout_has_no_problems():
    assert problems(SOUND) == []


def layout(case):
    changed = [dict(i, **case.get("change", {}).get(i["name"], {})) for i in SOUND]
    return changed + case.get("add", [])


@pytest.mark.parametrize("case", CASES, ids=[c["expected"][:50] for c in CASES])
def test_each_inconsistency_is_named(case):
    found = problems(layout(case))
    assert any(case["expected"] in p for p in found), found
    assert all(p.startswith("host h1: network_interfaces") for p in found), found


def test_a_layout_that_is_no_list_is_named():
    assert problems("eno1") == ["host h1: network_interfaces must be a list of interfaces, got str"]


def test_a_host_of_a_site_without_networks_is_told_so():
    assert problems(SOUND, site="y") == [
        "host h1: site 'y' has no entry in rackwright_networks to check its addresses against"
    ]


def test_an_address_claimed_twice_anywhere_is_named_once_with_both_owners():
    claims = {
        "h1": interface_addresses(SOUND) + [("bmc_address", "10.20.8.11")],
        "h2": [("network_interfaces[lan0]", "10.20.0.31/22"), ("bmc_address", "10.20.8.11"),
               ("ansible_host", "127.0.0.1")],
        "h3": [("ansible_host", "127.0.0.1")],  # the lab's port forwards: loopback is shared by design
    }  # fmt: skip
    assert duplicate_address_problems(claims) == [
        "host h2: network_interfaces[lan0] 10.20.0.31 is already host h1's network_interfaces[bond0]",
        "host h2: bmc_address 10.20.8.11 is already host h1's bmc_address",
    ]


def files_of(interfaces, **kwargs):
    return {f["name"]: f["content"] for f in filters.networkd_files(interfaces, **kwargs)}


def test_networkd_files_stack_bond_vlan_and_bridge_in_order():
    files = filters.networkd_files(SOUND, dns=["10.20.0.53"], domains=["fra1.example.net"])
    names = [f["name"] for f in files]
    assert names == [
        "10-rackwright-eno1.network", "10-rackwright-eno2.network", "10-rackwright-eno3.network",
        "20-rackwright-bond0.netdev", "20-rackwright-bond0.network",
        "30-rackwright-bond0.20.netdev", "30-rackwright-bond0.20.network",
        "40-rackwright-br0.netdev", "40-rackwright-br0.network",
    ]  # fmt: skip
    content = {f["name"]: f["content"] for f in files}
    assert (
        "[Match]\nName=eno1\n\n[Link]\nMTUBytes=9000\n\n[Network]\nBond=bond0\n"
        in content["10-rackwright-eno1.network"]
    )
    assert "Bridge=br0" in content["10-rackwright-eno3.network"]
    netdev = content["20-rackwright-bond0.netdev"]
    assert "[NetDev]\nName=bond0\nKind=bond\nMTUBytes=9000\n\n[Bond]\nMode=802.3ad\nMIIMonitorSec=100ms\n" \
        "LACPTransmitRate=fast\nTransmitHashPolicy=layer3+4\n" in netdev  # fmt: skip
    bond = content["20-rackwright-bond0.network"]
    for line in ("Address=10.20.0.31/22", "Gateway=10.20.0.1", "DNS=10.20.0.53", "Domains=fra1.example.net",
                 "VLAN=bond0.20", "[Route]\nDestination=10.30.0.0/16\nGateway=10.20.0.254"):  # fmt: skip
        assert line in bond, bond
    assert "[VLAN]\nId=20\n" in content["30-rackwright-bond0.20.netdev"]
    vlan = content["30-rackwright-bond0.20.network"]
    assert "Address=10.20.8.31/24" in vlan and "DNS=" not in vlan and "Gateway=" not in vlan
    assert all(c.startswith("# Managed by rackwright") for c in content.values())


def test_networkd_files_dhcp_and_an_unaddressed_port():
    content = files_of([{"name": "lan0", "dhcp": True}, {"name": "lan1"}], dns=["10.0.0.53"])
    assert "DHCP=ipv4\nDNS=10.0.0.53" in content["10-rackwright-lan0.network"]
    assert "LinkLocalAddressing=no" in content["10-rackwright-lan1.network"]
    assert "Address=" not in content["10-rackwright-lan1.network"]


def test_networkd_files_refuses_what_the_gate_would():
    with pytest.raises(
        AnsibleFilterError, match=r"networkd_files: host this host: network_interfaces\[bond0\]\.gateway"
    ):
        filters.networkd_files(layout({"change": {"bond0": {"gateway": "10.99.0.1"}}}))


@pytest.mark.parametrize(
    ("subnet", "used", "first", "expected"),
    [
        ("10.20.0.0/29", ["10.20.0.1", "10.20.0.2/29"], 1, "10.20.0.3"),
        ("10.20.0.0/29", [], 5, "10.20.0.5"),
        ("10.20.0.0/30", ["10.20.0.1", "10.20.0.2"], 1, None),
        ("10.20.0.0/31", [], 1, "10.20.0.0"),  # RFC 3021: both addresses of a /31 are hosts'
    ],
)
def test_next_free_address(subnet, used, first, expected):
    assert filters.next_free_address(subnet, used, first) == expected


def test_reverse_names_and_summarised_routes():
    assert filters.reverse_dns_name("10.20.0.31/22") == "31.0.20.10.in-addr.arpa"
    assert filters.reverse_dns_name("2001:db8::1").endswith(".8.b.d.0.1.0.0.2.ip6.arpa")
    assert filters.summarize_networks(["10.20.0.0/24", "10.20.1.0/24", "10.20.1.128/25", "10.30.0.0/16"]) == [
        "10.20.0.0/23",
        "10.30.0.0/16",
    ]


@pytest.mark.parametrize(
    ("call", "args"),
    [
        (filters.next_free_address, ("10.20.0.300/24", [])),
        (filters.reverse_dns_name, ("host-a",)),
        (filters.summarize_networks, (["10.20.0.0/33"],)),
    ],
)
def test_bad_values_are_named(call, args):
    with pytest.raises(
        AnsibleFilterError, match=rf"{call.__name__}: cannot use {args[0]!r}".replace("[", r"\[")
    ):
        call(*args)
