"""dmidecode parser against every real fixture; lsblk and lspci parsers on documented sample output."""

import json

import pytest
from conftest import assert_verdict, fixture_text, saved_names, saved_output

from ansible_collections.rackwright.infra.plugins.module_utils.rackwright_dmidecode import parse_dmidecode
from ansible_collections.rackwright.infra.plugins.module_utils.rackwright_health import ParseError
from ansible_collections.rackwright.infra.plugins.module_utils.rackwright_lsblk import parse_lsblk
from ansible_collections.rackwright.infra.plugins.module_utils.rackwright_lspci import parse_lspci_mm

# file -> (health, reason substring or None, vendor, model, cpus, (slots, populated), psus)
EXPECTED = {
    "dell-poweredge-r640.txt": (
        "unknown",
        "PSU1: status 'Unknown'",
        "Dell Inc.",
        "PowerEdge R640",
        2,
        (24, 8),
        2,
    ),
    "dell-poweredge-r720.txt": ("ok", None, "Dell Inc.", "PowerEdge R720xd", 2, (24, 8), 0),
    "dell-type39-psu-present-unknown.txt": ("unknown", "check the BMC", None, None, 0, (0, 0), 2),
    "hp-proliant-dl180-g6-psu-status-out-of-spec.txt": (
        "unknown",
        "Bottom PS Bay: status '<OUT OF SPEC>'",
        "HP",
        "ProLiant DL180 G6",
        1,
        (12, 2),
        2,
    ),
    "hpe-proliant-dl360-gen8.txt": (
        "unknown",
        "PSU2: status 'Unknown'",
        "HP",
        "ProLiant DL360p Gen8",
        2,
        (24, 8),
        2,
    ),
    "hpe-proliant-dl380-gen10-type39-psu-ok.txt": ("ok", None, None, None, 0, (0, 0), 2),
    "oracle-server-x5-2.txt": ("ok", None, "Oracle Corporation", "ORACLE SERVER X5-2", 2, (24, 16), 0),
    "supermicro-x11dpu-type39-psu-ok.txt": ("ok", None, None, None, 0, (0, 0), 2),
    "vmware-esx-guest.txt": ("ok", None, "VMware, Inc.", "VMware Virtual Platform", 1, (15, 1), 0),
}


@pytest.mark.parametrize("name", saved_names("dmidecode", EXPECTED))
def test_dmidecode_fixture(name):
    text, expected = saved_output("dmidecode", EXPECTED, name)
    health, reason, vendor, model, cpus, (slots, populated), psus = expected
    inventory = parse_dmidecode(text, name)
    assert_verdict(inventory, health, reason)
    assert (inventory["vendor"], inventory["model"]) == (vendor, model)
    assert len(inventory["cpus"]) == cpus
    assert (inventory["memory"]["slots"], inventory["memory"]["populated"]) == (slots, populated)
    assert len(inventory["psus"]) == psus


def test_r640_details():
    inventory = parse_dmidecode(fixture_text("dmidecode/dell-poweredge-r640.txt"))
    assert inventory["serial"] == "2RJF153"
    assert inventory["bios"] == {"vendor": "Dell Inc.", "version": "2.6.4", "date": "04/09/2020"}
    assert inventory["cpus"][0]["model"] == "Intel(R) Xeon(R) Gold 6244 CPU @ 3.60GHz"
    assert inventory["cpus"][0]["cores"] == 8
    assert inventory["memory"]["total_mb"] == 262144
    assert inventory["memory"]["empty"] == 16
    first = inventory["dimms"][0]
    assert (first["locator"], first["size_mb"], first["type"], first["speed_mts"]) == (
        "A1",
        32768,
        "DDR4",
        2933,
    )
    empty = [d for d in inventory["dimms"] if not d["populated"]][0]
    assert empty["size_mb"] is None and empty["part_number"] is None
    assert inventory["psus"][0]["max_power_w"] == 750
    assert inventory["chassis"][0]["states"]["Thermal State"] == "Safe"


def test_psu_ok_and_out_of_spec():
    ok = parse_dmidecode(fixture_text("dmidecode/hpe-proliant-dl380-gen10-type39-psu-ok.txt"))
    assert [p["status"] for p in ok["psus"]] == ["OK", "OK"]
    assert ok["psus"][0]["model"] == "865414-B21"
    dl180 = parse_dmidecode(fixture_text("dmidecode/hp-proliant-dl180-g6-psu-status-out-of-spec.txt"))
    assert dl180["psus"][1]["present"] is False
    assert dl180["psus"][1]["reasons"] == ["bay reported empty by BIOS (Not Present)"]


def test_critical_psu_and_chassis_state():
    text = fixture_text("dmidecode/supermicro-x11dpu-type39-psu-ok.txt").replace(
        "Present, OK", "Present, Critical", 1
    )
    inventory = parse_dmidecode(text, "edited")
    assert inventory["health"] == "critical"
    assert inventory["reasons"][0].endswith("status: critical (BIOS boot-time value)")


def test_garbage_raises_with_line():
    with pytest.raises(ParseError) as info:
        parse_dmidecode("# dmidecode 3.4\nPermission denied\n", "dmi.txt")
    assert (info.value.tool, info.value.line) == ("dmidecode", 2)


LSBLK = json.dumps(
    {
        "blockdevices": [
            {
                "name": "sda",
                "size": 480103981056,
                "type": "disk",
                "model": "SAMSUNG MZ7LH480",
                "serial": "S1",
                "rota": False,
                "tran": "sata",
            },
            {
                "name": "sdb",
                "size": "4000787030016",
                "type": "disk",
                "model": "WDC WD4000FYYZ",
                "serial": "W2",
                "rota": "1",
                "tran": "sas",
            },
            {
                "name": "sr0",
                "size": 1073741312,
                "type": "rom",
                "model": "DVD",
                "serial": None,
                "rota": True,
                "tran": "sata",
            },
        ]
    }
)


def test_lsblk_both_value_styles():
    disks = parse_lsblk(LSBLK, "lsblk.json")
    assert [d["name"] for d in disks] == ["/dev/sda", "/dev/sdb"]
    assert disks[0]["rotational"] is False and disks[1]["rotational"] is True
    assert disks[1]["size_bytes"] == 4000787030016
    with pytest.raises(ParseError, match="blockdevices"):
        parse_lsblk("{}", "lsblk.json")


LSPCI = (
    '00:1f.2 "SATA controller" "Intel Corporation" "C600/X79 series chipset 6-Port SATA AHCI Controller" '
    '-r05 "Dell" "Device 04f7"\n'
    '01:00.0 "Ethernet controller" "Broadcom Inc. and subsidiaries" '
    '"NetXtreme BCM5720 Gigabit Ethernet PCIe" "Dell" "Device 1f5b"\n'
    '03:00.0 "RAID bus controller" "Broadcom / LSI" "MegaRAID SAS-3 3108 [Invader]" -r02 "Dell" '
    '"PERC H730P Mini"\n'
    '0b:00.0 "VGA compatible controller" "Matrox Electronics Systems Ltd." "G200eR2" -r01 '
    '"Dell" "Device 04f7"\n'
)


def test_lspci_mm_classes():
    devices = parse_lspci_mm(LSPCI, "lspci.txt")
    assert devices["nics"] == [
        {
            "slot": "01:00.0",
            "vendor": "Broadcom Inc. and subsidiaries",
            "device": "NetXtreme BCM5720 Gigabit Ethernet PCIe",
            "revision": None,
        }
    ]
    assert [c["slot"] for c in devices["storage_controllers"]] == ["00:1f.2", "03:00.0"]
    assert devices["storage_controllers"][1]["revision"] == "02"
    assert len(devices["gpus"]) == 1
    with pytest.raises(ParseError) as info:
        parse_lspci_mm('00:00.0 "Host bridge" "Intel\n', "lspci.txt")
    assert info.value.line == 1
