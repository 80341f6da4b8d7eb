"""Agree with the peers' own test suites (issue #8 item 6).

The inputs are real tool output that check_raid, scrutiny, telegraf, netdata and Linuxfabrik's monitoring
plugins ship as test data; they are read where they are, never copied into rackwright (check_raid's data is
GPL v2 only). The folder is ``$RACKWRIGHT_PEER_SUITES`` or ``<repository>/../shared/peer-suites``; without it
these tests are skipped (CI has it). Its SOURCES.md names each peer's repository and commit.

Each case says what the peer's own test asserts for the file and what rackwright answers. Where they
differ, the case carries the reason the peer is not followed (``why``): rackwright is stricter where an
established checker is (check_smart, scrutiny, FreeIPMI), or the peer rates something that is not a fault.
"""

import os
import pathlib

import pytest
from conftest import ROOT, assert_verdict

from ansible_collections.rackwright.infra.plugins.modules import (
    bmc_health,
    disk_health,
    gpu_health,
    raid_health,
)

PEERS = pathlib.Path(os.environ.get("RACKWRIGHT_PEER_SUITES") or ROOT.parent / "shared" / "peer-suites")
pytestmark = pytest.mark.skipif(
    not (PEERS / "SOURCES.md").is_file(),
    reason=f"peer suites not found at {PEERS} (set RACKWRIGHT_PEER_SUITES to the folder)",
)


def peer(*names):
    return [str(PEERS / name) for name in names]


def verdict(run_module, module, names, **args):
    result = run_module(module, dict(args, from_files=peer(*names)))
    assert result.get("failed") is not True, result.get("msg")
    return result


def judged(run_module, module, names, health, reason):
    """The module's result on the peer files NAMES, once it is checked to be HEALTH with REASON."""
    result = verdict(run_module, module, names)
    assert_verdict(result, health, reason)
    return result


def has(result, text):
    return any(text in reason for reason in result["reasons"])


# --- check_raid t/check_mdstat.t (default options: resync_status WARNING, check_status OK) -------------
# (file, check_raid status, rackwright health, a reason rackwright must give)
CHECK_RAID = [
    ("centos6.2", "OK", "ok", None),
    ("failed", "CRITICAL", "critical", "md0: degraded: 1 of 3 members missing [U_U]"),
    ("linear", "OK", "ok", None),
    ("raid0", "OK", "ok", None),
    ("resync", "RESYNC", "warning", "md2: resync 11.2% in progress"),
    ("pr28_0", "RESYNC", "warning", "md0: rebuilding 0.4% in progress"),
    ("pr28_1", "CRITICAL", "critical", "md1: degraded: 1 of 2 members missing [_U]"),
    # The known miss: md1's replacement (sda2[2]) is in, its recovery only waits behind md0's rebuild.
    (
        "pr28_2",
        "RESYNC",
        "warning",
        "md1: resync delayed behind another array's rebuild, replacement already",
    ),
    ("pr24", "OK", "ok", None),  # a running check (scrub) is ok with check_raid's default check_status
    ("pr77", "OK", "ok", None),  # resync=DELAYED during a check is check=DELAYED
    ("issue34", "OK", "ok", None),  # inactive IMSM container is normal
    ("issue43-reshape", "WARNING", "warning", "md0: reshape 48.4% in progress"),
    ("issue43-recovery", "WARNING", "warning", "md0: rebuilding 19.6% in progress"),
    ("issue43-rebuilt", "CRITICAL", "critical", "md0: degraded: 1 of 6 members missing [U_UUUU]"),
    ("issue43-readd", "WARNING", "warning", "md0: rebuilding 0.2% in progress"),
    ("issue64", "OK", "ok", None),
    ("issue164", "WARNING", "warning", "md1: member sdh1 faulty"),  # check_raid: "hot-spare failure"
    ("pr185_1", "OK", "ok", None),
]
STATUS = {"OK": "ok", "WARNING": "warning", "RESYNC": "warning", "CRITICAL": "critical"}


@pytest.mark.parametrize(("name", "status", "health", "reason"), CHECK_RAID)
def test_check_raid_mdstat(run_module, name, status, health, reason):
    assert STATUS[status] == health
    judged(run_module, raid_health, [f"checkraid-mdstat-{name}.txt"], health, reason)


def test_telegraf_mdstat_failed_disk(run_module):
    """telegraf asserts the counters (4 disks, 3 active, 1 down); rackwright reads the same and calls it
    critical (a RAID5 without redundancy)."""
    result = verdict(run_module, raid_health, ["telegraf-mdstat-failed-disk.txt"])
    array = result["arrays"][0]
    assert (array["raid_disks"], array["active_disks"]) == (4, 3)
    assert result["health"] == "critical"
    assert has(result, "md0: degraded: 1 of 4 members missing [UUU_]")


# --- Linuxfabrik disk-smart unit-test/run: 25 real smartctl -a/-x text outputs ---------------------------
# LF gives two verdicts: default (SMART issues only) and --full (also GSmartControl "notices" such as a
# non-zero reallocated count). rackwright warns on some of those notices (raw reallocated/pending/offline
# uncorrectable > 0, as check_smart does), so its verdict must lie between LF's default and --full.
# (slug, LF default, LF --full, rackwright health, a reason rackwright must give, why it differs from both)
LF_SMART = [
    (
        "st32000542as-health-failed",
        "crit",
        "crit",
        "critical",
        "SMART overall-health self-assessment failed",
        None,
    ),
    (
        "st12000vn0007-health-failed",
        "crit",
        "crit",
        "critical",
        "attribute 200 Multi_Zone_Error_Rate failing",
        None,
    ),
    ("hds721010cla332-warn-attrs", "warn", "warn", "warning", "reallocated sectors 1 > 0", None),
    ("sk-hynix-sc311-512gb", "ok", "warn", "warning", "endurance used 98% >= 80%", None),
    ("st12000vn0007-v1", "ok", "warn", "warning", "pending sectors 8 > 0", None),
    ("st12000vn0007-v2", "ok", "warn", "warning", "offline uncorrectable sectors 8 > 0", None),
    ("hds721010cla332-v1", "ok", "warn", "warning", "reallocated sectors 2 > 0", None),
    ("hds721010cla332-v2", "ok", "warn", "ok", None, None),
    ("wd1003fbyz", "ok", "warn", "ok", None, None),
    ("wd101kryz-v1", "ok", "warn", "ok", None, None),
    ("wd101kryz-v2", "ok", "warn", "ok", None, None),
    ("wd20earx-wdred", "ok", "warn", "ok", None, None),
    ("toshiba-dt01aca100", "ok", "warn", "ok", None, None),
    ("samsung-sm841-256gb", "ok", "ok", "ok", None, None),
    ("nvme-3l2qexf7", "ok", "ok", "ok", None, None),
    ("micron-mtfddak256mam", "ok", "ok", "ok", None, None),
    ("wd40efrx-v1", "ok", "ok", "ok", None, None),
    ("crucial-mx500-ct500", "ok", "ok", "ok", None, None),
    ("st2000dm006-v1", "ok", "ok", "ok", None, None),
    ("st2000dm006-v2", "ok", "ok", "ok", None, None),
    ("unknown-10604106", "ok", "ok", "ok", None, None),
    ("sandisk-ssda240g", "ok", "ok", "ok", None, None),
    (
        "wd40efrx-crit-attrs",
        "crit",
        "crit",
        "ok",
        None,
        "LF rates any UNC entry in the ATA error log critical. The log is a lifetime log; this disk passes "
        "its "
        "self-assessment with 0 reallocated, 0 pending and 0 offline-uncorrectable sectors, so the sector "
        "read fine again. scrutiny and smartctl_exporter ignore the error log, check_smart warns on it; "
        "rackwright follows its JSON rule (exit bit 6 counts only with thresholds.error_log_warning, "
        "tested below) so text and JSON give the same verdict.",
    ),
    (
        "nvme-2b2qexe7",
        "ok",
        "ok",
        "warning",
        "media errors 71 > 0",
        "LF does not read NVMe media errors. 71 Media and Data Integrity Errors are unrecovered data "
        "errors: scrutiny fails a drive for media_errors > 0 and check_smart warns; rackwright warns.",
    ),
    (
        "st14000ne0008-ironwolf",
        "ok",
        "ok",
        "unknown",
        "smartctl said: Read SMART Data failed: SAT command failed",
        "LF reads only the overall PASSED line. The attribute table could not be read (the bridge "
        "failed the command), so wear, pending and reallocated sectors are unknown: rackwright says so "
        "instead of vouching for the disk on the one-bit self-assessment.",
    ),
]
ORDER = ("ok", "warning", "critical")
LF_STATE = {"ok": "ok", "warn": "warning", "crit": "critical"}


@pytest.mark.parametrize(("slug", "default", "full", "health", "reason", "why"), LF_SMART)
def test_linuxfabrik_smartctl_text(run_module, slug, default, full, health, reason, why):
    result = judged(run_module, disk_health, [f"lf-smartctl-v6-text-{slug}.txt"], health, reason)
    disk = result["disks"][0]
    assert disk["model"] and disk["serial"], "identity read from the text"
    low, high = ORDER.index(LF_STATE[default]), ORDER.index(LF_STATE[full])
    within = health in ORDER and low <= ORDER.index(health) <= high
    assert within or why, (
        f"{slug}: rackwright {health} outside LF {default}..{full} without a documented reason"
    )
    assert not (within and why), "a documented deviation that is not one"


def test_linuxfabrik_error_log_rule_is_the_json_rule(run_module):
    """With thresholds.error_log_warning the logged UNC of wd40efrx-crit-attrs warns, as exit bit 6 does in
    JSON; the packed numbers of the text are read like the JSON ones."""
    result = verdict(
        run_module,
        disk_health,
        ["lf-smartctl-v6-text-wd40efrx-crit-attrs.txt"],
        thresholds={"error_log_warning": True},
    )
    assert result["health"] == "warning"
    assert has(result, "device error log contains errors")
    disk = result["disks"][0]
    assert (disk["capacity_bytes"], disk["power_on_hours"], disk["temperature_c"]) == (
        4000787030016,
        8804,
        24,
    )


def test_linuxfabrik_nvme_text_fields(run_module):
    disk = verdict(run_module, disk_health, ["lf-smartctl-v6-text-nvme-2b2qexe7.txt"])["disks"][0]
    assert disk["protocol"] == "NVMe"
    assert disk["attributes"]["media_errors"] == 71
    assert (disk["temperature_c"], disk["power_on_hours"], disk["percentage_used"]) == (37, 11044, 0)


# --- Linuxfabrik ipmi-sel / ipmi-sensor unit-test/run --------------------------------------------------
# LF warns on every SEL entry that is not ignored; rackwright judges what the entry says.
LF_SEL = [
    (
        "chassis-intrusion",
        "warn",
        "warning",
        "General Chassis intrusion () (deasserted by SEL d 08/26/2019 13:57:02): confirm the case was opened",
        None,
    ),
    ("empty-sel", "ok", "ok", None, None),
    (
        "acpi-soft-off",
        "warn",
        "critical",
        "SEL 131 10/19/2020 14:45:09: Power Supply Power Supply 2 Failure detected (asserted)",
        "LF warns on any SEL entry. Both supplies log 'Failure detected' and 'AC lost' that were never "
        "deasserted; FreeIPMI's SEL state for a power supply failure is Critical, so is rackwright's. The "
        "ACPI soft-off entries themselves are power states, not faults.",
    ),
    (
        "sel-log-cleared",
        "warn",
        "ok",
        None,
        "LF warns on any SEL entry (its own test needs --ignore for this line). 'Log area reset/cleared' is "
        "housekeeping: FreeIPMI rates it Nominal and rackwright does not page anyone for it.",
    ),
]


@pytest.mark.parametrize(("name", "lf", "health", "reason", "why"), LF_SEL)
def test_linuxfabrik_sel(run_module, name, lf, health, reason, why):
    judged(run_module, bmc_health, [f"lf-ipmitool-sel-elist-{name}.txt"], health, reason)
    assert (LF_STATE[lf] == health) != bool(why)


def test_chassis_intrusion_never_deasserted_is_critical(run_module, tmp_path):
    """The LF log without its deassertion (entry d): FreeIPMI rates an asserted intrusion Critical."""
    text = (PEERS / "lf-ipmitool-sel-elist-chassis-intrusion.txt").read_text()
    cut = tmp_path / "sel-intrusion-open.txt"
    cut.write_text("".join(line for line in text.splitlines(True) if not line.strip().startswith("d |")))
    result = run_module(bmc_health, {"from_files": [str(cut)]})
    assert result["health"] == "critical"
    assert has(result, "SEL 4 03/16/2019 07:06:24: Physical Security Chassis Intru General Chassis intrusion")
    # the power supply failure in the same log was deasserted twice: it is history, not a fault
    assert not has(result, "Failure detected")


@pytest.mark.parametrize(
    ("name", "health", "count"),
    [
        ("twentyfive-sensors-ok", "ok", 25),
        ("thirtyone-sensors-ok", "ok", 31),
        ("thirtyeight-sensors-ok", "ok", 38),
        ("thirtyeight-sensors-with-critical", "critical", 38),
    ],
)
def test_linuxfabrik_ipmitool_sensor(run_module, name, health, count):
    result = verdict(run_module, bmc_health, [f"lf-ipmitool-sensor-{name}.txt"])
    assert result["health"] == health, result["reasons"]
    # LF's "Checked N sensors" counts the sensors with a numeric reading (not na/ns, not discrete)
    assert sum(1 for s in result["sensors"] if s["present"] and s["reading"] is not None) == count
    if health == "critical":
        assert has(result, "FAN1: status nr (reading 0.0 RPM)")


# --- Linuxfabrik redfish-sensors / redfish-systems (one scenario = the answers of one BMC) ----------------
LF_REDFISH = [
    (
        "sensors-healthy-chassis",
        ["chassises", "chassis", "sensors", "sensor-0", "sensor-1", "thermal"],
        "ok",
        None,
    ),
    # a sensor with a zero-width min/max range (255/255 placeholder) must not warn (LF issue #1211)
    ("sensors-zero-range-chassis", ["chassises", "chassis", "sensors", "sensor-0", "thermal"], "ok", None),
    (
        "sensors-legacy-temp-crit",
        ["chassises", "chassis", "thermal", "power"],
        "critical",
        "CPU1 Temp reading 55 C >= threshold 48",
    ),
    ("systems-healthy-server", ["systems", "system"], "ok", None),
    ("systems-inlet-temp-threshold", ["systems", "system"], "warning", "health rollup Warning"),
    ("systems-hardware-fault", ["systems", "system"], "critical", "health rollup Critical"),
]


@pytest.mark.parametrize(("scenario", "parts", "health", "reason"), LF_REDFISH)
def test_linuxfabrik_redfish(run_module, scenario, parts, health, reason):
    judged(run_module, bmc_health, [f"lf-redfish-{scenario}-{part}.json" for part in parts], health, reason)


# --- netdata hpssa collector_test.go: per-component ok/nok metrics --------------------------------------
@pytest.mark.parametrize("name", ["P212_P410i", "P408i-a"])
def test_netdata_hpssa_all_ok(run_module, name):
    result = verdict(run_module, raid_health, [f"netdata-hpssa-ssacli-{name}.txt"])
    assert result["health"] == "ok", result["reasons"]
    assert result["controllers"] and result["arrays"] and result["drives"]


def test_netdata_hpssa_p400i_cache_and_battery_not_ok(run_module):
    """netdata: cntrl_P400i_slot_0_cache_status_nok 1, cache_battery_status_nok 1, every other status ok."""
    result = verdict(run_module, raid_health, ["netdata-hpssa-ssacli-P400i-unassigned.txt"])
    assert result["health"] == "warning"
    assert sorted(result["reasons"]) == [
        "Smart Array P400i in Slot 0 (Embedded): battery/capacitor status Failed (Replace Batteries)",
        "Smart Array P400i in Slot 0 (Embedded): cache status Temporarily Disabled",
    ]
    assert all(item["health"] == "ok" for item in result["arrays"] + result["drives"])


# --- scrutiny measurements/smart_test.go: device status -----------------------------------------------
SCRUTINY = [
    ("smart-ata.json", "passed", "ok", None, None),
    ("smart-nvme.json", "passed", "ok", None, None),
    ("smart-nvme2.json", "passed", "ok", None, None),
    (
        "smart-fail2.json",
        "failed smart+scrutiny",
        "critical",
        "SMART overall-health self-assessment failed",
        None,
    ),
    (
        "smart-fail.json",
        "failed smart",
        "unknown",
        "smartctl returned no device data (exit status 2): Smartctl open device: /dev/sda failed",
        "scrutiny files a device smartctl could not open as FailedSmart; rackwright cannot judge a disk it "
        "could not read and says unknown (neither calls it ok).",
    ),
    (
        "smart-nvme-failed.json",
        "failed scrutiny",
        "warning",
        "media errors 7 > 0",
        "scrutiny fails a drive for any media error; check_smart and rackwright warn (the self-assessment "
        "passes and spare is full): not ok in both.",
    ),
    (
        "smart-ata-failed-scrutiny.json",
        "failed scrutiny",
        "ok",
        None,
        "scrutiny fails this SSD on 108 UDMA CRC errors (attribute 199) from its annual-failure-rate "
        "table. CRC errors count link (cable, backplane) faults, not media faults: check_smart, "
        "node-exporter's smartmon and rackwright do not fail the disk for them (rackwright reports the raw "
        "count in attributes).",
    ),
    (
        "smart-scsi.json",
        "passed",
        "warning",
        "grown defect list 56 > 0",
        "scrutiny's test asserts Passed; the drive has grown 56 defects since it shipped, which check_smart "
        "and rackwright warn on (thresholds.grown_defects_warning).",
    ),
]


@pytest.mark.parametrize(("name", "scrutiny", "health", "reason", "why"), SCRUTINY)
def test_scrutiny(run_module, name, scrutiny, health, reason, why):
    result = judged(run_module, disk_health, [f"scrutiny-{name}"], health, reason)
    assert (scrutiny == "passed") == (health == "ok") or why, "a disagreement needs its reason"
    if name == "smart-ata-failed-scrutiny.json":
        assert result["disks"][0]["attributes"]["CRC_Error_Count"] == 108


# --- telegraf / netdata: parsed fields (health_ok is smart_status.passed), no verdict of their own --------
SMART_FIELDS = [
    # file, telegraf/netdata fields rackwright must read the same: (temperature, power-on hours, capacity)
    ("telegraf-smartctl-megaraid.json", (25, 44316, 6001175126016)),
    ("telegraf-smartctl-nvme.json", (48, 8733, None)),
    ("telegraf-smartctl-scsi_extended.json", (24, 34222, None)),
    ("telegraf-smartctl-usb.json", (None, None, 15693664256)),  # telegraf: temperature=0 (no sensor)
    ("netdata-smartctl-sat-hdd-sda.json", (49, 8244, None)),
    ("netdata-smartctl-sat-ssd-sdc.json", (27, 8244, None)),
    ("netdata-smartctl-scsi-sda.json", (34, 1641, None)),
    ("netdata-nvme-smart-log-v2.11.json", (None, None, None)),
    ("netdata-nvme-smart-log-v2.3-string.json", (None, None, None)),
]


@pytest.mark.parametrize(("name", "fields"), SMART_FIELDS)
def test_telegraf_netdata_smart_fields(run_module, name, fields):
    result = verdict(run_module, disk_health, [name])
    disk = result["disks"][0]
    assert result["health"] == "ok", result["reasons"]  # every one has health_ok=true / critical_warning 0
    for key, wanted in zip(("temperature_c", "power_on_hours", "capacity_bytes"), fields, strict=True):
        if wanted is not None:
            assert disk[key] == wanted, key


@pytest.mark.parametrize(
    ("name", "part"),
    [
        ("netdata-storcli-megaraid-controllers-info.json", "controllers"),
        ("netdata-storcli-megaraid-drives-info.json", "drives"),
        ("netdata-storcli-mpt3sas-controllers-info.json", "controllers"),
    ],
)
def test_netdata_storcli_healthy(run_module, name, part):
    """Each netdata capture is read for what it holds: controllers, or drives."""
    result = verdict(run_module, raid_health, [name])
    assert result["health"] == "ok", result["reasons"]
    assert result[part]


@pytest.mark.parametrize(
    "name",
    [
        "telegraf-nvidia-smi-a100-sxm4-v12.xml",
        "telegraf-nvidia-smi-a10g.xml",
        "telegraf-nvidia-smi-gtx-1660-ti.xml",
        "telegraf-nvidia-smi-rtx-4000-sff-ada-v13.xml",
        "telegraf-nvidia-smi-tesla-t4.xml",
    ],
)
def test_telegraf_nvidia_smi(run_module, name):
    result = verdict(run_module, gpu_health, [name])
    assert result["health"] == "ok", result["reasons"]
    assert result["gpus"] and all(gpu["name"] and gpu["temperature_c"] is not None for gpu in result["gpus"])


def test_telegraf_ipmitool_sdr(run_module):
    """telegraf sets status=0 for the 'ns' rows (no reading); rackwright lists them as present: false and
    leaves them out of the verdict, so the healthy rest is ok."""
    for name in ("telegraf-ipmitool-sdr-v1.txt", "telegraf-ipmitool-sdr-elist-v2.txt"):
        result = verdict(run_module, bmc_health, [name])
        assert result["health"] == "ok", result["reasons"]
        absent = [s for s in result["sensors"] if not s["present"]]
        assert absent and all(s["status"] == "ns" for s in absent)
