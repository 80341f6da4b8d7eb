# Copyright: (c) rackwright contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Declared maintenance windows (``rackwright_maintenance_window`` in the inventory): is a host inside one
now, and if not, when does the next one open?

One mechanism for every capability that may only act inside a window (a server replacement's cutover, a
rolling reboot that otherwise stays pending). Pure and stdlib only (``zoneinfo`` for the time zones).

A window spec is a list of windows; each window is a mapping:

    days: [sat]              # mon, tue, wed, thu, fri, sat, sun, or daily, weekdays (mon-fri), weekends
                             # (sat, sun); a list, or one of these names on its own (days: daily)
    start: '22:00'           # local 24-hour time, in quotes: YAML reads an unquoted 22:00 as the number 1320
    end: '04:00'             # an end before the start runs past midnight: this window is sat 22:00 to
                             # sun 04:00; the day named is the day the window opens
    timezone: Europe/Berlin  # an IANA name; optional: default UTC, or the zone the caller passes (the host's)

The start is inside the window, the end is not. An empty list (or none at all) declares no window: a host is
then never inside one.

Times are wall-clock times in the window's zone, so a window keeps its local hours across daylight saving
changes (sat 22:00-04:00 lasts 7 hours the night clocks go back in autumn, 5 the night they go forward). On
the day of a change nothing crashes, and a window opens when the clock shows its start and closes when it
shows its end:

- a time the clock skips (02:30 on the spring-forward day, Europe/Berlin 2026-03-29: 02:00 jumps to 03:00)
  is reached the moment the clock jumps past it: a window starting at 02:30 opens at 03:00 summer time, one
  ending at 02:30 closes then; a window wholly inside the skipped hour (02:15-02:45) does not open that day;
- a time the clock shows twice (02:30 on the fall-back day, 2026-10-25: 03:00 goes back to 02:00) means its
  first showing, in summer time: a window starting then opens at 02:30+02:00, one ending then closes at
  02:30+02:00 (and is closed during the second 02:00-03:00, in winter time).

``window_problems`` checks a spec (the inventory gate runs it before any host is contacted); ``window_state``
answers for one instant, or raises ``WindowError`` (a ValueError) listing every problem of the spec.
"""

import difflib
import re
import zoneinfo
from datetime import UTC, datetime, time, timedelta

NAME = "rackwright_maintenance_window"
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DAY_GROUPS = {"daily": DAYS, "weekdays": DAYS[:5], "weekends": DAYS[5:]}
KEYS = ("days", "start", "end", "timezone")
REQUIRED = ("days", "start", "end")
DEFAULT_TIMEZONE = "UTC"
EXAMPLE = "{days: [sat], start: '22:00', end: '04:00', timezone: Europe/Berlin}"
TIME = re.compile(r"([01][0-9]|2[0-3]):([0-5][0-9])")
# Days ahead searched for the next opening: every weekday twice, so a window that a DST change swallows on
# one day still has a next opening a week later.
HORIZON_DAYS = 15


class WindowError(ValueError):
    """A window spec that cannot be judged; ``problems`` holds one sentence per problem."""

    def __init__(self, problems):
        self.problems = list(problems)
        super().__init__("; ".join(self.problems))


def _say(value):
    """VALUE and its type in YAML's words (Ansible hands plugins its own list, dict and str types)."""
    if isinstance(value, str):
        return repr(str(value))
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return f"a boolean ({value})"
    if isinstance(value, (int, float)):
        return f"a number ({value})"
    if isinstance(value, dict):
        return f"a mapping ({dict(value)!r})"
    if isinstance(value, (list, tuple)):
        return f"a list ({list(value)!r})"
    return f"a {type(value).__name__} ({value!r})"


def _zone(name):
    """The tzinfo of the IANA zone NAME, or None when there is no such zone."""
    if name == "UTC":
        return UTC  # needs no time-zone database
    if not isinstance(name, str):
        return None
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        return None


def _zone_problem(at, value):
    """A sentence saying why VALUE is no time zone, or None when it is one."""
    if isinstance(value, str) and value and _zone(value) is not None:
        return None
    expected = "expected an IANA time zone such as Europe/Berlin or UTC"
    if not isinstance(value, str) or not value:
        return f"{at}: {expected}, got {_say(value)}"
    known = sorted(zoneinfo.available_timezones())
    if not known:
        return (
            f"{at}: unknown time zone {value!r}: this machine has no time-zone database "
            "(Debian: apt-get install tzdata)"
        )
    hint = difflib.get_close_matches(value, known, n=1) or [k for k in known if k.lower() == value.lower()]
    hint = f"; did you mean {hint[0]!r}?" if hint else ""
    return f"{at}: unknown time zone {value!r} ({expected}{hint})"


def _time(at, value):
    """(time, problem): the time of an 'HH:MM' string, or None and a sentence saying what was expected."""
    expected = "expected HH:MM (24-hour)"
    if isinstance(value, str) and TIME.fullmatch(value):
        return time(int(value[:2]), int(value[3:])), None
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 24 * 60:
        # YAML 1.1 (Ansible's) reads an unquoted 22:00 as a base-60 number: say what was meant.
        meant = f"{value // 60:02d}:{value % 60:02d}"
        return None, (
            f"{at}: {expected} in quotes, got the number {value} (YAML reads an unquoted {meant} as "
            f"{value}: write '{meant}')"
        )
    return None, f"{at}: {expected}, got {_say(value)}"


def _days(at, value):
    """(weekday numbers, label, problems) of a window's days."""
    names = [value] if isinstance(value, str) else value
    if not isinstance(names, (list, tuple)):
        expected = "expected a list of days such as [sat, sun], or daily, weekdays or weekends"
        return set(), "", [f"{at}: {expected}, got {_say(value)}"]
    if not names:
        return set(), "", [f"{at}: empty; name at least one day (mon..sun, daily, weekdays or weekends)"]
    known = list(DAYS) + list(DAY_GROUPS)
    numbers, problems = set(), []
    for index, name in enumerate(names):
        where = at if isinstance(value, str) else f"{at}[{index}]"
        if isinstance(name, str) and name in DAY_GROUPS:
            numbers.update(DAYS.index(day) for day in DAY_GROUPS[name])
        elif isinstance(name, str) and name in DAYS:
            numbers.add(DAYS.index(name))
        else:
            text = name.lower()[:3] if isinstance(name, str) else ""
            hint = [text] if text in DAYS else difflib.get_close_matches(str(name).lower(), known, n=1)
            problems.append(
                f"{where}: expected one of {', '.join(known)}, got {_say(name)}"
                + (f" (did you mean {hint[0]!r}?)" if hint else "")
            )
    return numbers, ",".join(str(n) for n in names), problems


def _window(at, window, default_timezone):
    """(parsed window, problems) of one window of a spec; the parsed window is None when it has problems."""
    if not isinstance(window, dict):
        return None, [f"{at}: expected a mapping such as {EXAMPLE}, got {_say(window)}"]
    problems = []
    for key in sorted(set(window) - set(KEYS), key=str):
        hint = difflib.get_close_matches(str(key), KEYS, n=1)
        problems.append(
            f"{at}: unknown key {str(key)!r}"
            + (f" (did you mean {hint[0]!r}?)" if hint else f" (expected {', '.join(KEYS)})")
        )
    for key in REQUIRED:
        if key not in window:
            what = "the days it opens" if key == "days" else "HH:MM (24-hour), in quotes"
            problems.append(f"{at}.{key}: missing (expected {what}; {at} must look like {EXAMPLE})")
    numbers, label, found = _days(f"{at}.days", window["days"]) if "days" in window else (set(), "", [])
    problems.extend(found)
    start, problem = _time(f"{at}.start", window["start"]) if "start" in window else (None, None)
    problems.extend([problem] if problem else [])
    end, problem = _time(f"{at}.end", window["end"]) if "end" in window else (None, None)
    problems.extend([problem] if problem else [])
    if start is not None and start == end:
        problems.append(
            f"{at}: start and end are both {window['start']!r}, which is no window (expected an end after "
            "the start, or before it for a window that runs past midnight)"
        )
    zone_name = window.get("timezone", default_timezone)
    if "timezone" in window:
        problem = _zone_problem(f"{at}.timezone", zone_name)
        problems.extend([problem] if problem else [])
    if problems:
        return None, problems
    return {
        "days": numbers, "start": start, "end": end, "zone": _zone(zone_name),
        "label": f"{label} {window['start']}-{window['end']} {zone_name}",
    }, []  # fmt: skip


def _check(spec, name, default_timezone):
    """(parsed windows, problems) of SPEC; None (not declared) counts as an empty spec."""
    if spec is None:
        return [], []
    if not isinstance(spec, (list, tuple)):
        hint = " (one window is still a list of one: put '- ' before days)" if isinstance(spec, dict) else ""
        return [], [f"{name}: expected a list of windows such as [{EXAMPLE}], got {_say(spec)}{hint}"]
    problems = []
    default = DEFAULT_TIMEZONE if default_timezone is None else default_timezone
    if default_timezone is not None:
        problem = _zone_problem("timezone (the default for windows that name none)", default)
        problems.extend([problem] if problem else [])
    windows = []
    for index, window in enumerate(spec):
        parsed, found = _window(f"{name}[{index}]", window, default)
        problems.extend(found)
        if parsed is not None:
            windows.append(dict(parsed, index=index))
    return windows, problems


def window_problems(spec, name=NAME, default_timezone=None):
    """Every problem of the window spec SPEC, as sentences naming the variable path (NAME[0].start ...);
    [] when it is sound. DEFAULT_TIMEZONE is the zone of windows that name none (UTC when not given)."""
    return _check(spec, name, default_timezone)[1]


def _instant(day, clock, zone):
    """The instant, in UTC, at which the clock in ZONE shows CLOCK on DAY (see the module's notes on DST): its
    first showing, or, when the clock skips it, the moment the clock jumps past it."""
    local = datetime.combine(day, clock, tzinfo=zone)
    instant = local.astimezone(UTC)  # fold=0: the offset in force before any change, so the first showing
    if instant.astimezone(zone).replace(tzinfo=None) == local.replace(tzinfo=None):
        return instant
    # The clock skips CLOCK. fold=1 reads it with the offset after the change, an instant before the jump;
    # fold=0 with the offset before it, an instant after: the jump is the first second between them that
    # has the new offset.
    before, after = int(local.replace(fold=1).astimezone(UTC).timestamp()), int(instant.timestamp())
    offset = instant.astimezone(zone).utcoffset()
    while after - before > 1:
        middle = (before + after) // 2
        if datetime.fromtimestamp(middle, zone).utcoffset() == offset:
            after = middle
        else:
            before = middle
    return datetime.fromtimestamp(after, UTC)


def _openings(window, now):
    """(opens, closes) in UTC of WINDOW from the day before NOW's local date to HORIZON_DAYS after it."""
    today = now.astimezone(window["zone"]).date()
    overnight = window["end"] <= window["start"]
    for offset in range(-1, HORIZON_DAYS):
        day = today + timedelta(days=offset)
        if day.weekday() not in window["days"]:
            continue
        opens = _instant(day, window["start"], window["zone"])
        closes = _instant(day + timedelta(days=1 if overnight else 0), window["end"], window["zone"])
        if closes > opens:  # a window wholly inside the hour a spring-forward skips does not open that day
            yield opens, closes


def _iso(instant, zone):
    return instant.astimezone(zone).isoformat()


def window_state(spec, now, name=NAME, default_timezone=None):
    """Where NOW (an aware datetime) stands against the window spec SPEC.

    Returns ``{inside, window, opened, closes, next_opens, next_window, reason}``: the index of the window
    NOW is in (the one that stays open longest when several are), when it opened and when it closes; when
    outside, when the next one opens and which; the times are ISO 8601 in the window's zone, REASON one
    sentence for a technician. An empty spec declares no window: never inside. Raises WindowError, listing
    every problem, for an invalid spec or a NOW without its UTC offset.
    """
    if not isinstance(now, datetime) or now.utcoffset() is None:
        raise WindowError([f"now: expected a date and time with its UTC offset, got {_say(now)}"])
    windows, problems = _check(spec, name, default_timezone)
    if problems:
        raise WindowError(problems)
    state = {"inside": False, "window": None, "opened": None, "closes": None, "next_opens": None,
             "next_window": None}  # fmt: skip
    if not windows:
        return dict(state, reason=f"no maintenance window is declared ({name} is empty)")
    now = now.astimezone(UTC)
    current, upcoming = [], []
    for window in windows:
        for opens, closes in _openings(window, now):
            if opens <= now < closes:
                current.append((closes, -window["index"], opens, window))
            elif opens > now:
                upcoming.append((opens, window["index"], window))
    if current:
        closes, _index, opens, window = max(current, key=lambda c: (c[0], c[1]))
        until = _iso(closes, window["zone"])
        return dict(
            state, inside=True, window=window["index"], opened=_iso(opens, window["zone"]), closes=until,
            reason=f"inside window {window['index']} ({window['label']}) until {until}",
        )  # fmt: skip
    if not upcoming:  # pragma: no cover - every window opens at least once a week
        reason = f"outside every maintenance window; none opens in the next {HORIZON_DAYS} days"
        return dict(state, reason=reason)
    opens, index, window = min(upcoming, key=lambda u: (u[0], u[1]))
    at = _iso(opens, window["zone"])
    return dict(
        state, next_opens=at, next_window=index,
        reason=f"outside every maintenance window; the next opens {at} (window {index})",
    )  # fmt: skip
