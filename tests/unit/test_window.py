"""Declared maintenance windows (module_utils/rackwright_window.py, filter maintenance_window): inside or
outside on each side of every edge, past midnight, across Europe/Berlin's 2026 DST changes, and every bad
input named."""

from datetime import datetime
from pathlib import Path

import pytest
import yaml
from ansible.errors import AnsibleFilterError

from ansible_collections.rackwright.infra.plugins.filter.rackwright_window import maintenance_window
from ansible_collections.rackwright.infra.plugins.module_utils.rackwright_window import (
    WindowError,
    window_problems,
    window_state,
)

BERLIN = "Europe/Berlin"
# Saturday 22:00 to Sunday 04:00, Berlin time. 2026-12-12 is a Saturday.
SATURDAY_NIGHT = [{"days": ["sat"], "start": "22:00", "end": "04:00", "timezone": BERLIN}]
OFFICE = [{"days": "weekdays", "start": "09:00", "end": "17:00"}]  # UTC, the default zone


def state(spec, now, **kwargs):
    return window_state(spec, datetime.fromisoformat(now), **kwargs)


def where(spec, now, **kwargs):
    """(inside, opened, closes, next_opens) at NOW."""
    got = state(spec, now, **kwargs)
    return got["inside"], got["opened"], got["closes"], got["next_opens"]


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        # One second before the start: outside, the window opens tonight.
        ("2026-12-12T21:59:59+01:00", (False, None, None, "2026-12-12T22:00:00+01:00")),
        # The start is inside.
        ("2026-12-12T22:00:00+01:00", (True, "2026-12-12T22:00:00+01:00", "2026-12-13T04:00:00+01:00", None)),
        # Past midnight, into Sunday.
        ("2026-12-13T00:00:00+01:00", (True, "2026-12-12T22:00:00+01:00", "2026-12-13T04:00:00+01:00", None)),
        ("2026-12-13T03:59:59+01:00", (True, "2026-12-12T22:00:00+01:00", "2026-12-13T04:00:00+01:00", None)),
        # The end is not: the next window is a week later.
        ("2026-12-13T04:00:00+01:00", (False, None, None, "2026-12-19T22:00:00+01:00")),
        # The same instants given in UTC: judged in the window's zone, answered in it.
        ("2026-12-12T20:59:59+00:00", (False, None, None, "2026-12-12T22:00:00+01:00")),
        ("2026-12-12T21:00:00Z", (True, "2026-12-12T22:00:00+01:00", "2026-12-13T04:00:00+01:00", None)),
        # Sunday 22:00 is no Saturday: outside.
        ("2026-12-13T22:30:00+01:00", (False, None, None, "2026-12-19T22:00:00+01:00")),
    ],
)
def test_a_window_past_midnight_on_each_side_of_its_edges(now, expected):
    assert where(SATURDAY_NIGHT, now) == expected


def test_the_reasons_a_technician_reads():
    inside = state(SATURDAY_NIGHT, "2026-12-12T23:00:00+01:00")
    assert inside["window"] == 0 and inside["next_window"] is None
    assert inside["reason"] == (
        "inside window 0 (sat 22:00-04:00 Europe/Berlin) until 2026-12-13T04:00:00+01:00"
    )
    outside = state(SATURDAY_NIGHT, "2026-12-12T12:00:00+01:00")
    assert outside["window"] is None and outside["next_window"] == 0
    assert outside["reason"] == (
        "outside every maintenance window; the next opens 2026-12-12T22:00:00+01:00 (window 0)"
    )


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        # Friday 2026-12-11.
        ("2026-12-11T08:59:59+00:00", (False, None, None, "2026-12-11T09:00:00+00:00")),
        ("2026-12-11T09:00:00+00:00", (True, "2026-12-11T09:00:00+00:00", "2026-12-11T17:00:00+00:00", None)),
        ("2026-12-11T16:59:59+00:00", (True, "2026-12-11T09:00:00+00:00", "2026-12-11T17:00:00+00:00", None)),
        # Friday evening and the whole weekend wait for Monday.
        ("2026-12-11T17:00:00+00:00", (False, None, None, "2026-12-14T09:00:00+00:00")),
        ("2026-12-13T12:00:00+00:00", (False, None, None, "2026-12-14T09:00:00+00:00")),
    ],
)
def test_weekdays_in_the_default_zone(now, expected):
    assert where(OFFICE, now) == expected


def test_the_default_zone_is_the_one_the_caller_passes():
    assert where(OFFICE, "2026-12-11T08:30:00+00:00", default_timezone=BERLIN) == (
        True, "2026-12-11T09:00:00+01:00", "2026-12-11T17:00:00+01:00", None,
    )  # fmt: skip
    reason = state(OFFICE, "2026-12-11T08:30:00Z", default_timezone=BERLIN)["reason"]
    assert "(weekdays 09:00-17:00 Europe/Berlin)" in reason


def test_daily_past_midnight_opened_the_day_before():
    nightly = [{"days": "daily", "start": "23:00", "end": "01:00", "timezone": "UTC"}]
    assert where(nightly, "2026-12-14T00:30:00+00:00") == (
        True, "2026-12-13T23:00:00+00:00", "2026-12-14T01:00:00+00:00", None,
    )  # fmt: skip
    assert where(nightly, "2026-12-14T01:00:00+00:00") == (False, None, None, "2026-12-14T23:00:00+00:00")


def test_a_window_past_midnight_belongs_to_the_day_it_opens():
    late = [{"days": ["weekdays"], "start": "23:00", "end": "01:00", "timezone": "UTC"}]
    # Saturday 00:30 is Friday's window; Sunday 00:30 would be Saturday's, which is no weekday.
    assert where(late, "2026-12-12T00:30:00+00:00")[0] is True
    assert where(late, "2026-12-13T00:30:00+00:00") == (False, None, None, "2026-12-14T23:00:00+00:00")


def test_weekends_and_single_days():
    weekend = [{"days": "weekends", "start": "10:00", "end": "12:00"}]
    assert where(weekend, "2026-12-13T11:00:00+00:00")[0] is True  # Sunday
    assert where(weekend, "2026-12-14T11:00:00+00:00") == (False, None, None, "2026-12-19T10:00:00+00:00")
    assert where([{"days": "wed", "start": "10:00", "end": "12:00"}], "2026-12-14T11:00:00Z")[3] == (
        "2026-12-16T10:00:00+00:00"
    )


TWO = [
    {"days": ["sun"], "start": "02:00", "end": "04:00", "timezone": "UTC"},
    {"days": ["wed"], "start": "20:00", "end": "22:00", "timezone": BERLIN},
]


@pytest.mark.parametrize(
    ("now", "opens", "index"),
    [
        ("2026-12-15T12:00:00+00:00", "2026-12-16T20:00:00+01:00", 1),  # Tuesday: Wednesday's comes first
        ("2026-12-17T12:00:00+00:00", "2026-12-20T02:00:00+00:00", 0),  # Thursday: Sunday's
        ("2026-12-16T18:59:59+00:00", "2026-12-16T20:00:00+01:00", 1),  # Wednesday 19:59:59 Berlin
        ("2026-12-16T19:00:00+00:00", None, None),  # Wednesday 20:00 Berlin: inside window 1
        ("2026-12-16T21:00:00+00:00", "2026-12-20T02:00:00+00:00", 0),  # Wednesday 22:00 Berlin: just closed
    ],
)
def test_two_windows_the_next_opening_is_the_earliest(now, opens, index):
    got = state(TWO, now)
    assert (got["next_opens"], got["next_window"]) == (opens, index)
    if opens is None:
        assert (got["inside"], got["window"]) == (True, 1)
        assert got["reason"] == (
            "inside window 1 (wed 20:00-22:00 Europe/Berlin) until 2026-12-16T22:00:00+01:00"
        )
    else:
        assert got["reason"].endswith(f"the next opens {opens} (window {index})")


def test_overlapping_windows_answer_the_one_open_longest():
    spec = [
        {"days": "daily", "start": "01:00", "end": "03:00"},
        {"days": "daily", "start": "02:00", "end": "05:00"},
        {"days": "daily", "start": "02:00", "end": "05:00", "timezone": "Etc/UTC"},
    ]
    got = state(spec, "2026-12-14T02:30:00+00:00")
    assert (got["window"], got["closes"]) == (1, "2026-12-14T05:00:00+00:00")


# One window at instants around Europe/Berlin's 2026 clock changes, and what each must give.
DST_CASES = yaml.safe_load((Path(__file__).parent / "window_dst_cases.yml").read_text(encoding="utf-8"))


@pytest.mark.parametrize(("spec", "now", "expected"), DST_CASES)
def test_europe_berlin_across_the_2026_dst_changes(spec, now, expected):
    day, hours = spec.split()
    start, end = hours.split("-")
    window = [{"days": [day], "start": start, "end": end, "timezone": BERLIN}]
    assert where(window, now) == tuple(expected)


def test_no_window_declared_is_never_inside():
    for spec in ([], None):
        got = state(spec, "2026-12-12T23:00:00+01:00")
        assert got == {
            "inside": False, "window": None, "opened": None, "closes": None, "next_opens": None,
            "next_window": None,
            "reason": "no maintenance window is declared (rackwright_maintenance_window is empty)",
        }  # fmt: skip
        assert window_problems(spec, "rackwright_maintenance_window") == []


W = "rackwright_maintenance_window"
ONE_OF = "expected one of mon, tue, wed, thu, fri, sat, sun, daily, weekdays, weekends"
ZONE = "expected an IANA time zone such as Europe/Berlin or UTC"
GOOD = {"days": ["sat"], "start": "22:00", "end": "04:00", "timezone": BERLIN}


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ({**GOOD}, f"{W}: expected a list of windows such as [{{days: [sat], start: '22:00', end: '04:00', "
                   "timezone: Europe/Berlin}], got a mapping"),
        ({**GOOD}, "(one window is still a list of one: put '- ' before days)"),
        ("sat 22:00-04:00", f"{W}: expected a list of windows such as"),
        (["sat 22:00-04:00"], f"{W}[0]: expected a mapping such as {{days: [sat], start: '22:00', "
                              "end: '04:00', timezone: Europe/Berlin}, got 'sat 22:00-04:00'"),
        ([{**GOOD, "strat": "22:00"}], f"{W}[0]: unknown key 'strat' (did you mean 'start'?)"),
        ([{**GOOD, "owner": "ops"}], f"{W}[0]: unknown key 'owner' (expected days, start, end, timezone)"),
        ([{"days": ["sat"], "start": "22:00"}], f"{W}[0].end: missing (expected HH:MM (24-hour), in quotes"),
        ([{"start": "22:00", "end": "04:00"}], f"{W}[0].days: missing (expected the days it opens"),
        ([{**GOOD, "days": []}], f"{W}[0].days: empty; name at least one day (mon..sun, daily, weekdays or "
                                 "weekends)"),
        ([{**GOOD, "days": ["saturday"]}], f"{W}[0].days[0]: {ONE_OF}, got 'saturday' (did you mean 'sat'?)"),
        ([{**GOOD, "days": ["Sat"]}], f"{W}[0].days[0]: {ONE_OF}, got 'Sat' (did you mean 'sat'?)"),
        ([{**GOOD, "days": "dayly"}], f"{W}[0].days: {ONE_OF}, got 'dayly' (did you mean 'daily'?)"),
        ([{**GOOD, "days": 6}], f"{W}[0].days: expected a list of days such as [sat, sun], or daily, "
                                "weekdays or weekends, got a number (6)"),
        ([{**GOOD, "days": [6]}], f"{W}[0].days[0]: {ONE_OF}, got a number (6)"),
        ([{**GOOD, "start": "25:00"}], f"{W}[0].start: expected HH:MM (24-hour), got '25:00'"),
        ([{**GOOD, "start": "22:60"}], f"{W}[0].start: expected HH:MM (24-hour), got '22:60'"),
        ([{**GOOD, "start": "9:00"}], f"{W}[0].start: expected HH:MM (24-hour), got '9:00'"),
        ([{**GOOD, "end": "24:00"}], f"{W}[0].end: expected HH:MM (24-hour), got '24:00'"),
        ([{**GOOD, "end": "4pm"}], f"{W}[0].end: expected HH:MM (24-hour), got '4pm'"),
        ([{**GOOD, "end": None}], f"{W}[0].end: expected HH:MM (24-hour), got nothing (null)"),
        ([{**GOOD, "start": True}], f"{W}[0].start: expected HH:MM (24-hour), got a boolean (True)"),
        # YAML 1.1 reads an unquoted 22:00 as 22 * 60 + 0.
        ([{**GOOD, "start": 1320}], f"{W}[0].start: expected HH:MM (24-hour) in quotes, got the number 1320 "
                                    "(YAML reads an unquoted 22:00 as 1320: write '22:00')"),
        ([{**GOOD, "end": "22:00"}], f"{W}[0]: start and end are both '22:00', which is no window (expected "
                                     "an end after the start, or before it for a window that runs past "
                                     "midnight)"),
        ([{**GOOD, "timezone": "Europe/Berln"}], f"{W}[0].timezone: unknown time zone 'Europe/Berln' "
                                                 f"({ZONE}; did you mean 'Europe/Berlin'?)"),
        ([{**GOOD, "timezone": "Mars/Olympus_Mons"}], f"{W}[0].timezone: unknown time zone "
                                                      f"'Mars/Olympus_Mons' ({ZONE})"),
        ([{**GOOD, "timezone": "/etc/localtime"}], f"{W}[0].timezone: unknown time zone '/etc/localtime'"),
        ([{**GOOD, "timezone": ""}], f"{W}[0].timezone: {ZONE}, got ''"),
        ([{**GOOD, "timezone": 1}], f"{W}[0].timezone: {ZONE}, got a number (1)"),
        ([GOOD, {**GOOD, "start": "x"}], f"{W}[1].start: expected HH:MM (24-hour), got 'x'"),
    ],
)  # fmt: skip
def test_every_bad_input_is_named(spec, expected):
    problems = window_problems(spec, W)
    assert any(expected in p for p in problems), problems
    with pytest.raises(WindowError) as raised:
        state(spec, "2026-12-12T23:00:00+01:00")
    assert raised.value.problems == problems
    assert isinstance(raised.value, ValueError)
    with pytest.raises(AnsibleFilterError) as raised:
        maintenance_window(spec, "2026-12-12T23:00:00+01:00")
    assert expected in str(raised.value)


def test_every_problem_at_once_naming_the_variable_it_came_from():
    spec = [{"days": ["monday"], "start": "25:00", "end": "25:00", "timezone": "Nowhere", "extra": 1}, "x"]
    problems = window_problems(spec, "hostvars[fra1-db01].maintenance")
    at = "hostvars[fra1-db01].maintenance"
    assert problems == [
        f"{at}[0]: unknown key 'extra' (expected days, start, end, timezone)",
        f"{at}[0].days[0]: {ONE_OF}, got 'monday' (did you mean 'mon'?)",
        f"{at}[0].start: expected HH:MM (24-hour), got '25:00'",
        f"{at}[0].end: expected HH:MM (24-hour), got '25:00'",
        f"{at}[0].timezone: unknown time zone 'Nowhere' ({ZONE})",
        f"{at}[1]: expected a mapping such as {{days: [sat], start: '22:00', end: '04:00', "
        "timezone: Europe/Berlin}, got 'x'",
    ]
    with pytest.raises(AnsibleFilterError) as raised:
        maintenance_window(spec, "2026-12-12T23:00:00+01:00", name="hostvars[fra1-db01].maintenance")
    assert str(raised.value).startswith("maintenance_window: 6 problem(s):\n  - hostvars[fra1-db01]")
    assert all(p in str(raised.value) for p in problems)


def test_a_bad_default_zone_and_a_now_without_offset_are_named():
    assert window_problems(OFFICE, W, default_timezone="Berlin") == [
        "timezone (the default for windows that name none): unknown time zone 'Berlin' (expected an IANA "
        "time zone such as Europe/Berlin or UTC; did you mean 'Europe/Berlin'?)"
    ]
    with pytest.raises(WindowError, match="now: expected a date and time with its UTC offset, got "):
        window_state(OFFICE, datetime(2026, 12, 12, 23, 0))
    with pytest.raises(WindowError, match="now: expected"):
        window_state(OFFICE, "2026-12-12T23:00:00+01:00")


def test_the_filter_allows_inside_and_refuses_outside():
    inside = maintenance_window(SATURDAY_NIGHT, "2026-12-12T23:00:00+01:00")
    assert (inside["inside"], inside["allowed"], inside["override"]) == (True, True, None)
    assert inside["closes"] == "2026-12-13T04:00:00+01:00"
    outside = maintenance_window(SATURDAY_NIGHT, "2026-12-12T12:00:00+01:00")
    assert (outside["inside"], outside["allowed"], outside["override"]) == (False, False, None)
    assert outside["next_opens"] == "2026-12-12T22:00:00+01:00"
    declared_none = maintenance_window([], "2026-12-12T23:00:00+01:00")
    assert (declared_none["inside"], declared_none["allowed"]) == (False, False)


def test_the_override_allows_a_run_outside_and_says_why():
    why = " incident 4711: disk failing "
    got = maintenance_window(SATURDAY_NIGHT, "2026-12-12T12:00:00+01:00", override=why)
    assert (got["inside"], got["allowed"], got["override"]) == (False, True, "incident 4711: disk failing")
    assert got["next_opens"] == "2026-12-12T22:00:00+01:00"
    assert got["reason"] == (
        "outside every maintenance window; the next opens 2026-12-12T22:00:00+01:00 (window 0); "
        "proceeding by override: incident 4711: disk failing"
    )
    # Inside, an override is not needed and not recorded; an empty one is none.
    assert maintenance_window(SATURDAY_NIGHT, "2026-12-12T23:00:00+01:00", override="x")["override"] is None
    assert maintenance_window(SATURDAY_NIGHT, "2026-12-12T12:00:00+01:00", override="")["allowed"] is False
    assert maintenance_window([], "2026-12-12T12:00:00+01:00", override="cutover approved")["allowed"] is True


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"now": "2026-12-12T23:00:00"}, "now: expected an ISO 8601 time with its UTC offset such as "
                                         "2026-12-12T23:00:00+01:00, got '2026-12-12T23:00:00'"),
        ({"now": "saturday night"}, "now: expected an ISO 8601 time with its UTC offset"),
        ({"now": 1765576800}, "now: expected an ISO 8601 time with its UTC offset"),
        ({"override": "   "}, "override: expected the reason this run proceeds outside the maintenance "),
        ({"override": True}, "override: expected the reason this run proceeds outside the maintenance "),
        ({"timezone": "Berlin"}, "timezone (the default for windows that name none): unknown time zone"),
    ],
)  # fmt: skip
def test_the_filter_names_its_bad_arguments(kwargs, expected):
    with pytest.raises(AnsibleFilterError) as raised:
        maintenance_window(SATURDAY_NIGHT, **{"now": "2026-12-12T23:00:00+01:00", **kwargs})
    assert expected in str(raised.value)
    assert "Traceback" not in str(raised.value)


def test_the_filter_takes_the_controllers_time_when_now_is_left_out():
    got = maintenance_window([{"days": "daily", "start": "00:00", "end": "23:59"}])
    assert got["allowed"] == got["inside"]
    assert (got["opened"] or got["next_opens"]).endswith("+00:00")


def test_a_filter_plugin_ansible_finds():
    from ansible_collections.rackwright.infra.plugins.filter.rackwright_window import FilterModule

    assert FilterModule().filters() == {"maintenance_window": maintenance_window}
