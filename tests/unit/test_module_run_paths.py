"""The modules' live run paths in-process: missing tools give health unknown (never a failure), the
smartctl calls run through one thread pool, and parse errors become fail_json."""

import json

import pytest
from ansible.module_utils.basic import AnsibleModule
from conftest import fixture_text

from ansible_collections.rackwright.infra.plugins.module_utils import rackwright_check_raid
from ansible_collections.rackwright.infra.plugins.modules import (
    bmc_health,
    disk_health,
    gpu_health,
    hw_inventory,
    raid_health,
)


@pytest.fixture
def no_tools(monkeypatch):
    monkeypatch.setattr(AnsibleModule, "get_bin_path", lambda self, *args, **kwargs: None)


@pytest.mark.parametrize(
    ("module", "args", "reason"),
    [
        (disk_health, {}, "smartctl not found in PATH: install smartmontools"),
        (bmc_health, {}, "ipmitool not found in PATH: install ipmitool"),
        (gpu_health, {}, "nvidia-smi not found in PATH: no NVIDIA driver installed"),
        (hw_inventory, {}, "dmidecode not found in PATH: install dmidecode"),
        (raid_health, {"format": "storcli"}, "none of storcli64, storcli, perccli64, perccli found in PATH"),
        (raid_health, {"format": "ssacli"}, "none of ssacli, hpssacli, hpacucli found in PATH"),
    ],
)
def test_missing_tool_gives_unknown(no_tools, run_module, module, args, reason):
    result = run_module(module, args)
    assert result.get("failed") is not True
    assert result["changed"] is False
    assert result["health"] == "unknown"
    assert any(r.startswith(reason) for r in result["reasons"]), result["reasons"]


def test_expect_gpus_makes_missing_tool_critical(no_tools, run_module):
    result = run_module(gpu_health, {"expect_gpus": True})
    assert result["health"] == "critical"


def test_disk_health_live_path_runs_every_disk(monkeypatch, run_module):
    outputs = {
        "/dev/sda": (0, fixture_text("smartctl/sata-hdd-healthy-seagate-exos-x16.json")),
        "/dev/sdb": (0, fixture_text("smartctl/sata-hdd-reallocated-sectors-304.json")),
        "/dev/nvme0": (8, fixture_text("smartctl/nvme-critical-warning-16-volatile-backup-failed.json")),
        "/dev/sdc": (2, fixture_text("smartctl/error-open-device-failed-exit2.json")),
    }
    scan = {"devices": [{"name": name, "type": "auto", "protocol": "ATA"} for name in outputs]}
    calls = []

    def fake_run_command(self, args, environ_update=None, **kwargs):
        calls.append((list(args), environ_update))
        if "--scan-open" in args:
            return 0, json.dumps(scan), ""
        rc, text = outputs[args[-1]]
        return rc, text, ""

    monkeypatch.setattr(AnsibleModule, "get_bin_path", lambda self, name, *a, **k: "/usr/sbin/" + name)
    monkeypatch.setattr(AnsibleModule, "run_command", fake_run_command)
    result = run_module(disk_health, {"parallel": 4})
    assert result["health"] == "critical"
    assert [d["health"] for d in result["disks"]] == ["ok", "warning", "critical", "unknown"]
    assert "/dev/sdb: reallocated sectors 304 > 0" in result["reasons"]
    assert len(calls) == 5
    assert all(env["LC_ALL"] == "C" for _, env in calls)
    assert ["/usr/sbin/smartctl", "--json", "-x", "-d", "auto", "/dev/sda"] in [c[0] for c in calls]


def test_disk_health_explicit_megaraid_devices(monkeypatch, run_module):
    def fake_run_command(self, args, environ_update=None, **kwargs):
        name = "smartctl/sata-hdd-megaraid-%s.json" % (
            "healthy-wd4000fyyx" if args[-2] == "megaraid,0" else "reallocated-387"
        )
        return 4, fixture_text(name), ""

    monkeypatch.setattr(AnsibleModule, "get_bin_path", lambda self, name, *a, **k: "/usr/sbin/" + name)
    monkeypatch.setattr(AnsibleModule, "run_command", fake_run_command)
    devices = [{"name": "/dev/sda", "type": "megaraid,0"}, {"name": "/dev/sda", "type": "megaraid,1"}]
    result = run_module(disk_health, {"devices": devices, "standby_skip": False})
    assert [d["device"] for d in result["disks"]] == ["/dev/sda [megaraid,0]", "/dev/sda [megaraid,1]"]
    assert result["health"] == "warning"


def test_unparseable_live_output_makes_that_disk_unknown(monkeypatch, run_module):
    monkeypatch.setattr(AnsibleModule, "get_bin_path", lambda self, name, *a, **k: "/usr/sbin/" + name)
    monkeypatch.setattr(AnsibleModule, "run_command", lambda self, args, **kw: (0, "{not json", ""))
    result = run_module(disk_health, {"devices": [{"name": "/dev/sda"}]})
    assert result.get("failed") is not True
    assert result["health"] == "unknown"
    assert result["disks"][0]["device"] == "/dev/sda"
    assert result["reasons"][0].startswith(
        "/dev/sda: smartctl output in smartctl --json -x /dev/sda line 1: invalid JSON"
    )


def test_one_unreadable_disk_does_not_hide_another_disks_failure(monkeypatch, run_module):
    """Probe case disk-live-fake-smartctl: fake0 SMART FAILED, fake1 prints one line of text."""
    failed = fixture_text("smartctl/sata-hdd-smart-failed-reallocated-now-pending-8.json")

    def fake_run_command(self, args, environ_update=None, **kwargs):
        if args[-1] == "/dev/fake0":
            return 8, failed, ""
        return 0, "smartctl: this is not JSON\n", ""

    monkeypatch.setattr(AnsibleModule, "get_bin_path", lambda self, name, *a, **k: "/usr/sbin/" + name)
    monkeypatch.setattr(AnsibleModule, "run_command", fake_run_command)
    result = run_module(disk_health, {"devices": [{"name": "/dev/fake0"}, {"name": "/dev/fake1"}]})
    assert result["health"] == "critical"
    assert [d["health"] for d in result["disks"]] == ["critical", "unknown"]
    assert "/dev/fake0: SMART overall-health self-assessment failed" in result["reasons"]
    assert any(
        r.startswith("/dev/fake1: smartctl output in smartctl --json -x /dev/fake1 line 1: invalid JSON")
        for r in result["reasons"]
    ), result["reasons"]


def test_bmc_local_device_missing_is_unknown(monkeypatch, run_module):
    message = (
        "Could not open device at /dev/ipmi0 or /dev/ipmi/0 or /dev/ipmidev/0: No such file or directory"
    )
    monkeypatch.setattr(AnsibleModule, "get_bin_path", lambda self, name, *a, **k: "/usr/bin/" + name)
    monkeypatch.setattr(AnsibleModule, "run_command", lambda self, args, **kw: (1, "", message))
    result = run_module(bmc_health, {})
    assert result["health"] == "unknown"
    assert result["reasons"] == ["ipmitool sdr elist (local BMC) failed (exit status 1): " + message]


def test_bmc_remote_password_not_on_command_line(monkeypatch, run_module):
    seen = []

    def fake_run_command(self, args, environ_update=None, **kwargs):
        seen.append((args, environ_update))
        if "sdr" in args:
            return 0, fixture_text("ipmitool/ipmitool-sdr-type-power-supply-csv.txt").replace(",", " | "), ""
        return 0, "", "SEL has no entries\n"  # ipmitool prints it with lprintf(LOG_ERR): stderr

    monkeypatch.setattr(AnsibleModule, "get_bin_path", lambda self, name, *a, **k: "/usr/bin/" + name)
    monkeypatch.setattr(AnsibleModule, "run_command", fake_run_command)
    result = run_module(bmc_health, {"host": "10.0.0.5", "username": "admin", "password": "s3cret"})
    assert result["health"] == "ok"
    args, env = seen[0]
    assert "s3cret" not in args and "-E" in args and env["IPMI_PASSWORD"] == "s3cret"
    assert args[1:9] == ["-I", "lanplus", "-C", "3", "-H", "10.0.0.5", "-p", "623"]


def test_raid_health_live_storcli(monkeypatch, run_module):
    def fake_run_command(self, args, environ_update=None, **kwargs):
        if "/call/eall/sall" in args:
            return 0, fixture_text("storcli/storcli-megaraid-drives-show-all.json"), ""
        return 0, fixture_text("storcli/storcli-megaraid-controllers-show-all-bbu-optimal.json"), ""

    storcli = "/opt/MegaRAID/storcli/storcli64"
    monkeypatch.setattr(rackwright_check_raid, "find_tool", lambda module, names: storcli)
    monkeypatch.setattr(AnsibleModule, "run_command", fake_run_command)
    result = run_module(raid_health, {"format": "storcli"})
    assert result["health"] == "ok"
    assert result["sources"] == [
        "storcli64 /call show all J nolog",
        "storcli64 /call/eall/sall show all J nolog",
    ]
    assert len(result["drives"]) == 6
    assert result["drives"][0]["temperature_c"] == 28  # detailed query replaced the PD LIST rows
