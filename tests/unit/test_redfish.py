"""Redfish resource parser against every real fixture."""

import json

import pytest
from conftest import assert_worst, fixture_text, saved_names, saved_output

from ansible_collections.rackwright.infra.plugins.module_utils.rackwright_health import ParseError, worst
from ansible_collections.rackwright.infra.plugins.module_utils.rackwright_redfish import (
    parse_redfish,
    resource_sensors,
)

# file -> (health, reason substring or None, number of sensors)
EXPECTED = {
    "dell-idrac9-r640-chassis-healthy.json": ("ok", None, 1),
    "dell-idrac9-r640-power-healthy.json": ("ok", None, 5),
    "dell-idrac9-r640-system-healthy.json": ("ok", None, 3),
    "dell-idrac9-r640-thermal-healthy.json": ("ok", None, 18),
    "hpe-ilo4-thermal-healthy.json": ("ok", None, 3),
    "hpe-ilo5-dl360-gen10-system-healthy.json": ("ok", None, 12),
    "hpe-ilo5-dl360-gen10-thermal-healthy.json": ("ok", None, 5),
    "hpe-ilo5-power-healthy.json": ("ok", None, 4),
    "hpe-ilo5-smartarray-p408i-controller-health-warning.json": ("warning", "health Warning", 1),
    "hpe-ilo6-drive-healthy.json": ("ok", None, 1),
    "supermicro-x12-system-health-critical.json": ("critical", "System health Critical", 3),
}


@pytest.mark.parametrize("name", saved_names("redfish", EXPECTED))
def test_redfish_fixture_verdict(name):
    text, (health, reason, count) = saved_output("redfish", EXPECTED, name)
    sensors = parse_redfish(text, name)
    assert_worst(sensors, health, reason)
    assert len(sensors) == count


def test_thermal_readings_and_types():
    sensors = parse_redfish(fixture_text("redfish/dell-idrac9-r640-thermal-healthy.json"))
    fan = sensors[0]
    assert (fan["name"], fan["type"], fan["unit"]) == ("System Board Fan1A", "fan", "RPM")
    assert any(s["type"] == "temperature" and s["unit"] == "C" for s in sensors)
    assert any(s["type"] == "redundancy" for s in sensors)


def test_supermicro_rollup_critical_with_ok_summaries():
    sensors = parse_redfish(fixture_text("redfish/supermicro-x12-system-health-critical.json"))
    health = {s["name"]: s["health"] for s in sensors}
    assert health == {"System": "critical", "System ProcessorSummary": "ok", "System MemorySummary": "ok"}


def test_thresholds_absent_parts_and_unknown_health():
    doc = json.loads(fixture_text("redfish/dell-idrac9-r640-thermal-healthy.json"))
    doc["Temperatures"][0]["ReadingCelsius"] = 95
    doc["Fans"][1]["Status"] = {"State": "Absent"}
    doc["Fans"][2]["Status"]["Health"] = "Degraded"
    sensors = resource_sensors(doc, "edited")
    assert len(sensors) == 17
    reasons = [r for s in sensors for r in s["reasons"]]
    assert any("CPU1 Temp reading 95 C >= threshold" in r for r in reasons), reasons
    assert "System Board Fan2A health Degraded" in reasons
    assert worst(s["health"] for s in sensors) == "critical"


def test_not_redfish_raises():
    with pytest.raises(ParseError, match="not a Redfish resource"):
        parse_redfish('{"devices": []}', "x.json")
    with pytest.raises(ParseError) as info:
        parse_redfish('{\n"@odata.id": \n', "x.json")
    assert info.value.line == 3
