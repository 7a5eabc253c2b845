"""Whom a call tree would phone at a given moment, from the contacts' real windows and absences: the
settings page shows it for right now and for the coming Saturday night at 3 a.m."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, time

from tenants.availability import next_local, who_is_available
from tenants.models import Contact, Tenant, Weekday
from tenants.selectors import phone_contacts


@dataclass(frozen=True)
class Reach:
    label: str
    at: datetime
    phoned: tuple[str, ...]
    not_phoned: tuple[tuple[str, str], ...]  # (name, why)


def _reach(contacts: Sequence[Contact], at: datetime, zone: str, label: str) -> Reach:
    available, unavailable = who_is_available(contacts, at, zone)
    return Reach(
        label=label,
        at=at,
        phoned=tuple(c.name for c in available),
        not_phoned=tuple((u.contact.name, u.why) for u in unavailable),
    )


def reach_now_and_saturday_night(tenant: Tenant, now: datetime) -> tuple[Reach, Reach]:
    """Who would be phoned now, and in the coming night from Saturday to Sunday at 3 a.m. (tenant's clock)."""
    contacts = list(phone_contacts(tenant).prefetch_related("windows", "away_periods"))
    night = next_local(tenant.timezone, weekday=Weekday.SUNDAY, clock=time(3, 0), after=now)
    return (
        _reach(contacts, now, tenant.timezone, "Right now"),
        _reach(contacts, night, tenant.timezone, "On Saturday night at 3 a.m."),
    )
