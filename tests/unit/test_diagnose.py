"""The network diagnosis judged again from evidence the lab's diagnose runs kept
(tests/fixtures/diagnose/<case>/: both ends' `ip -j addr` and `ip -j route get`, the client's ping, DNS and
TCP results, what listens and the nftables ruleset, and the record that run published), plus the request
checks. The runs themselves, with the
faults injected for real, are tests/lab/test_diagnose_lab.py."""

import json

import pytest
from conftest import FIXTURES

from ansible_collections.rackwright.infra.plugins.module_utils import rackwright_diagnose as diagnose

CASES = FIXTURES / "diagnose"
# What each kept run found (the lab test injected the fault; nothing-wrong is the lab as booted).
EXPECTED = {
    "nothing-wrong": (None, None),
    "link-down": ("link", "new-server lan0 has no carrier"),
    "wrong-route": ("route", "old-server sends 10.77.0.12 via 10.77.0.13 on lan0"),
    "wrong-dns-answer": ("dns", "new-server.lab.test -> 10.77.0.99"),
    "mtu": ("mtu", "the MTU differs on one segment: old-server lan0 MTU 1500, new-server lan0 MTU 1400"),
    "firewall-drop": ("firewall", "table inet faults chain input: a rule drops tcp port 22"),
    "port-nothing-listens": ("port", "nothing listens on port 8081"),
}


def evidence(case):
    folder = CASES / case
    record = json.loads((folder / "record.json").read_text())

    def read(name):
        text = (folder / name).read_text()
        try:
            return json.loads(text)
        except ValueError:
            return text.rstrip("\n")

    ping, ping_mtu = read("ping.json")
    details = record["details"]
    port = next((int(row["expected"].rsplit(":", 1)[1]) for row in details["layers"]
                 if row["layer"] == "port" and row["status"] != "skip"), None)  # fmt: skip
    return record, {
        "server": record["host"], "client": details["client"], "address": details["address"], "port": port,
        "server_interface": "lan0",  # the lab inventory's network_interfaces entry for 10.77.0.12
        "name": "new-server.lab.test", "server_ip_addr": read("server-ip-addr.json"),
        "client_ip_addr": read("client-ip-addr.json"), "client_route": read("client-route.json"),
        "server_route": read("server-route.json"), "ping": ping, "ping_mtu": ping_mtu, "mtu": ping_mtu["mtu"],
        "dns": read("dns.json"), "tcp": read("tcp.json"), "listening": read("server-listening.txt"),
        "nft": read("server-nft.json"),
    }  # fmt: skip


@pytest.mark.parametrize("case", sorted(EXPECTED))
def test_each_kept_run_is_judged_the_same_again(case):
    record, ev = evidence(case)
    layer, words = EXPECTED[case]
    result = diagnose.diagnose(ev)
    assert result["failing_layer"] == layer == record["details"]["failing_layer"], result["layers"]
    assert result["layers"] == record["details"]["layers"]
    if words:
        assert words in next(row["found"] for row in result["layers"] if row["layer"] == layer)
        assert result["status"] == "critical" and result["advice"]
    else:
        assert result["status"] == "ok" and [row["status"] for row in result["layers"]] == ["pass"] * 7


def test_every_kept_case_has_an_expectation():
    assert sorted(p.name for p in CASES.iterdir() if p.is_dir()) == sorted(EXPECTED)


def test_without_a_port_or_a_name_those_layers_are_skipped_not_passed():
    _record, ev = evidence("nothing-wrong")
    result = diagnose.diagnose(dict(ev, port=None, name=None, dns=None, tcp=None))
    assert [(row["layer"], row["status"]) for row in result["layers"]] == [
        ("link", "pass"), ("address", "pass"), ("route", "pass"), ("dns", "skip"), ("mtu", "pass"),
        ("firewall", "skip"), ("port", "skip"),
    ]  # fmt: skip
    assert result["status"] == "ok"


def test_an_address_the_server_does_not_hold_is_the_address_layer():
    _record, ev = evidence("nothing-wrong")
    result = diagnose.diagnose(dict(ev, address="10.77.0.99"))
    assert result["failing_layer"] == "address"
    assert "new-server does not hold 10.77.0.99 (it holds" in result["layers"][1]["found"]


def test_the_firewall_names_a_policy_drop_without_an_accept_for_the_port():
    _record, ev = evidence("firewall-drop")
    rules = diagnose.nft_blocking(ev["nft"], 22)
    assert rules == ["table inet faults chain input: a rule drops tcp port 22 (" + rules[0].split("(")[1]]
    assert diagnose.nft_blocking(ev["nft"], 80) == []
    assert diagnose.nft_blocking("not json", 22) == [] and diagnose.nft_blocking("", 22) == []


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"client": "web1"}, "diagnose_server and diagnose_client are both 'web1'"),
        ({"client": "nope"}, "diagnose_client: 'nope' is not a host of the inventory"),
        ({"address": "10.0.0.300"}, "diagnose_address: expected an IP address, got '10.0.0.300'"),
        ({"port": "http"}, "diagnose_port: expected a number 0-65535 (0: none), got 'http'"),
        ({"mtu": 40}, "diagnose_mtu: expected a number 0-65535, got 40"),
        ({"dns_server": "ns1"}, "diagnose_dns_server: expected the resolver's IP address, got 'ns1'"),
    ],
)
def test_a_bad_request_is_named(change, problem):
    request = {"server": "web1", "client": "db1", "address": "10.0.0.5", "port": 22, "mtu": 0, "name": "",
               "dns_server": ""}  # fmt: skip
    assert diagnose.request_problems(request, ["web1", "db1"], ["web1", "db1"]) == []
    problems = diagnose.request_problems(dict(request, **change), ["web1", "db1"], ["web1", "db1"])
    assert any(problem in p for p in problems), problems
