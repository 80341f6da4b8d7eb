"""HPE ssacli / hpssacli / hpacucli parser against every real fixture."""

from pathlib import Path

import pytest
import yaml
from conftest import assert_worst, fixture_text, saved_names, saved_output

from ansible_collections.rackwright.infra.plugins.module_utils.rackwright_health import ParseError
from ansible_collections.rackwright.infra.plugins.module_utils.rackwright_ssacli import parse_ssacli

# file -> what it must give: tests/unit/ssacli_cases.yml
EXPECTED = yaml.safe_load((Path(__file__).parent / "ssacli_cases.yml").read_text(encoding="utf-8"))


@pytest.mark.parametrize("name", saved_names("ssacli", EXPECTED))
def test_ssacli_fixture_verdict(name):
    text, (health, reason, arrays, controllers) = saved_output("ssacli", EXPECTED, name)
    result = parse_ssacli(text, name)
    assert_worst(result["controllers"] + result["arrays"] + result["drives"], health, reason)
    assert (len(result["arrays"]), len(result["controllers"])) == (arrays, controllers)


def test_failed_array_overrides_logical_drive_ok():
    arrays = parse_ssacli(fixture_text("ssacli/hpacucli-ld-show-array-failed.txt"))["arrays"]
    states = {a["name"].split(" / ", 1)[1]: (a["state"], a["level"]) for a in arrays}
    assert states == {
        "array A / logicaldrive 1": ("optimal", "RAID 1"),
        "array B / logicaldrive 2": ("failed", "RAID 5"),
        "array C / logicaldrive 3": ("optimal", "RAID 5"),
    }


def test_detail_output_members_and_levels():
    result = parse_ssacli(fixture_text("ssacli/ssacli-ctrl-all-show-config-detail-p408i-a-healthy.txt"))
    array = result["arrays"][0]
    assert array["level"] == "RAID 6"
    assert array["state"] == "optimal"
    assert [m["device"] for m in array["members"]] == [f"physicaldrive 2I:1:{n}" for n in range(1, 5)]
    assert result["controllers"][0]["name"] == "HPE Smart Array P408i-a SR Gen10 in Slot 0 (Embedded)"


def test_banner_is_skipped_and_degraded_state():
    array = parse_ssacli(fixture_text("ssacli/hpacucli-ld-show-interim-recovery-mode.txt"))["arrays"][0]
    assert array["state"] == "degraded"
    assert array["level"] == "RAID 5"


def test_rebuilding_logical_drive_and_failed_drive():
    text = (
        "Smart Array P420i in Slot 0 (Embedded)\n\n   array A (SAS, Unused Space: 0  MB)\n\n"
        "      logicaldrive 1 (558.9 GB, RAID 1, Recovering, 42% complete)\n\n"
        "      physicaldrive 1I:1:1 (port 1I:box 1:bay 1, SAS, 600 GB, OK)\n"
        "      physicaldrive 1I:1:2 (port 1I:box 1:bay 2, SAS, 600 GB, Failed)\n"
    )
    array = parse_ssacli(text, "synthetic")["arrays"][0]
    assert array["state"] == "rebuilding"
    assert array["rebuild_percent"] == 42.0
    assert "logical drive status Recovering" in array["reasons"]
    assert array["health"] == "critical"
    assert "member physicaldrive 1I:1:2: physical drive status Failed" in array["reasons"]


def test_garbage_raises():
    with pytest.raises(ParseError) as info:
        parse_ssacli("just some text\nwithout a controller\n", "ssacli.txt")
    assert info.value.tool == "ssacli"
    with pytest.raises(ParseError) as info:
        parse_ssacli("Smart Array P410 in Slot 1\nunexpected top-level line\n", "ssacli.txt")
    assert info.value.line == 2
