"""storcli/perccli parser against every real fixture (JSON and one plain-text capture)."""

import json
from pathlib import Path

import pytest
import yaml
from conftest import assert_worst, fixture_text, saved_names, saved_output

from ansible_collections.rackwright.infra.plugins.module_utils.rackwright_health import ParseError
from ansible_collections.rackwright.infra.plugins.module_utils.rackwright_storcli import parse_storcli

# file -> what it must give: tests/unit/storcli_cases.yml
EXPECTED = yaml.safe_load((Path(__file__).parent / "storcli_cases.yml").read_text(encoding="utf-8"))


def _all(result):
    return result["controllers"] + result["arrays"] + result["drives"]


@pytest.mark.parametrize("name", saved_names("storcli", EXPECTED))
def test_storcli_fixture_verdict(name):
    text, (health, reason, arrays, drives) = saved_output("storcli", EXPECTED, name)
    result = parse_storcli(text, name)
    assert_worst(_all(result), health, reason)
    assert (len(result["arrays"]), len(result["drives"])) == (arrays, drives)


def test_virtual_drive_members_and_state():
    result = parse_storcli(fixture_text("storcli/storcli-megaraid-controllers-show-all-bbu-optimal.json"))
    array = result["arrays"][0]
    assert array["name"] == "/c0/v0"
    assert array["level"] == "RAID6"
    assert array["state"] == "optimal"
    assert len(array["members"]) == 6
    assert array["members"][0] == {"device": "/c0/e252/s0", "state": "Onln"}
    assert result["controllers"][0]["model"] == "ServeRAID M5015 SAS/SATA Controller"


def test_drive_error_counters():
    drives = parse_storcli(fixture_text("storcli/storcli-megaraid-drives-show-all.json"))["drives"]
    first = drives[0]
    assert first["device"] == "/c0/e252/s0"
    assert first["temperature_c"] == 28
    assert (first["media_errors"], first["other_errors"], first["predictive_failures"]) == (0, 0, 0)
    assert first["smart_alert"] is False


def test_text_capture_command_failure_is_only_a_note():
    result = parse_storcli(fixture_text("storcli/storcli-text-show-all-single-controller-ok.txt"))
    controller = result["controllers"][0]
    assert controller["status"] == "Optimal"
    assert controller["messages"] == ["storcli command failed: command invalid (ErrCd 2)"]
    assert [a["level"] for a in result["arrays"]] == ["RAID1", "RAID10"]


def test_degraded_vd_with_rebuilding_member():
    doc = json.loads(fixture_text("storcli/storcli-call-show-all-healthy-raid6-cachevault.json"))
    data = doc["Controllers"][0]["Response Data"]
    data["VD LIST"][0]["State"] = "Dgrd"
    data["PD LIST"][1]["State"] = "Rbld"
    data["Cachevault_Info"][0]["State"] = "Degraded"
    result = parse_storcli(json.dumps(doc), "edited.json")
    array = result["arrays"][0]
    assert array["state"] == "rebuilding"
    assert array["health"] == "critical"
    assert "virtual drive state Dgrd (degraded)" in array["reasons"]
    assert "member /c0/e252/s1: drive state Rbld" in array["reasons"]
    assert "CacheVault CVPM02 state Degraded" in result["controllers"][0]["reasons"]


def test_garbage_raises_with_line():
    with pytest.raises(ParseError) as info:
        parse_storcli('{"Controllers": [\n  {"Command Status": }\n]}', "storcli.json")
    assert info.value.line == 2
    assert info.value.tool == "storcli"
    with pytest.raises(ParseError, match="not storcli output"):
        parse_storcli("random words\nmore words\n", "x.txt")
