"""Whether a contact may be phoned at an instant: its weekly windows (wall-clock time in the tenant's time
zone) and its away periods.

Windows are compared on the local wall clock, so "08:00-18:00" means the same hours in winter and summer;
on the night clocks go back, an hour that happens twice is inside a window both times, and on the night
they go forward, the hour that never happens is in no window. No windows means always available; an away
period wins over every window.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta

from tenants.channels import ContactChannel, wants
from tenants.models import AvailabilityWindow, AwayPeriod, Contact

SHORT_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


@dataclass(frozen=True)
class Window:
    weekday: int  # 0 is Monday
    starts: time
    ends: time  # at or before starts: the window ends the next day

    @property
    def crosses_midnight(self) -> bool:
        return self.ends <= self.starts

    def covers(self, local: datetime) -> bool:
        """Is this wall-clock moment (in the tenant's zone) inside the window?"""
        clock = local.time()
        day = local.weekday()
        if not self.crosses_midnight:
            return day == self.weekday and self.starts <= clock < self.ends
        if day == self.weekday and clock >= self.starts:
            return True
        return day == (self.weekday + 1) % 7 and clock < self.ends

    def __str__(self) -> str:
        return f"{SHORT_DAYS[self.weekday]} {self.starts:%H:%M}-{self.ends:%H:%M}"


@dataclass(frozen=True)
class Away:
    starts_at: datetime
    ends_at: datetime
    note: str = ""

    def covers(self, at: datetime) -> bool:
        return self.starts_at <= at < self.ends_at


@dataclass(frozen=True)
class Availability:
    """A contact's weekly windows and away periods, read once."""

    windows: tuple[Window, ...] = ()
    away: tuple[Away, ...] = ()

    @classmethod
    def of(cls, contact: Contact) -> Availability:
        """From a contact whose windows and away_periods are prefetched (or fetched here)."""
        return cls(
            windows=tuple(window_of(w) for w in contact.windows.all()),
            away=tuple(away_of(a) for a in contact.away_periods.all()),
        )

    def why_not(self, at: datetime, zone: str) -> str:
        """Empty when the contact is available at the instant; else why not, in words."""
        for period in self.away:
            if period.covers(at):
                until = period.ends_at.astimezone(zoneinfo.ZoneInfo(zone))
                note = f" ({period.note})" if period.note else ""
                return f"away until {until:%Y-%m-%d %H:%M}{note}"
        if not self.windows:
            return ""
        local = at.astimezone(zoneinfo.ZoneInfo(zone))
        if any(w.covers(local) for w in self.windows):
            return ""
        return "outside their hours (" + ", ".join(str(w) for w in self.windows) + ")"

    def available(self, at: datetime, zone: str) -> bool:
        return not self.why_not(at, zone)


def window_of(row: AvailabilityWindow) -> Window:
    return Window(weekday=row.weekday, starts=row.starts, ends=row.ends)


def away_of(row: AwayPeriod) -> Away:
    return Away(starts_at=row.starts_at, ends_at=row.ends_at, note=row.note)


NO_VOICE = "chose not to be phoned (no voice calls)"


@dataclass(frozen=True)
class Unavailable:
    contact: Contact
    why: str


def who_is_available(
    contacts: Iterable[Contact], at: datetime, zone: str
) -> tuple[list[Contact], list[Unavailable]]:
    """The contacts a call tree may phone at the instant (in their order): they chose voice calls and are
    available; the others with the reason."""
    available, unavailable = [], []
    for contact in contacts:
        phoned = wants(contact, ContactChannel.VOICE)
        why = Availability.of(contact).why_not(at, zone) if phoned else NO_VOICE
        if why:
            unavailable.append(Unavailable(contact, why))
        else:
            available.append(contact)
    return available, unavailable


def is_available(contact: Contact, at: datetime) -> bool:
    """Is this contact available at the instant, in its tenant's (or partner's) time zone?"""
    return Availability.of(contact).available(at, contact.zone)


def next_local(zone: str, *, weekday: int, clock: time, after: datetime) -> datetime:
    """The first instant after `after` at which the wall clock in the zone reads this weekday and time."""
    tz = zoneinfo.ZoneInfo(zone)
    local = after.astimezone(tz)
    days = (weekday - local.weekday()) % 7
    candidate = datetime.combine(local.date() + timedelta(days=days), clock, tzinfo=tz)
    if candidate <= after:
        candidate = datetime.combine(candidate.date() + timedelta(days=7), clock, tzinfo=tz)
    return candidate


def windows_text(windows: Sequence[Window]) -> str:
    return ", ".join(str(w) for w in windows) if windows else "any time"
