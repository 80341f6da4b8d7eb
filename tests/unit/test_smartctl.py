"""smartctl --json and nvme-cli parsers against every real fixture, plus exit-status decoding."""

import json

import pytest
from conftest import assert_verdict, fixture_names, fixture_text, saved_names, saved_output

from ansible_collections.rackwright.infra.plugins.module_utils.rackwright_health import ParseError
from ansible_collections.rackwright.infra.plugins.module_utils.rackwright_nvme import (
    parse_list,
    parse_smart_log,
)
from ansible_collections.rackwright.infra.plugins.module_utils.rackwright_smartctl import (
    decode_exit_status,
    parse_scan,
    parse_smartctl_json,
    parse_smartctl_text,
)

# file -> (health, substring of a reason or None for "no reasons")
SMARTCTL_EXPECTED = {
    "error-open-device-failed-exit2.json": ("unknown", "Open failed, Error=5"),
    "nvme-critical-warning-16-volatile-backup-failed.json": (
        "critical",
        "0x10: volatile memory backup failed",
    ),
    "nvme-healthy-samsung-970-evo-plus.json": ("ok", None),
    "nvme-media-errors-7.json": ("warning", "media errors 7 > 0"),
    "nvme-wear-75pct-used-intel-p4510.json": ("ok", None),
    "sas-hdd-grown-defects-260-uncorrected-read-error.json": ("warning", "grown defect list 260 > 0"),
    "sas-hdd-healthy-hitachi-600g.json": ("ok", None),
    "sata-hdd-error-log-entries-exit64.json": ("ok", None),
    "sata-hdd-healthy-seagate-exos-x16.json": ("ok", None),
    "sata-hdd-megaraid-healthy-wd4000fyyx.json": ("ok", None),
    "sata-hdd-megaraid-reallocated-387.json": ("warning", "reallocated sectors 387 > 0"),
    "sata-hdd-reallocated-sectors-304.json": ("warning", "reallocated sectors 304 > 0"),
    "sata-hdd-smart-failed-reallocated-now-pending-8.json": ("critical", "Reallocated_Sector_Ct failing now"),
    "sata-ssd-healthy-samsung-pm883.json": ("ok", None),
    "scsi-intel-raid-volume-no-smart-exit4.json": ("unknown", "no SMART health status"),
}


@pytest.mark.parametrize("name", saved_names("smartctl", SMARTCTL_EXPECTED))
def test_smartctl_fixture_verdict(name):
    text, (health, reason) = saved_output("smartctl", SMARTCTL_EXPECTED, name)
    assert_verdict(parse_smartctl_json(text, name), health, reason)


def test_smartctl_identity_fields():
    disk = parse_smartctl_json(fixture_text("smartctl/sata-hdd-healthy-seagate-exos-x16.json"))
    assert disk["device"] == "/dev/sda"
    assert disk["model"] == "ST16000NM001G-2KK103"
    assert disk["protocol"] == "ATA"
    assert disk["capacity_bytes"] == 16000900661248
    assert disk["power_on_hours"] == 13114
    assert disk["temperature_c"] == 26
    # packed 48-bit Command_Timeout raw value must never be reported as a count
    assert "Command_Timeout" not in disk["attributes"]


def test_failed_disk_reports_all_driving_attributes():
    disk = parse_smartctl_json(fixture_text("smartctl/sata-hdd-smart-failed-reallocated-now-pending-8.json"))
    assert "SMART overall-health self-assessment failed" in disk["reasons"]
    assert "pending sectors 8 > 0" in disk["reasons"]
    assert disk["attributes"]["Reallocated_Sector_Ct"] == 1975
    assert disk["attributes"]["Current_Pending_Sector"] == 8
    assert disk["exit_status"] == 216


def test_exit64_is_decoded_but_not_a_failure():
    disk = parse_smartctl_json(fixture_text("smartctl/sata-hdd-error-log-entries-exit64.json"))
    assert disk["exit_status"] == 64
    assert disk["exit_flags"] == ["device error log contains records of errors"]
    strict = parse_smartctl_json(
        fixture_text("smartctl/sata-hdd-error-log-entries-exit64.json"),
        thresholds={"error_log_warning": True},
    )
    assert strict["health"] == "warning"


def test_megaraid_rc4_still_parsed():
    disk = parse_smartctl_json(fixture_text("smartctl/sata-hdd-megaraid-healthy-wd4000fyyx.json"))
    assert disk["exit_status"] == 4
    assert disk["type"] == "sat+megaraid,0"
    assert disk["health"] == "ok"


def test_wear_fields_and_threshold_override():
    nvme = parse_smartctl_json(fixture_text("smartctl/nvme-wear-75pct-used-intel-p4510.json"))
    assert nvme["percentage_used"] == 75
    stricter = parse_smartctl_json(
        fixture_text("smartctl/nvme-wear-75pct-used-intel-p4510.json"),
        thresholds={"percentage_used_warning": 70},
    )
    assert stricter["health"] == "warning"
    assert "endurance used 75% >= 70%" in stricter["reasons"]
    ssd = parse_smartctl_json(fixture_text("smartctl/sata-ssd-healthy-samsung-pm883.json"))
    assert ssd["percentage_used"] == 1  # Wear_Leveling_Count normalized 99
    assert "Exception_Mode_Status" not in ssd["attributes"]  # Samsung id 202 is not a wear indicator


def test_reallocated_threshold_override():
    disk = parse_smartctl_json(
        fixture_text("smartctl/sata-hdd-reallocated-sectors-304.json"),
        thresholds={"reallocated_warning": 500},
    )
    assert disk["health"] == "ok"


@pytest.mark.parametrize(
    ("rc", "flags", "usable"),
    [
        (0, [], True),
        (2, ["device open failed, device did not return IDENTIFY data or is in a low-power mode"], False),
        (1, ["command line did not parse"], False),
        (4, ["some SMART or ATA command to the disk failed, or there was a checksum error"], True),
        (64, ["device error log contains records of errors"], True),
    ],
)
def test_decode_exit_status(rc, flags, usable):
    decoded = decode_exit_status(rc)
    assert decoded == {"rc": rc, "flags": flags, "usable": usable}


def test_decode_exit_status_216():
    decoded = decode_exit_status(216)
    assert decoded["usable"]
    assert len(decoded["flags"]) == 4
    assert "SMART status check returned 'DISK FAILING'" in decoded["flags"]


def test_rc_argument_used_when_json_has_no_exit_status():
    doc = json.loads(fixture_text("smartctl/sata-hdd-healthy-seagate-exos-x16.json"))
    del doc["smartctl"]["exit_status"]
    disk = parse_smartctl_json(json.dumps(doc), "x.json", rc=8)
    assert disk["health"] == "critical"
    assert "DISK FAILING" in disk["reasons"][0]


def test_garbage_raises_parse_error_with_line():
    with pytest.raises(ParseError) as info:
        parse_smartctl_json('{\n  "smartctl": {\n    "version": [7, 3\n}', "broken.json")
    assert info.value.tool == "smartctl"
    assert info.value.source == "broken.json"
    assert info.value.line == 4
    assert "smartctl output in broken.json line 4" in str(info.value)


def test_json_that_is_not_smartctl_is_rejected():
    with pytest.raises(ParseError, match="not smartctl --json output"):
        parse_smartctl_json('{"Controllers": []}', "storcli.json")


def test_parse_scan():
    text = json.dumps(
        {
            "devices": [
                {"name": "/dev/sda", "info_name": "/dev/sda [SAT]", "type": "sat", "protocol": "ATA"},
                {"name": "/dev/bus/0", "type": "megaraid,0", "protocol": "SCSI"},
                {"name": "/dev/sdz", "type": "scsi", "protocol": "SCSI", "open_error": "No such device"},
            ]
        }
    )
    devices = parse_scan(text)
    assert [d["type"] for d in devices] == ["sat", "megaraid,0", "scsi"]
    assert devices[2]["open_error"] == "No such device"


# nvme-cli
NVME_SMART_LOG = {
    "smart-log-nvme-cli-v2.3-healthy.json": (2, 37),
    "smart-log-nvme-cli-v2.11-healthy-critical-warning-object.json": (30, 51),
}


@pytest.mark.parametrize("name", sorted(NVME_SMART_LOG))
def test_nvme_cli_smart_log(name):
    used, celsius = NVME_SMART_LOG[name]
    disk = parse_smart_log(fixture_text("nvme/" + name), name)
    assert disk["health"] == "ok"
    assert disk["reasons"] == []
    assert disk["percentage_used"] == used
    assert disk["temperature_c"] == celsius  # Kelvin converted
    assert disk["attributes"]["critical_warning"] == 0


def test_nvme_cli_critical_warning_object_is_judged():
    doc = json.loads(fixture_text("nvme/smart-log-nvme-cli-v2.11-healthy-critical-warning-object.json"))
    doc["critical_warning"]["value"] = 1
    doc["avail_spare"] = 3
    disk = parse_smart_log(json.dumps(doc), "edited.json")
    assert disk["health"] == "critical"
    assert "NVMe critical_warning 0x01: available spare below threshold" in disk["reasons"]
    assert "available spare 3% < threshold 5%" in disk["reasons"]


@pytest.mark.parametrize(
    ("name", "count"), [("list-nvme-cli-v2.3.json", 2), ("list-nvme-cli-v2.11-subsystems.json", 3)]
)
def test_nvme_list_both_schemas(name, count):
    devices = parse_list(fixture_text("nvme/" + name), name)
    assert len(devices) == count
    assert devices[0]["name"].startswith("/dev/nvme")
    assert devices[0]["model"] == "Seagate FireCuda 530 ZP4000GM30023"
    assert devices[0]["size_bytes"] == 4000787030016


def test_every_nvme_fixture_is_covered():
    covered = set(NVME_SMART_LOG) | {"list-nvme-cli-v2.3.json", "list-nvme-cli-v2.11-subsystems.json"}
    assert covered == set(fixture_names("nvme"))


# --- smartctl -a / -x text: the same evaluator as the JSON -------------------------------------------------
# Layout of smartctl 7.x output for a SAS drive (line formats as smartctl prints them; values chosen for the
# test). The peer suites and the lab captures cover ATA and NVMe with real output.
SAS_TEXT = """smartctl 7.3 2022-02-28 r5338 [x86_64-linux-6.1.0-18-amd64] (local build)
Copyright (C) 2002-22, Bruce Allen, Christian Franke, www.smartmontools.org

=== START OF INFORMATION SECTION ===
Vendor:               SEAGATE
Product:              ST8000NM0075
Revision:             E004
User Capacity:        8,001,563,222,016 bytes [8.00 TB]
Serial number:        ZA1ABCDE
Transport protocol:   SAS (SPL-3)

=== START OF READ SMART DATA SECTION ===
SMART Health Status: OK

Current Drive Temperature:     34 C
Drive Trip Temperature:        65 C

Accumulated power on time, hours:minutes 55120:47
Elements in grown defect list: 4

Error counter log:
           Errors Corrected by           Total   Correction     Gigabytes    Total
               ECC          rereads/    errors   algorithm      processed    uncorrected
           fast | delayed   rewrites  corrected  invocations   [10^9 bytes]  errors
read:          0      941       941       941       1090      47812,883           0
write:         0       86        86        86        113       8569,762           2
verify:        0       15        15        15         17        399,322           0
"""


def test_smartctl_text_sas():
    disk = parse_smartctl_text(SAS_TEXT, "sdb.txt")
    assert disk["protocol"] == "SCSI"
    assert (disk["model"], disk["serial"], disk["firmware"]) == ("SEAGATE ST8000NM0075", "ZA1ABCDE", "E004")
    assert (disk["capacity_bytes"], disk["power_on_hours"], disk["temperature_c"]) == (
        8001563222016,
        55120,
        34,
    )
    assert disk["health"] == "warning"
    assert disk["reasons"] == ["grown defect list 4 > 0", "uncorrected write errors 2 > 0"]


def test_smartctl_text_failed_health_is_critical():
    failed = SAS_TEXT.replace("SMART Health Status: OK", "SMART Health Status: FIRMWARE IMPENDING FAILURE")
    assert parse_smartctl_text(failed, "sdb.txt")["health"] == "critical"


def test_smartctl_text_ata_self_test_and_error_log():
    """The probe's smartctl -x text of the failed Exos (tests/fixtures/bad-inputs/smart-text.txt)."""
    disk = parse_smartctl_text(fixture_text("bad-inputs/smart-text.txt"), "smart-text.txt")
    assert disk["health"] == "critical"
    assert disk["model"] == "ST16000NM001G-2KK103" and disk["capacity_bytes"] == 16000900661248
    assert "attribute 5 Reallocated_Sector_Ct failing now (normalized 1 <= threshold 10)" in disk["reasons"]


def test_smartctl_text_open_failure_is_unknown():
    text = (
        "smartctl 7.3 2022-02-28 r5338 [x86_64-linux-6.1.0-18-amd64] (local build)\n"
        "Copyright (C) 2002-22, Bruce Allen, Christian Franke, www.smartmontools.org\n\n"
        "Smartctl open device: /dev/sdz failed: No such device\n"
    )
    disk = parse_smartctl_text(text, "sdz.txt")
    assert disk["health"] == "unknown"
    assert disk["reasons"] == [
        "smartctl returned no device data (exit status 2): "
        "Smartctl open device: /dev/sdz failed: No such device"
    ]


def test_smartctl_text_refuses_other_text():
    with pytest.raises(ParseError, match="not smartctl output: no 'smartctl X.Y' banner"):
        parse_smartctl_text(fixture_text("mdstat/raid5-healthy-with-spares.txt"), "mdstat.txt")
