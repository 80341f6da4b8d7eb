"""Filter plugins: worst_health, health_summary, disk_wear_forecast (direct import)."""

import pytest
from ansible.errors import AnsibleFilterError
from conftest import fixture_text

from ansible_collections.rackwright.infra.plugins.filter import rackwright_health
from ansible_collections.rackwright.infra.plugins.module_utils.rackwright_smartctl import parse_smartctl_json

FILTERS = rackwright_health.FilterModule().filters()


def test_worst_health_strings_and_dicts():
    worst = FILTERS["worst_health"]
    assert worst(["ok", "unknown", "warning"]) == "warning"
    assert worst([{"health": "ok"}, {"health": "critical"}, "warning"]) == "critical"
    assert worst([]) == "ok"
    assert worst([], default="unknown") == "unknown"
    assert worst("unknown") == "unknown"
    with pytest.raises(AnsibleFilterError, match="not a health value"):
        worst(["fine"])


def test_wear_forecast_nvme():
    disk = parse_smartctl_json(fixture_text("smartctl/nvme-wear-75pct-used-intel-p4510.json"))
    forecast = FILTERS["disk_wear_forecast"](disk, today="2025-01-01")
    # 75 % in 49441 h (2060 days) -> 0.0364 %/day -> 25 % left lasts 686 days
    assert forecast["percentage_used"] == 75
    assert forecast["days_remaining"] == 686
    assert forecast["replace_by"] == "2026-11-18"
    assert forecast["source"] == "percentage_used"
    assert "75% used after 49441 power-on hours" in forecast["reason"]


def test_wear_forecast_sata_ssd_attribute():
    disk = parse_smartctl_json(fixture_text("smartctl/sata-ssd-healthy-samsung-pm883.json"))
    disk["percentage_used"] = None  # force the attribute path: Wear_Leveling_Count normalized 99
    forecast = FILTERS["disk_wear_forecast"](disk, today="2025-01-01")
    assert forecast["source"] == "Wear_Leveling_Count"
    assert forecast["percentage_used"] == 1
    assert forecast["days_remaining"] == int(99 / (1 / (7753 / 24.0)))


@pytest.mark.parametrize(
    ("fixture", "reason"),
    [
        ("smartctl/sata-hdd-healthy-seagate-exos-x16.json", "no endurance indicator"),
        ("smartctl/nvme-healthy-samsung-970-evo-plus.json", "no measurable wear yet"),
    ],
)
def test_wear_forecast_not_derivable(fixture, reason):
    forecasts = FILTERS["disk_wear_forecast"](
        [parse_smartctl_json(fixture_text(fixture))], today="2025-01-01"
    )
    assert forecasts[0]["days_remaining"] is None
    assert forecasts[0]["replace_by"] is None
    assert reason in forecasts[0]["reason"]


def test_wear_forecast_exhausted_and_missing_hours():
    forecast = FILTERS["disk_wear_forecast"](
        {"device": "/dev/nvme0", "percentage_used": 104}, today="2025-01-01"
    )
    assert (forecast["days_remaining"], forecast["replace_by"]) == (0, "2025-01-01")
    forecast = FILTERS["disk_wear_forecast"](
        {"device": "/dev/nvme1", "percentage_used": 10}, today="2025-01-01"
    )
    assert forecast["days_remaining"] is None and "power_on_hours unknown" in forecast["reason"]


def test_health_summary_combines_checks_and_skips_skipped():
    summary = FILTERS["health_summary"](
        {
            "disk": {"health": "ok", "reasons": [], "changed": False, "disks": []},
            "raid": {"health": "critical", "reasons": ["md0: member sdb faulty"], "invocation": {}},
            "gpu": {"skipped": True, "changed": False},
            "bmc": {"health": "unknown", "reasons": ["ipmitool not found"]},
        }
    )
    assert summary["health"] == "critical"
    assert summary["reasons"] == ["raid: md0: member sdb faulty", "bmc: ipmitool not found"]
    assert set(summary["checks"]) == {"disk", "raid", "bmc"}
    assert "invocation" not in summary["checks"]["raid"]


def test_health_summary_nothing_ran_is_unknown():
    assert FILTERS["health_summary"]({"gpu": {"skipped": True}})["health"] == "unknown"


def test_health_summary_all_ok_is_ok():
    assert FILTERS["health_summary"]({"disk": {"health": "ok", "reasons": []}})["health"] == "ok"


# --- bad input to the filters (the probe's F1-F11): never a silent ok, never a raw Python error -------------
def test_health_summary_counts_a_failed_check_as_unknown():
    summary = FILTERS["health_summary"](
        {
            "disk": {"failed": True, "msg": "smartctl output unparseable"},
            "raid": {"health": "ok", "reasons": []},
        }
    )
    assert summary["health"] == "unknown"
    assert summary["reasons"] == ["disk: check failed: smartctl output unparseable"]
    both = FILTERS["health_summary"]({"disk": {"failed": True, "msg": "a"}, "raid": {"failed": True}})
    assert both["health"] == "unknown"
    assert both["reasons"] == ["disk: check failed: a", "raid: check failed: no message"]


def test_health_summary_and_rollup_with_malformed_results():
    summary = FILTERS["health_summary"](
        {"bmc": {"health": "OK", "reasons": "not-a-list"}, "gpu": {"skipped": True}}
    )
    assert summary["health"] == "unknown"
    assert summary["reasons"] == [
        "bmc: result has health 'OK', expected one of ok, unknown, warning, critical"
    ]


@pytest.mark.parametrize(
    ("disk", "today", "message"),
    [
        ({"percentage_used": 50, "power_on_hours": 1000}, "2026-13-01", "today must be a date YYYY-MM-DD"),
        (
            {"percentage_used": "abc", "power_on_hours": 1000},
            "2026-01-01",
            "percentage_used is 'abc', expected a",
        ),
        ([1], "2026-01-01", "expects disk dicts (disk_health's disks), got int 1"),
    ],
)
def test_wear_forecast_bad_input_is_a_clear_error(disk, today, message):
    with pytest.raises(AnsibleFilterError, match=message.replace("(", r"\(").replace(")", r"\)")):
        FILTERS["disk_wear_forecast"](disk, today=today)


@pytest.mark.parametrize(
    ("disk", "reason", "days"),
    [
        (
            {"percentage_used": 50, "power_on_hours": -1000},
            "power_on_hours -1000: cannot derive a wear rate",
            None,
        ),
        ({"percentage_used": 1, "power_on_hours": 1}, "only 1 power-on hours: too little history", None),
        ({"percentage_used": "50", "power_on_hours": "24000"}, "50% used after 24000 power-on hours", 1000),
    ],
)
def test_wear_forecast_odd_numbers(disk, reason, days):
    forecast = FILTERS["disk_wear_forecast"](disk, today="2026-01-01")
    assert reason in forecast["reason"]
    assert forecast["days_remaining"] == days


def test_inventory_network_problems_are_reported_once_whatever_the_schema_calls_the_variable():
    """The schema names the network variables (network_vars); a bad network shared by every host
    (group_vars/all) is one problem, not one per host, whatever that name is."""
    from ansible_collections.rackwright.infra.plugins.filter.rackwright_inventory import inventory_problems

    nets = {"fra1": {"mgmt": "10.20.0.5/22"}}
    hostvars = {h: {"hw_vendor": "dell", "site_nets": nets} for h in ("h1", "h2")}
    groups = {"all": ["h1", "h2"]}
    schema = {"network_vars": ["site_nets"], "network_other_keys": ["gateway", "mtu"]}
    assert inventory_problems(hostvars, groups, schema) == [
        "host h1: site_nets.fra1.mgmt '10.20.0.5/22' has host bits set (did you mean 10.20.0.0/22?)"
    ]
