"""ipmitool / FreeIPMI parsers against every real fixture; discrete-state and SEL rules on documented
samples."""

import pytest
from conftest import assert_worst, fixture_text, saved_names, saved_output

from ansible_collections.rackwright.infra.plugins.module_utils.rackwright_health import ParseError
from ansible_collections.rackwright.infra.plugins.module_utils.rackwright_ipmitool import (
    judge_state_text,
    parse_ipmi,
)

# file -> (format, health of present sensors + events, reason substring or None, sensors, events)
EXPECTED = {
    "freeipmi-ipmi-sel-critical-events.txt": ("freeipmi-sel", "critical", "Configuration Error", 0, 5),
    "freeipmi-ipmimonitoring-sensors.txt": ("freeipmi-sensors", "ok", None, 3, 0),
    "ipmitool-sdr-ibm-system-x-with-ns-not-readable.txt": ("sdr", "ok", None, 133, 0),
    "ipmitool-sdr-type-power-supply-csv.txt": ("sdr-elist", "ok", None, 3, 0),
    "ipmitool-sdr-v-type-temperature-intel.txt": ("sdr-verbose", "ok", None, 4, 0),
    "ipmitool-sdr-v-type-voltage-intel-disabled-sensor.txt": ("sdr-verbose", "ok", None, 4, 0),
}


def _judged(result):
    """What the verdict is made of: the present sensors and the events."""
    return [s for s in result["sensors"] if s["present"]] + result["events"]


@pytest.mark.parametrize("name", saved_names("ipmitool", EXPECTED))
def test_ipmi_fixture_verdict(name):
    text, (fmt, health, reason, sensors, events) = saved_output("ipmitool", EXPECTED, name)
    result = parse_ipmi(text, name)
    assert result["format"] == fmt
    assert_worst(_judged(result), health, reason)
    assert (len(result["sensors"]), len(result["events"])) == (sensors, events)


def test_not_readable_sensors_are_not_present():
    sensors = parse_ipmi(fixture_text("ipmitool/ipmitool-sdr-ibm-system-x-with-ns-not-readable.txt"))[
        "sensors"
    ]
    by_name = {s["name"]: s for s in sensors}
    assert by_name["DASD Backplane 3"]["present"] is False
    assert by_name["DASD Backplane 3"]["health"] == "unknown"
    assert (by_name["Ambient Temp"]["reading"], by_name["Ambient Temp"]["type"]) == (20, "temperature")
    assert by_name["Fan 1"]["reading"] is None and by_name["Fan 1"]["type"] == "discrete"


def test_disabled_and_verbose_thresholds():
    sensors = parse_ipmi(fixture_text("ipmitool/ipmitool-sdr-v-type-voltage-intel-disabled-sensor.txt"))[
        "sensors"
    ]
    by_name = {s["name"]: s for s in sensors}
    assert by_name["BB +1.35 P1LV AB"]["present"] is False
    assert by_name["BB +12.0V"]["reading"] == 11.831
    assert by_name["BB +12.0V"]["thresholds"]["upper critical"] == 13.391


def test_psu_csv_names_get_entity():
    sensors = parse_ipmi(fixture_text("ipmitool/ipmitool-sdr-type-power-supply-csv.txt"))["sensors"]
    assert [s["name"] for s in sensors] == ["PS Redundancy", "PSU1 Status", "PSU2 Status"]
    assert sensors[1]["state"] == "Presence detected"


def test_freeipmi_sel_postinit_and_states():
    events = parse_ipmi(fixture_text("ipmitool/freeipmi-ipmi-sel-critical-events.txt"))["events"]
    assert events[0]["date"] == "PostInit"
    assert [e["health"] for e in events] == ["critical", "ok", "critical", "ok", "ok"]
    assert events[2]["reasons"] == [
        "SEL 494 Jul-09-2023 13:56:23: System Chassis SysHealth_Stat "
        "transition to Non-recoverable from less severe"
    ]


# `sdr elist` with a failed PSU: the HP ProLiant line quoted in the hardware notes (CollegeBoreal/Laboratoires
# 3202/proliant/IPMI/README.md) plus Dell-style lines; the status column stays "ok" for discrete sensors.
ELIST_FAILED_PSU = """\
Power Supply 1   | 06h | ok  | 10.1 | 0 Watts, Presence detected, Failure detected
Power Supply 2   | 07h | ok  | 10.2 | 120 Watts, Presence detected
Status           | 86h | ok  | 10.2 | Presence detected, Power Supply AC lost
Inlet Temp       | 04h | ok  | 7.1  | 23 degrees C
Exhaust Temp     | 01h | ucr | 7.1  | 71 degrees C
Memory           | 08h | ok  | 32.1 | Correctable ECC
Unable to send command: Invalid argument
"""


def test_discrete_psu_failure_judged_by_state_text():
    result = parse_ipmi(ELIST_FAILED_PSU, "elist.txt")
    by_name = {s["name"]: s for s in result["sensors"]}
    assert by_name["Power Supply 1"]["status"] == "ok"
    assert by_name["Power Supply 1"]["health"] == "critical"
    assert by_name["Power Supply 1"]["reasons"] == ["Power Supply 1: failure detected"]
    assert by_name["PSU2 Status"]["reasons"] == ["PSU2 Status: power supply ac lost"]
    assert by_name["Exhaust Temp"]["reasons"] == ["Exhaust Temp: status ucr (reading 71 degrees C)"]
    assert by_name["DIMM1 Memory"]["health"] == "warning"
    assert by_name["Power Supply 2"]["health"] == "ok"
    assert len(result["sensors"]) == 6  # the interleaved error line is skipped


def test_ipmitool_sensor_table():
    text = (
        "CPU Temp         | 92.000     | degrees C  | cr    | 0.000     | 0.000     | 0.000     | 85.000    "
        "| 90.000    | 95.000\n"
        "FAN1             | 1700.000   | RPM        | ok    | 300.000   | 500.000   | 700.000   | 25300.000 "
        "| 25400.000 | 25500.000\n"
        "PS1 Status       | 0x1        | discrete   | 0x0100| na        | na        | na        | na        "
        "| na        | na\n"
    )
    result = parse_ipmi(text, "sensor.txt")
    assert result["format"] == "sensor"
    cpu, fan, psu = result["sensors"]
    assert cpu["health"] == "critical" and cpu["thresholds"]["ucr"] == 90.0
    assert fan["health"] == "ok"
    assert psu["type"] == "discrete" and psu["health"] == "ok" and psu["raw_state"] == "0x1"


def test_sel_elist_deassertion_clears():
    text = (
        "   1 | 04/25/2018 | 10:54:25 | Power Supply #0x51 | Failure detected | Asserted\n"
        "   2 | 04/25/2018 | 11:02:13 | Power Supply #0x51 | Failure detected | Deasserted\n"
        "   3 | 04/26/2018 | 08:00:01 | Memory #0x53 | Uncorrectable ECC | Asserted\n"
        "   4 | 04/26/2018 | 08:00:02 | Memory #0x53 | Correctable ECC | Asserted\n"
        "   5 | Pre-Init  | 0000000012 | Event Logging Disabled #0x07 | Log area reset/cleared | Asserted\n"
    )
    events = parse_ipmi(text, "sel.txt")["events"]
    assert [e["health"] for e in events] == ["ok", "ok", "critical", "warning", "ok"]
    assert events[0]["cleared_by"] == "2"
    assert events[2]["reasons"] == ["SEL 3 04/26/2018 08:00:01: Memory #0x53 Uncorrectable ECC (asserted)"]


@pytest.mark.parametrize(
    ("text", "health"),
    [
        ("Failure detected", "critical"),
        ("Presence detected", "ok"),
        ("Fully Redundant", "ok"),
        ("Redundancy Lost", "critical"),
        ("Redundancy Degraded", "warning"),
        ("Predictive failure", "warning"),
        ("Correctable ECC", "warning"),
        ("Uncorrectable ECC", "critical"),
        ("IERR", "critical"),
        ("transition to OK", "ok"),
        ("Thermal Trip", "critical"),
    ],
)
def test_judge_state_text(text, health):
    assert judge_state_text(text) == health


def test_garbage_raises_with_line():
    with pytest.raises(ParseError) as info:
        parse_ipmi("Could not open device at /dev/ipmi0\n", "ipmi.txt")
    assert (info.value.tool, info.value.line) == ("ipmitool", 1)
    with pytest.raises(ParseError) as info:
        parse_ipmi("a | b | c\nd | e\n", "ipmi.txt")
    assert info.value.line == 2
