"""A report's period: this month, last month or a range of days, as a half-open interval in UTC."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta


@dataclass(frozen=True)
class Period:
    """Incidents opened at or after start and before end."""

    start: datetime
    end: datetime

    @property
    def label(self) -> str:
        last_day = (self.end - timedelta(days=1)).date()
        return f"{self.start.date():%Y-%m-%d} to {last_day:%Y-%m-%d} (UTC)"


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


def month_of(day: date) -> Period:
    first = day.replace(day=1)
    following = (first + timedelta(days=32)).replace(day=1)
    return Period(_midnight(first), _midnight(following))


def previous_month(day: date) -> Period:
    return month_of(day.replace(day=1) - timedelta(days=1))


def days(first: date, last: date) -> Period:
    """From the first day's midnight to the end of the last day."""
    return Period(_midnight(first), _midnight(last + timedelta(days=1)))
