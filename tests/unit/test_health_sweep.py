"""health_sweep: every check in one module run gives, check by check, what the check's own module gives (the
same code runs), on every saved output of the project's fixtures; options a check refuses are named with the
check; checks that do not apply come back skipped; a missing tool or a crashing check never hides the
others."""

import pytest
from ansible.module_utils.basic import AnsibleModule
from conftest import FIXTURES

from ansible_collections.rackwright.infra.plugins.module_utils import rackwright_check_disk
from ansible_collections.rackwright.infra.plugins.modules import (
    bmc_health,
    disk_health,
    gpu_health,
    health_sweep,
    hw_inventory,
    raid_health,
)

# check -> (its own module, the fixture folders whose files it reads, the sweep options that make it run)
CHECKS = {
    "disk": (disk_health, ["smartctl", "nvme"], {}),
    "raid": (raid_health, ["mdstat", "mdadm", "storcli", "ssacli"], {}),
    "bmc": (bmc_health, ["ipmitool", "redfish"], {"bmc_local": "always"}),
    "gpu": (gpu_health, ["nvidia-smi"], {"gpu_present": "always"}),
    "inventory": (hw_inventory, ["dmidecode", "nvme"], {}),
}
CASES = [
    pytest.param(check, f"{folder}/{path.name}", id=f"{check}-{folder}/{path.name}")
    for check, (_module, folders, _options) in CHECKS.items()
    for folder in folders
    for path in sorted((FIXTURES / folder).iterdir())
]


def own_result(run_module, module, args):
    """What MODULE returns for ARGS, less Ansible's echo of the arguments (the sweep's is its own)."""
    result = run_module(module, args)
    result.pop("invocation", None)
    return result


@pytest.mark.parametrize(("check", "fixture"), CASES)
def test_each_check_answers_as_its_own_module(run_module, check, fixture):
    module, _folders, options = CHECKS[check]
    saved = [str(FIXTURES / fixture)]
    own = own_result(run_module, module, {"from_files": saved})
    swept = run_module(health_sweep, dict(options, checks=[check], **{check: {"from_files": saved}}))
    if own.get("failed"):
        assert swept["failed"] is True
        assert swept["msg"] == f"{check}: {own['msg']}"
    else:
        assert swept.get("failed") is not True, swept.get("msg")
        assert swept["checks"][check] == own
        assert swept["changed"] is False


def test_all_checks_in_one_run_each_as_its_own_module(run_module):
    saved = {
        "disk": [str(FIXTURES / "smartctl/sata-hdd-reallocated-sectors-304.json")],
        "raid": [str(FIXTURES / "mdstat/raid5-failed-member-degraded.txt")],
        "bmc": [str(FIXTURES / "ipmitool/ipmitool-sdr-type-power-supply-csv.txt")],
        "gpu": [str(FIXTURES / "nvidia-smi/a100-sxm4-80gb-driver-535.xml")],
        "inventory": [str(FIXTURES / "dmidecode/dell-poweredge-r640.txt")],
    }
    args = {name: {"from_files": paths} for name, paths in saved.items()}
    swept = run_module(health_sweep, dict(args, bmc_local="always", gpu_present="always", sample=True))
    for name, (module, _folders, _options) in CHECKS.items():
        assert swept["checks"][name] == own_result(run_module, module, {"from_files": saved[name]}), name
    assert {name: swept["checks"][name]["health"] for name in ("disk", "raid", "gpu")} == {
        "disk": "warning",
        "raid": "critical",
        "gpu": "ok",
    }
    assert set(swept["sample"]) >= {"memory_available_mb", "load15", "filesystems"}


def test_options_a_check_refuses_are_named_with_the_check(run_module):
    result = run_module(
        health_sweep,
        {"checks": ["disk", "raid"], "disk": {"from_files": 5}, "raid": {"format": "zfs", "colour": "red"}},
    )
    assert result["failed"] is True
    disk, raid = result["msg"].split("; raid: ")
    assert disk.startswith("disk: from_files must be a list of paths"), result["msg"]
    assert "value of format must be one of" in raid and "got: zfs" in raid, result["msg"]
    assert "unsupported option colour" in raid, result["msg"]


def test_checks_that_do_not_apply_come_back_skipped(run_module):
    result = run_module(
        health_sweep,
        {
            "checks": ["inventory", "bmc", "gpu"],
            "inventory": {"from_files": [str(FIXTURES / "dmidecode/dell-poweredge-r640.txt")]},
            "bmc_local": "never",
        },
    )
    assert result["checks"]["bmc"] == {"skipped": True, "skip_reason": "the BMC is checked over the network"}
    assert result["checks"]["gpu"]["skipped"] is True  # auto: the R640's saved inventory lists no GPU
    assert result["checks"]["disk"] == {"skipped": True, "skip_reason": "disk is not in checks"}
    assert result["checks"]["inventory"]["health"] in ("ok", "unknown")
    assert result["sample"] is None


def test_missing_tools_make_checks_unknown_not_failed(monkeypatch, run_module):
    monkeypatch.setattr(AnsibleModule, "get_bin_path", lambda self, *args, **kwargs: None)
    result = run_module(health_sweep, {"checks": ["disk", "gpu"], "gpu_present": "always"})
    assert result.get("failed") is not True
    assert result["checks"]["disk"]["health"] == "unknown"
    assert result["checks"]["disk"]["reasons"] == ["smartctl not found in PATH: install smartmontools"]
    assert result["checks"]["gpu"]["health"] == "unknown"


def test_a_crashing_check_is_named_and_the_others_still_answer(monkeypatch, run_module):
    def crash(module):
        raise RuntimeError("boom")

    monkeypatch.setattr(rackwright_check_disk, "run", crash)
    raid = [str(FIXTURES / "mdstat/raid5-failed-member-degraded.txt")]
    result = run_module(health_sweep, {"checks": ["disk", "raid"], "raid": {"from_files": raid}})
    assert result["failed"] is True
    assert result["msg"] == "disk: the check crashed (RuntimeError: boom)"
    assert result["checks"]["raid"]["health"] == "critical"
