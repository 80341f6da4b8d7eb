"""rackwright_acceptance: the specification is checked before any host is contacted; measured values become
rows (expected, measured, pass/fail/unknown, reason) that JUnit XML and Markdown render."""

import json
import xml.etree.ElementTree as ET

import pytest
from conftest import FIXTURES

from ansible_collections.rackwright.infra.plugins.module_utils.rackwright_acceptance import (
    evaluate,
    failed,
    junit_xml,
    markdown,
    measured_from_facts,
    spec_problems,
)

# inventories/example/host_vars/fra1-db01.yml, plus a disk known by serial
SPEC = {
    "cpus": 2,
    "cores": 40,
    "gpus": 4,
    "memory_gb": 384,
    "disks": [{"kind": "nvme", "count": 4, "min_gb": 3200}, {"serial": "BTWA0001"}],
    "nics": [{"name": "eno1", "speed_mbps": 25000, "mtu": 9000}],
}
NVME = [
    {"name": f"nvme{i}n1", "kind": "nvme", "size_bytes": 3_840_755_982_336, "serial": f"S4N{i}"}
    for i in range(4)
]
MEASURED = {
    "cpus": 2,
    "cores": 40,
    "gpus": 4,
    "memory_mb": 376 * 1024,  # 384 GB of DIMMs as the OS reports them
    "disks": NVME + [{"name": "sda", "kind": "ssd", "size_bytes": 240_057_409_536, "serial": "BTWA0001"}],
    "nics": {"eno1": {"link": True, "speed_mbps": 25000, "mtu": 9000}},
}


def eno1(**changes):
    return {"nics": {"eno1": {**MEASURED["nics"]["eno1"], **changes}}}


def statuses(rows):
    return {r["item"]: r["status"] for r in rows}


def test_a_host_that_meets_its_spec_passes_every_row():
    rows = evaluate(SPEC, MEASURED)
    assert failed(rows) == []
    assert list(statuses(rows)) == [
        "cpus", "cores", "gpus", "memory_gb",
        "disks[0] 4 nvme of 3200 GB or more", "disks[1] serial BTWA0001",
        "nic eno1 link", "nic eno1 speed", "nic eno1 mtu",
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("fault", "item", "reason"),
    [
        ({"cores": 32}, "cores", "32 CPU cores, below 40"),
        ({"gpus": 3}, "gpus", "3 GPUs, below 4"),
        ({"memory_mb": 256 * 1024}, "memory_gb", "256.0 GB of memory, below 384"),
        ({"disks": MEASURED["disks"][1:]}, "disks[0] 4 nvme of 3200 GB or more", "found 3 (nvme disks"),
        ({"disks": NVME}, "disks[1] serial BTWA0001", "no disk with serial BTWA0001"),
        (eno1(link=False), "nic eno1 link", "has no link"),
        (eno1(speed_mbps=10000), "nic eno1 speed", "negotiated 10000"),
        (eno1(mtu=1500), "nic eno1 mtu", "MTU is 1500, not 9000"),
        ({"nics": {"eno2": {"link": True}}}, "nic eno1", "no interface eno1 on the host"),
    ],
)  # fmt: skip
def test_each_fault_fails_its_own_row_and_says_why(fault, item, reason):
    rows = evaluate(SPEC, {**MEASURED, **fault})
    [bad] = failed(rows)
    assert bad["item"] == item and bad["status"] == "fail" and reason in bad["reason"], bad


def test_a_small_disk_does_not_count_and_one_disk_serves_one_spec():
    spec = {"disks": [{"kind": "ssd", "count": 1, "min_gb": 100}, {"kind": "ssd", "count": 1, "min_gb": 200}]}
    one = [{"name": "sda", "kind": "ssd", "size_bytes": 240 * 10**9}]
    assert statuses(evaluate(spec, {"disks": one})) == {
        "disks[0] 1 ssd of 100 GB or more": "fail",  # sda serves the larger spec, whichever comes first
        "disks[1] 1 ssd of 200 GB or more": "pass",
    }


def test_what_was_not_measured_is_unknown_never_a_pass():
    rows = evaluate(SPEC, {"disks": MEASURED["disks"], "nics": MEASURED["nics"]})
    assert {r["item"]: (r["status"], r["reason"]) for r in rows if r["status"] == "unknown"} == {
        "cpus": ("unknown", "not measured on the host"),
        "cores": ("unknown", "not measured on the host"),
        "gpus": ("unknown", "not measured on the host"),
        "memory_gb": ("unknown", "not measured on the host"),
    }
    assert len(failed(rows)) == 4


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ([1, 2], "rackwright_acceptance must be a mapping"),
        ({"cpu": 2}, "rackwright_acceptance: unknown key 'cpu' (did you mean 'cpus'?)"),
        ({"cores": "forty"}, "rackwright_acceptance.cores 'forty' is not a whole number above 0"),
        ({"cpus": True}, "rackwright_acceptance.cpus 'True' is not a whole number above 0"),
        ({"memory_gb": -1}, "rackwright_acceptance.memory_gb '-1' is not a number of GB above 0"),
        ({"disks": [{"kind": "flash"}]}, "disks[0].kind 'flash' is not one of ['hdd', 'ssd', 'nvme']"),
        ({"disks": [{"kind": "ssd", "count": 0}]}, "disks[0].count '0' is not a whole number above 0"),
        ({"disks": [{"kind": "ssd", "size": 1}]}, "disks[0]: unknown key 'size'"),
        ({"disks": {"kind": "ssd"}}, "rackwright_acceptance.disks must be a list"),
        ({"nics": [{"speed_mbps": 1000}]}, "nics[0] must be a mapping with the interface's name"),
        ({"nics": [{"name": "eno1", "mtu": "jumbo"}]}, "nics[0].mtu 'jumbo' is not a whole number above 0"),
        ({"nics": [{"name": "eno1", "link": "yes"}]}, "nics[0].link 'yes' is not true or false"),
    ],
)  # fmt: skip
def test_a_bad_spec_is_named(spec, expected):
    problems = spec_problems("h1", spec)
    assert any(expected in p for p in problems), problems
    assert all(p.startswith("host h1: rackwright_acceptance") for p in problems)


def test_the_example_specs_are_sound():
    assert spec_problems("h1", SPEC) == []


def test_junit_and_markdown_name_every_failed_item():
    rows = evaluate(SPEC, {**MEASURED, "cores": 32, "nics": {}})
    suite = ET.fromstring(junit_xml("fra1-db01", rows))
    assert suite.get("name") == "acceptance.fra1-db01"
    assert (suite.get("tests"), suite.get("failures"), suite.get("skipped")) == ("7", "2", "0")
    failures = {
        c.get("name"): c.find("failure").get("message") for c in suite if c.find("failure") is not None
    }
    assert failures == {"cores": "32 CPU cores, below 40", "nic eno1": "no interface eno1 on the host"}
    text = markdown("fra1-db01", rows)
    assert text.startswith("# Acceptance of fra1-db01: 2 item(s) not accepted\n")
    lines = text.splitlines()
    assert lines[4] == "| cores | 40 | 32 | FAIL | 32 CPU cores, below 40 |"
    assert lines[5].startswith("| nic eno1 | present | absent | FAIL |")
    assert markdown("fra1-db01", evaluate(SPEC, MEASURED)).startswith("# Acceptance of fra1-db01: PASSED\n")


def test_measured_from_real_setup_facts():
    """setup's hardware and network facts of a Debian 12 container on this project's 2-core build machine."""
    facts = json.loads((FIXTURES / "facts" / "setup-hardware-network-docker-debian12.json").read_text())
    measured = measured_from_facts(facts)
    assert measured == {
        "cpus": 1,
        "cores": 2,
        "gpus": None,
        "memory_mb": 24105,
        "disks": [
            {"name": "vda", "kind": "hdd", "size_bytes": 536870912 * 512, "serial": None}
        ],  # virtio: rotational
        "nics": {"eth0": {"link": True, "speed_mbps": 10000, "mtu": 1500}},
    }
    rows = evaluate(
        {"cpus": 1, "memory_gb": 24, "gpus": 1, "nics": [{"name": "eth0", "mtu": 9000}]}, measured
    )
    assert statuses(rows) == {
        "cpus": "pass",
        "gpus": "unknown",  # gpu_health did not run: unknown, not 0 GPUs
        "memory_gb": "pass",
        "nic eth0 link": "pass",
        "nic eth0 mtu": "fail",
    }
    installed = measured_from_facts(facts, hw_inventory={"memory": {"total_mb": 32768}}, gpus=[{}, {}])
    assert (installed["memory_mb"], installed["gpus"]) == (32768, 2)  # the DIMMs, not what the OS keeps
    assert measured_from_facts({"ansible_processor_count": 2})["disks"] is None  # devices not gathered
