"""/proc/mdstat and mdadm --detail parsers against every real fixture."""

from pathlib import Path

import pytest
import yaml
from conftest import assert_worst, fixture_text, saved_names, saved_output

from ansible_collections.rackwright.infra.plugins.module_utils.rackwright_health import ParseError
from ansible_collections.rackwright.infra.plugins.module_utils.rackwright_mdstat import (
    parse_mdadm_detail,
    parse_mdstat,
)

# file -> what it must give: tests/unit/mdstat_cases.yml
MDSTAT_EXPECTED = yaml.safe_load((Path(__file__).parent / "mdstat_cases.yml").read_text(encoding="utf-8"))


@pytest.mark.parametrize("name", saved_names("mdstat", MDSTAT_EXPECTED))
def test_mdstat_fixture_verdict(name):
    text, (health, reason, states) = saved_output("mdstat", MDSTAT_EXPECTED, name)
    arrays = parse_mdstat(text, name)
    by_name = {a["name"]: a for a in arrays}
    assert_worst(arrays, health, reason)
    for array, state in states.items():
        assert by_name[array]["state"] == state, array
    for array in arrays:
        assert array["state"] in (
            "optimal",
            "degraded",
            "rebuilding",
            "resyncing",
            "checking",
            "reshaping",
            "failed",
            "inactive",
        )
        assert (array["health"] == "ok") == (array["reasons"] == [])


def test_rebuild_details():
    arrays = {a["name"]: a for a in parse_mdstat(fixture_text("mdstat/raid1-degraded-recovering-29pct.txt"))}
    md126 = arrays["md126"]
    assert md126["rebuild_percent"] == 29.2
    assert md126["level"] == "raid1"
    assert {"device": "sda2", "state": "rebuilding"} in md126["members"]
    assert arrays["md125"]["rebuild_percent"] is None


def test_composite_edge_cases():
    arrays = {a["name"]: a for a in parse_mdstat(fixture_text("mdstat/procfs-composite-edge-cases.txt"))}
    assert arrays["md219"]["level"] == "container" and arrays["md219"]["health"] == "ok"
    assert arrays["md11"]["read_only"] is True
    assert arrays["md101"]["read_only"] is True and arrays["md101"]["health"] == "ok"
    assert arrays["md7"]["reasons"] == ["degraded: 1 of 4 members missing [U_UU]", "member sdc1 faulty"]
    assert {"device": "sdd1", "state": "spare"} in arrays["md3"]["members"]
    assert arrays["md6"]["rebuild_percent"] == 8.5


def test_scrub_relabels_delayed_resync():
    arrays = {
        a["name"]: a for a in parse_mdstat(fixture_text("mdstat/raid1-check-running-and-resync-delayed.txt"))
    }
    assert arrays["md1"]["state"] == "checking"
    assert arrays["md1"]["health"] == "ok"


MDADM_EXPECTED = {
    "raid1-clean-degraded-recovering-white-md126.txt": ("md126", "rebuilding", "warning", 30.0),
    "raid1-clean-white-md125.txt": ("md125", "optimal", "ok", None),
    "raid1-clean-white-md127.txt": ("md127", "optimal", "ok", None),
}


@pytest.mark.parametrize("name", saved_names("mdadm", MDADM_EXPECTED))
def test_mdadm_fixture_verdict(name):
    text, (array_name, state, health, percent) = saved_output("mdadm", MDADM_EXPECTED, name)
    array = parse_mdadm_detail(text, name)
    assert (array["name"], array["state"], array["health"], array["rebuild_percent"]) == (
        array_name,
        state,
        health,
        percent,
    )
    assert array["level"] == "raid1"


def test_mdadm_members_and_reason():
    array = parse_mdadm_detail(fixture_text("mdadm/raid1-clean-degraded-recovering-white-md126.txt"))
    assert array["members"] == [
        {"device": "/dev/sda2", "state": "rebuilding"},
        {"device": "/dev/sdb2", "state": "active"},
    ]
    assert array["reasons"] == ["rebuilding 30% in progress (1 of 2 devices active)"]


def test_mdadm_faulty_and_removed_members():
    text = fixture_text("mdadm/raid1-clean-white-md125.txt").replace(
        "State : clean", "State : clean, degraded"
    )
    text = text.replace(
        "       1       8       17        1      active sync   /dev/sdb1",
        "       -       0        0        1      removed\n\n"
        "       1       8       17        -      faulty   /dev/sdb1",
    )
    array = parse_mdadm_detail(text, "edited")
    assert array["state"] == "degraded"
    assert array["health"] == "critical"
    assert {"device": "slot 1", "state": "removed"} in array["members"]
    assert "member /dev/sdb1 faulty" in array["reasons"]


@pytest.mark.parametrize(
    ("text", "line"),
    [
        (
            "Personalities : [raid1]\nmd0 : active raid1 sda1[0] sdb1[1]\n"
            "      102400 blocks [2/2] [UU]\ngarbage here\n",
            4,
        ),
        ("hello\n", 1),
        ("Personalities : [raid1]\nmd0 : active raid1 sda1[0] sdb1{1}\n", 2),
    ],
)
def test_mdstat_garbage_raises_with_line(text, line):
    with pytest.raises(ParseError) as info:
        parse_mdstat(text, "/proc/mdstat")
    assert info.value.tool == "mdstat"
    assert info.value.source == "/proc/mdstat"
    assert info.value.line == line


def test_mdadm_garbage_raises():
    with pytest.raises(ParseError) as info:
        parse_mdadm_detail("/dev/md0:\n  Version : 1.2\n  what is this\n", "detail.txt")
    assert info.value.line == 3
    assert "mdadm output in detail.txt line 3" in str(info.value)


def test_the_mdstat_filter_is_the_parser_and_refuses_what_is_not_mdstat():
    """rackwright.infra.mdstat_arrays (the storage role's rebuild wait reads /proc/mdstat through it)."""
    from ansible.errors import AnsibleFilterError

    from ansible_collections.rackwright.infra.plugins.filter.rackwright_mdstat import FilterModule

    arrays = FilterModule().filters()["mdstat_arrays"]
    text = fixture_text("mdstat/raid1-degraded-recovering-29pct.txt")
    assert arrays(text) == parse_mdstat(text, source="/proc/mdstat")
    [rebuilding] = [a for a in arrays(text) if a["state"] == "rebuilding"]
    assert rebuilding["rebuild_percent"] == pytest.approx(29, abs=1)
    for bad in ("", "lsblk output\n", None):
        with pytest.raises(AnsibleFilterError, match="mdstat_arrays"):
            arrays(bad)
