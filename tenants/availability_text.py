"""A contact's availability as the contacts page writes it: one weekly window or away period per line.

Windows: `Mon-Fri 08:00-18:00`, `Sat,Sun 09:00-12:00`, `Sat 22:00-06:00` (ends the next morning).
Away: `2026-12-21 until 2027-01-03 Holiday` (whole days, the last one included) or
`2026-12-21 18:00 until 2026-12-22 08:00 Night off`, in the tenant's time zone.
"""

from __future__ import annotations

import re
import zoneinfo
from collections.abc import Sequence
from datetime import date, datetime, time, timedelta

from django.core.exceptions import ValidationError

from tenants.availability import SHORT_DAYS, Away, Window

MAX_WINDOWS = 50
MAX_AWAY = 50
DAY_NAMES = {name.lower(): i for i, name in enumerate(SHORT_DAYS)} | {
    name.lower(): i
    for i, name in enumerate(("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"))
}
WINDOW_LINE = re.compile(
    r"^(?P<days>[A-Za-z,\- ]+?)\s+(?P<start>\d{1,2}:\d{2})\s*-\s*(?P<end>\d{1,2}:\d{2})$"
)
AWAY_LINE = re.compile(
    r"^(?P<from>\d{4}-\d{2}-\d{2})(?:[ T](?P<from_time>\d{1,2}:\d{2}))?"
    r"\s+(?:until|to)\s+"
    r"(?P<to>\d{4}-\d{2}-\d{2})(?:[ T](?P<to_time>\d{1,2}:\d{2}))?"
    r"(?:\s+(?P<note>.*))?$",
    re.IGNORECASE,
)
WINDOW_EXAMPLE = "for example Mon-Fri 08:00-18:00 or Sat 22:00-06:00"
AWAY_EXAMPLE = "for example 2026-12-21 until 2027-01-03 Holiday, or 2026-12-21 18:00 until 2026-12-22 08:00"


def _lines(text: str) -> list[tuple[int, str]]:
    return [(n, line.strip()) for n, line in enumerate(text.splitlines(), start=1) if line.strip()]


def _clock(value: str) -> time:
    hours, minutes = (int(part) for part in value.split(":"))
    if hours == 24 and minutes == 0:
        return time(0, 0)
    return time(hours, minutes)  # ValueError when out of range


def _days(value: str) -> list[int]:
    days: list[int] = []
    for part in value.replace(" ", "").split(","):
        first, _, last = part.partition("-")
        start = DAY_NAMES[first.lower()]
        end = DAY_NAMES[last.lower()] if last else start
        days.extend((start + i) % 7 for i in range((end - start) % 7 + 1))
    return days


def windows_parse(text: str) -> list[Window]:
    """The windows written on the lines; every bad line is named in one error."""
    windows: list[Window] = []
    errors: list[str] = []
    for number, line in _lines(text):
        match = WINDOW_LINE.match(line)
        try:
            if match is None:
                raise ValueError
            days = _days(match["days"])
            starts, ends = _clock(match["start"]), _clock(match["end"])
        except (ValueError, KeyError):
            errors.append(f"Line {number} ({line!r}): write the days, then the hours, {WINDOW_EXAMPLE}.")
            continue
        windows.extend(Window(weekday=day, starts=starts, ends=ends) for day in days)
    if len(windows) > MAX_WINDOWS:
        errors.append(f"At most {MAX_WINDOWS} weekly windows per contact.")
    if errors:
        raise ValidationError(errors, code="bad_window")
    return sorted(set(windows), key=lambda w: (w.weekday, w.starts, w.ends))


def windows_format(windows: Sequence[Window]) -> str:
    """One line per run of consecutive days with the same hours: `Mon-Fri 08:00-18:00`."""
    by_hours: dict[tuple[time, time], list[int]] = {}
    for window in sorted(windows, key=lambda w: (w.weekday, w.starts)):
        by_hours.setdefault((window.starts, window.ends), []).append(window.weekday)
    lines: list[tuple[int, str]] = []
    for (starts, ends), days in by_hours.items():
        runs: list[list[int]] = []
        for day in days:
            if runs and runs[-1][-1] == day - 1:
                runs[-1].append(day)
            else:
                runs.append([day])
        for run in runs:
            name = SHORT_DAYS[run[0]] if len(run) == 1 else f"{SHORT_DAYS[run[0]]}-{SHORT_DAYS[run[-1]]}"
            lines.append((run[0], f"{name} {starts:%H:%M}-{ends:%H:%M}"))
    return "\n".join(line for _, line in sorted(lines))


def _local(day: str, clock: str | None, tz: zoneinfo.ZoneInfo, *, end: bool) -> datetime:
    when = date.fromisoformat(day)
    if clock is None:
        # A date alone: from the start of that day, or until the end of it.
        return datetime.combine(when + timedelta(days=1 if end else 0), time(0, 0), tzinfo=tz)
    return datetime.combine(when, _clock(clock), tzinfo=tz)


def away_parse(text: str, zone: str) -> list[Away]:
    """The away periods written on the lines, in the zone; every bad line is named in one error."""
    tz = zoneinfo.ZoneInfo(zone)
    periods: list[Away] = []
    errors: list[str] = []
    for number, line in _lines(text):
        match = AWAY_LINE.match(line)
        try:
            if match is None:
                raise ValueError
            starts = _local(match["from"], match["from_time"], tz, end=False)
            ends = _local(match["to"], match["to_time"], tz, end=True)
        except ValueError:
            errors.append(
                f"Line {number} ({line!r}): write when the absence starts and ends, {AWAY_EXAMPLE}."
            )
            continue
        note = (match["note"] or "").strip()
        if ends <= starts:
            errors.append(f"Line {number} ({line!r}): the absence must end after it starts.")
        elif len(note) > 200:
            errors.append(f"Line {number}: the note can be at most 200 characters long.")
        else:
            periods.append(Away(starts_at=starts, ends_at=ends, note=note))
    if len(periods) > MAX_AWAY:
        errors.append(f"At most {MAX_AWAY} away periods per contact.")
    if errors:
        raise ValidationError(errors, code="bad_away")
    return sorted(periods, key=lambda a: a.starts_at)


def away_format(periods: Sequence[Away], zone: str) -> str:
    """One line per period: whole days as dates (the last day included), else dates and times."""
    tz = zoneinfo.ZoneInfo(zone)
    lines = []
    for period in periods:
        starts, ends = period.starts_at.astimezone(tz), period.ends_at.astimezone(tz)
        if starts.time() == time(0) and ends.time() == time(0):
            text = f"{starts:%Y-%m-%d} until {ends.date() - timedelta(days=1):%Y-%m-%d}"
        else:
            text = f"{starts:%Y-%m-%d %H:%M} until {ends:%Y-%m-%d %H:%M}"
        lines.append(f"{text} {period.note}".rstrip())
    return "\n".join(lines)
