"""Parsers on output captured from the lab's emulated hardware (scripts/capture_lab_fixtures.py).

QEMU's AHCI and NVMe devices, OpenIPMI's ipmi_sim behind ipmi-bmc-extern and the guest kernel's md
produced these; each file's device state is in its name and in tests/fixtures/SOURCES.md.
"""

import pytest
from conftest import assert_worst, fixture_names, fixture_text

from ansible_collections.rackwright.infra.plugins.module_utils.rackwright_ipmitool import parse_ipmi
from ansible_collections.rackwright.infra.plugins.module_utils.rackwright_mdstat import (
    parse_mdadm_detail,
    parse_mdstat,
)
from ansible_collections.rackwright.infra.plugins.module_utils.rackwright_smartctl import (
    parse_smartctl_json,
    parse_smartctl_text,
)


def smartctl(name):
    return parse_smartctl_json(fixture_text(f"lab/{name}"), name)


def ipmi(name):
    """The sensors and events of a saved ipmitool output: what its verdict is made of."""
    parsed = parse_ipmi(fixture_text(f"lab/{name}"), name)
    return parsed["sensors"] + parsed["events"]


# smartctl -x / -a text captured at the same moment as a JSON twin of the same device
TEXT_PAIRS = {
    "sata-healthy": ("x.txt", "a.txt", "twin.json"),
    "nvme-healthy": ("x.txt", "a.txt", "twin.json"),
    "nvme-critical-warning": ("x.txt", "twin.json"),
}


def test_every_lab_fixture_is_covered():
    covered = {
        "smartctl-qemu-sata-healthy.json",
        "smartctl-qemu-nvme-healthy.json",
        "smartctl-qemu-nvme-critical-warning.json",
        "ipmitool-sdr-elist-ipmi-sim-healthy.txt",
        "ipmitool-sdr-elist-ipmi-sim-cpu-95c.txt",
        "ipmitool-sensor-ipmi-sim-cpu-95c.txt",
        "ipmitool-sel-elist-ipmi-sim-cpu-95c.txt",
        "ipmitool-sel-elist-ipmi-sim-psu-failure.txt",
        "mdstat-qemu-raid1-member-failed.txt",
        "mdadm-detail-qemu-raid1-member-failed.txt",
    } | {f"smartctl-qemu-{tag}-{form}" for tag, forms in TEXT_PAIRS.items() for form in forms}
    assert sorted(covered) == fixture_names("lab")


@pytest.mark.parametrize(
    ("name", "serial", "protocol"),
    [
        ("smartctl-qemu-sata-healthy.json", "SATA-S1-0003", "ATA"),
        ("smartctl-qemu-nvme-healthy.json", "NVME-N1-0004", "NVMe"),
    ],
)
def test_emulated_disks_are_healthy(name, serial, protocol):
    disk = smartctl(name)
    assert (disk["health"], disk["reasons"], disk["serial"], disk["protocol"]) == ("ok", [], serial, protocol)


def test_emulated_nvme_critical_warning_is_critical():
    disk = smartctl("smartctl-qemu-nvme-critical-warning.json")
    assert disk["health"] == "critical"
    assert "NVMe critical_warning 0x04: NVM subsystem reliability degraded" in disk["reasons"]


@pytest.mark.parametrize(
    ("name", "health", "reason"),
    [
        ("ipmitool-sdr-elist-ipmi-sim-healthy.txt", "ok", None),
        ("ipmitool-sdr-elist-ipmi-sim-cpu-95c.txt", "critical", "CPU Temp"),
        ("ipmitool-sensor-ipmi-sim-cpu-95c.txt", "critical", "CPU Temp"),
        (
            "ipmitool-sel-elist-ipmi-sim-cpu-95c.txt",
            "critical",
            "Upper Critical going high, Reading 95 > Threshold 90",
        ),
        ("ipmitool-sel-elist-ipmi-sim-psu-failure.txt", "critical", "PSU1 Status Failure detected"),
    ],
)
def test_ipmi_sim_verdicts(name, health, reason):
    assert_worst(ipmi(name), health, reason)


def test_md_member_failed_in_a_real_kernel():
    arrays = {
        a["name"]: a for a in parse_mdstat(fixture_text("lab/mdstat-qemu-raid1-member-failed.txt"), "x")
    }
    failed, healthy = arrays["md126"], arrays["md127"]
    assert (failed["state"], failed["health"]) == ("degraded", "critical")
    assert any("loop7" in r and "faulty" in r for r in failed["reasons"]), failed["reasons"]
    assert (healthy["state"], healthy["health"]) == ("optimal", "ok")
    detail = parse_mdadm_detail(fixture_text("lab/mdadm-detail-qemu-raid1-member-failed.txt"), "x")
    assert detail["health"] == "critical" and detail["state"] == "degraded"


@pytest.mark.parametrize(
    ("tag", "form"),
    [(tag, form) for tag, forms in TEXT_PAIRS.items() for form in forms if form.endswith(".txt")],
)
def test_smartctl_text_and_json_of_one_disk_agree(tag, form):
    """One parser per tool: smartctl's text and JSON of the same QEMU disk give the same disk entry."""
    twin = smartctl(f"smartctl-qemu-{tag}-twin.json")
    text = parse_smartctl_text(fixture_text(f"lab/smartctl-qemu-{tag}-{form}"), form)
    for key in (
        "protocol",
        "model",
        "serial",
        "firmware",
        "capacity_bytes",
        "power_on_hours",
        "temperature_c",
        "smart_passed",
        "percentage_used",
        "health",
        "reasons",
    ):
        assert text[key] == twin[key], key
    assert text["health"] == ("critical" if tag == "nvme-critical-warning" else "ok")
