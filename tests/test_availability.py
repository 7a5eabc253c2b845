"""Whether a contact may be phoned at an instant: weekly windows on the tenant's wall clock, across
midnight and daylight-saving changes, and away periods that win over every window."""

from __future__ import annotations

from datetime import UTC, datetime, time

import pytest
from django.core.exceptions import ValidationError

from tenants.availability import Availability, Away, Window, next_local
from tenants.availability_text import away_format, away_parse, windows_format, windows_parse

LONDON = "Europe/London"
NEW_YORK = "America/New_York"
MON, TUE, WED, THU, FRI, SAT, SUN = range(7)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def hours(*windows: tuple[int, str, str]) -> Availability:
    return Availability(
        windows=tuple(
            Window(weekday=day, starts=time.fromisoformat(a), ends=time.fromisoformat(b))
            for day, a, b in windows
        )
    )


def test_a_contact_without_windows_or_absences_is_always_available() -> None:
    always = Availability()
    for instant in (utc(2026, 1, 4, 3, 0), utc(2026, 7, 15, 12, 0), utc(2026, 3, 29, 1, 30)):
        assert always.available(instant, LONDON)


def test_office_hours_are_the_same_wall_clock_hours_in_winter_and_summer() -> None:
    office = hours(*[(day, "08:00", "18:00") for day in (MON, TUE, WED, THU, FRI)])
    # Monday 12 January 2026 (GMT, UTC+0) and Monday 13 July 2026 (BST, UTC+1).
    assert not office.available(utc(2026, 1, 12, 7, 59), LONDON)
    assert office.available(utc(2026, 1, 12, 8, 0), LONDON)
    assert office.available(utc(2026, 1, 12, 17, 59), LONDON)
    assert not office.available(utc(2026, 1, 12, 18, 0), LONDON)
    assert office.available(utc(2026, 7, 13, 7, 0), LONDON)  # 08:00 BST
    assert not office.available(utc(2026, 7, 13, 17, 0), LONDON)  # 18:00 BST
    assert not office.available(utc(2026, 1, 17, 12, 0), LONDON)  # a Saturday


def test_a_window_that_crosses_midnight_ends_the_next_morning() -> None:
    night = hours((SAT, "22:00", "06:00"))
    assert not night.available(utc(2026, 1, 17, 21, 59), LONDON)  # Saturday 21:59
    assert night.available(utc(2026, 1, 17, 22, 0), LONDON)
    assert night.available(utc(2026, 1, 18, 3, 0), LONDON)  # Sunday 03:00
    assert night.available(utc(2026, 1, 18, 5, 59), LONDON)
    assert not night.available(utc(2026, 1, 18, 6, 0), LONDON)
    assert not night.available(utc(2026, 1, 16, 23, 0), LONDON)  # Friday night is not Saturday night
    assert not night.available(utc(2026, 1, 19, 1, 0), LONDON)  # nor is Monday morning


def test_a_sunday_night_window_wraps_into_monday() -> None:
    night = hours((SUN, "23:00", "02:00"))
    assert night.available(utc(2026, 1, 18, 23, 30), LONDON)  # Sunday
    assert night.available(utc(2026, 1, 19, 1, 30), LONDON)  # Monday
    assert not night.available(utc(2026, 1, 19, 2, 0), LONDON)


def test_a_window_from_midnight_to_midnight_is_the_whole_day() -> None:
    sunday = hours((SUN, "00:00", "00:00"))
    assert sunday.available(utc(2026, 1, 18, 0, 0), LONDON)
    assert sunday.available(utc(2026, 1, 18, 23, 59), LONDON)
    assert not sunday.available(utc(2026, 1, 19, 0, 0), LONDON)
    assert not sunday.available(utc(2026, 1, 17, 23, 59), LONDON)


@pytest.mark.parametrize(
    ("window", "zone", "inside", "outside"),
    [
        pytest.param(
            # Sunday 29 March 2026: at 01:00 GMT London's clocks jump to 02:00 BST.
            (SUN, "01:00", "03:00"),
            LONDON,
            [utc(2026, 3, 29, 1, 0), utc(2026, 3, 29, 1, 59)],  # 02:00 and 02:59 BST
            [utc(2026, 3, 29, 0, 59), utc(2026, 3, 29, 2, 0)],  # 00:59 GMT; 03:00 BST: one real hour in all
            id="when clocks go forward the hour that never happens is in no window",
        ),
        pytest.param(
            # Sunday 25 October 2026: at 02:00 BST London's clocks go back to 01:00 GMT.
            (SUN, "01:00", "02:00"),
            LONDON,
            [utc(2026, 10, 25, 0, 30), utc(2026, 10, 25, 1, 30)],  # 01:30 BST, then 01:30 GMT
            [utc(2026, 10, 24, 23, 59), utc(2026, 10, 25, 2, 0)],  # 00:59 BST; 02:00 GMT: two real hours
            id="when clocks go back the hour that happens twice is in the window both times",
        ),
        pytest.param(
            # Saturday 7 March 2026 22:00 EST to Sunday 8 March 06:00 EDT in New York.
            (SAT, "22:00", "06:00"),
            NEW_YORK,
            [utc(2026, 3, 8, 3, 0), utc(2026, 3, 8, 9, 59)],  # 22:00 EST; 05:59 EDT
            [utc(2026, 3, 8, 10, 0)],  # 06:00 EDT
            id="a night window over the spring change ends at the wall clock hour",
        ),
    ],
)
def test_a_window_keeps_its_wall_clock_hours_across_daylight_saving_changes(
    window: tuple[int, str, str], zone: str, inside: list[datetime], outside: list[datetime]
) -> None:
    for instant in inside:
        assert hours(window).available(instant, zone), instant
    for instant in outside:
        assert not hours(window).available(instant, zone), instant


def test_an_absence_wins_over_every_window_and_ends_after_its_last_day() -> None:
    (holiday,) = away_parse("2026-12-21 until 2027-01-03 Skiing", LONDON)
    office = Availability(windows=hours((MON, "00:00", "00:00")).windows, away=(holiday,))
    assert not office.available(utc(2026, 12, 28, 12, 0), LONDON)  # a Monday, on holiday
    assert office.why_not(utc(2026, 12, 28, 12, 0), LONDON) == "away until 2027-01-04 00:00 (Skiing)"
    assert not office.available(utc(2027, 1, 3, 23, 59), LONDON)
    assert office.available(utc(2027, 1, 4, 0, 0), LONDON)  # back on Monday at midnight
    assert not office.available(utc(2026, 12, 20, 23, 59), LONDON)  # a Sunday: outside the window


def test_an_absence_in_dates_follows_the_tenant_clock_over_the_autumn_change() -> None:
    (weekend,) = away_parse("2026-10-31 until 2026-11-01", NEW_YORK)
    assert weekend.starts_at == utc(2026, 10, 31, 4, 0)  # midnight EDT
    assert weekend.ends_at == utc(2026, 11, 2, 5, 0)  # midnight EST
    away = Availability(away=(weekend,))
    assert not away.available(utc(2026, 11, 2, 4, 59), NEW_YORK)
    assert away.available(utc(2026, 11, 2, 5, 0), NEW_YORK)


def test_why_not_names_the_hours_of_a_contact_outside_them() -> None:
    office = hours((MON, "08:00", "18:00"), (TUE, "08:00", "18:00"))
    assert office.why_not(utc(2026, 1, 12, 12, 0), LONDON) == ""
    assert office.why_not(utc(2026, 1, 12, 20, 0), LONDON) == (
        "outside their hours (Mon 08:00-18:00, Tue 08:00-18:00)"
    )


def test_the_next_saturday_night_at_3_am_is_sunday_3_am_on_the_tenant_clock() -> None:
    # From Wednesday 25 March 2026 in London: Sunday 29 March 03:00 is BST, the day clocks change.
    assert next_local(LONDON, weekday=SUN, clock=time(3), after=utc(2026, 3, 25, 12)) == utc(2026, 3, 29, 2)
    # From that very instant, the next one is a week later.
    assert next_local(LONDON, weekday=SUN, clock=time(3), after=utc(2026, 3, 29, 2)) == utc(2026, 4, 5, 2)
    assert next_local(NEW_YORK, weekday=SUN, clock=time(3), after=utc(2026, 1, 14)) == utc(2026, 1, 18, 8)


# The words of the contacts page ------------------------------------------------------------------


def test_windows_are_written_as_day_ranges_and_read_back_the_same() -> None:
    windows = windows_parse("Mon-Fri 08:00-18:00\nsat,sun 22:00-06:00\nFri-Mon 00:00-24:00")
    assert Window(FRI, time(0), time(0)) in windows and Window(MON, time(0), time(0)) in windows
    assert len([w for w in windows if w.starts == time(8)]) == 5
    assert windows_parse(windows_format(windows)) == windows
    assert windows_format(windows_parse("Mon 08:00-12:00\nTue 08:00-12:00\nThu 08:00-12:00")) == (
        "Mon-Tue 08:00-12:00\nThu 08:00-12:00"
    )


@pytest.mark.parametrize("line", ["Mnday 08:00-18:00", "Mon 8-18", "Mon 25:00-26:00", "08:00-18:00", "Mon"])
def test_a_bad_window_line_is_named_in_the_error(line: str) -> None:
    with pytest.raises(ValidationError) as error:
        windows_parse(f"Tue 08:00-18:00\n{line}")
    assert error.value.messages == [
        f"Line 2 ({line!r}): write the days, then the hours, for example Mon-Fri 08:00-18:00 or "
        "Sat 22:00-06:00."
    ]


def test_absences_are_read_in_whole_days_or_with_times_and_written_back_the_same() -> None:
    text = "2026-12-21 until 2027-01-03 Skiing\n2026-11-30 18:00 until 2026-12-01 08:00 Night off"
    periods = away_parse(text, LONDON)
    assert [p.note for p in periods] == ["Night off", "Skiing"]
    assert periods[0] == Away(utc(2026, 11, 30, 18), utc(2026, 12, 1, 8), "Night off")
    assert away_parse(away_format(periods, LONDON), LONDON) == periods


@pytest.mark.parametrize(
    ("line", "says"),
    [
        ("2026-12-21 until 2026-12-20", "must end after it starts"),
        ("2026-12-21 18:00 until 2026-12-21 09:00", "must end after it starts"),
        ("2026-13-01 until 2026-12-20", "write when the absence starts and ends"),
        ("next week", "write when the absence starts and ends"),
    ],
)
def test_a_bad_absence_line_is_named_in_the_error(line: str, says: str) -> None:
    with pytest.raises(ValidationError) as error:
        away_parse(line, LONDON)
    assert error.value.messages[0].startswith(f"Line 1 ({line!r}): ")
    assert says in error.value.messages[0]
