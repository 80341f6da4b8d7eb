"""The customer's specification sheet (plugin_utils/rackwright_spec.py, filter spec_sheet): allow-listed field
by field, serials and internal addresses only on request, MACs never; the lab lane writes a real one from a
lab run's records and prints it to PDF (tests/lab/test_reports_lab.py)."""

import re

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.rackwright.infra.plugins.filter.rackwright_spec import spec_sheet

MAC = "52:54:00:12:34:56"
INVENTORY = {
    "vendor": "Dell Inc.",
    "model": "PowerEdge R650",
    "serial": "7XK2QH3",
    "cpus": [{"manufacturer": "Intel", "model": "Xeon Gold 6338", "cores": 32, "threads": 64}] * 2,
    "memory": {"total_mb": 262144, "populated": 8, "slots": 16, "error_correction": "Multi-bit ECC"},
    "disks": [
        {
            "name": "/dev/nvme0n1",
            "model": "Dell Ent NVMe P5600",
            "serial": "PHAB1234",
            "size_bytes": 1.6e12,
            "transport": "nvme",
            "rotational": False,
        }
    ],  # fmt: skip
    # fields no line of the sheet names: they must never reach the customer
    "nics": [{"vendor": "Broadcom", "device": "BCM57414", "mac": MAC, "slot": "31:00.0"}],
    "uuid": "4c4c4544-0047-3510-8057-b7c04f4b3333",
}
BMC = {"health": "ok", "sources": ["ipmitool sdr"], "sensors": [{"type": "fan", "mac": MAC}]}
RECORDS = {
    "health": {"status": "ok", "time": "2026-12-07T10:00:00+00:00", "reasons": [],
               "details": {"inventory": INVENTORY, "checks": {"bmc": BMC}}},
    "acceptance": {"status": "ok", "time": "2026-12-07T10:05:00+00:00", "reasons": [],
                   "details": {"counts": {"pass": 2, "fail": 0}, "rows": [
                       {"item": "nic eno1 mtu", "status": "pass", "measured": 9000},
                       {"item": "nic eno1 speed", "status": "pass", "measured": 25000},
                       {"item": "address eno1 10.20.0.5/24", "status": "pass", "measured": "10.20.0.5/24"}]}},
}  # fmt: skip
DECLARED = {
    "network_interfaces": [{"name": "eno1", "addresses": ["10.20.0.5/24"], "network": "prod"}],
    "network_firewall_rules": [{"port": 443, "from": ["0.0.0.0/0"]}, {"port": 22, "from": ["10.0.0.0/8"]}],
    "storage_raids": [{"name": "data", "level": 10, "devices": ["a", "b", "c", "d"]}],
    "rackwright_maintenance_window": [
        {"days": ["sun"], "start": "02:00", "end": "04:00", "timezone": "Europe/Paris"}
    ],
}


def sheet(reveal=()):
    return spec_sheet({"host": "web1", "records": RECORDS, "declared": DECLARED, "reveal": list(reveal)})


def test_the_sheet_says_the_hardware_network_exposure_and_window_in_plain_words():
    md = sheet()["markdown"]
    assert "| Processors | 2 socket(s), 64 cores / 128 threads: Intel Xeon Gold 6338 |" in md
    assert "| Memory | 256.0 GiB in 8 of 16 slots, error correction: Multi-bit ECC |" in md
    assert "| Disk /dev/nvme0n1 | NVMe SSD, 1600 GB, Dell Ent NVMe P5600 |" in md
    assert "| eno1 speed | 25000 Mb/s (measured) |" in md and "| eno1 MTU | 9000 bytes (measured) |" in md
    assert (
        "| Port 443/tcp | open to the Internet |" in md
        and "| Port 22/tcp | open to internal networks only |" in md
    )
    assert "| Array data | RAID 10 over 4 disks (survives the loss of 1 disk(s)) |" in md
    assert "| Maintenance window | sun 02:00-04:00 Europe/Paris |" in md
    assert "| Last verified restore" not in md and "| Backup | no backup job declared |" in md


def test_serials_and_internal_addresses_only_on_request_and_macs_never():
    plain = sheet()
    for text in (plain["markdown"], plain["html"]):
        assert not re.search(r"7XK2QH3|PHAB1234|10\.20\.0\.5|4c4c4544", text)
        assert MAC not in text and MAC.upper() not in text
    assert "| Connection (interface) | network prod: 1 address(es), on request |" in plain["markdown"]
    shown = sheet(["addresses", "serials"])["markdown"]
    assert "10.20.0.5/24" in shown and "serial PHAB1234" in shown and "| System serial | 7XK2QH3 |" in shown
    assert MAC not in shown  # no reveal shows a MAC: none is picked


def test_an_unknown_reveal_or_a_bad_input_is_named():
    with pytest.raises(AnsibleFilterError, match=r"reveal: macs is not one of addresses, serials"):
        sheet(["macs"])
    with pytest.raises(AnsibleFilterError, match=r"spec_sheet: expected \{host, records, declared, reveal\}"):
        spec_sheet(["web1"])


def test_a_host_with_no_records_gets_a_sheet_that_says_so():
    md = spec_sheet({"host": "new1", "records": {}, "declared": {}})["markdown"]
    assert "| Hardware health | not checked yet |" in md and "| Model | not reported |" in md
    assert "| Maintenance window | none declared: maintenance is agreed case by case |" in md
