"""Writes of a contact's availability: its weekly windows and away periods, replaced together and audited."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from tenants.availability import Availability, Away, Window
from tenants.availability_text import MAX_AWAY, MAX_WINDOWS, away_format, windows_format
from tenants.models import AvailabilityWindow, AwayPeriod, Contact, Partner, Tenant
from tenants.services import Actor, settings_audit


def availability_snapshot(availability: Availability, zone: str) -> dict[str, Any]:
    """As the audit and the admin show it: the same words the contacts page takes."""
    return {
        "windows": windows_format(availability.windows) or "any time",
        "away": away_format(availability.away, zone) or "never",
    }


def _check(windows: Sequence[Window], away: Sequence[Away]) -> None:
    errors: dict[str, list[str]] = {}
    if len(windows) > MAX_WINDOWS:
        errors["windows"] = [f"At most {MAX_WINDOWS} weekly windows per contact."]
    if any(not 0 <= w.weekday <= 6 for w in windows):
        errors.setdefault("windows", []).append("A weekday is 0 (Monday) to 6 (Sunday).")
    if len(away) > MAX_AWAY:
        errors["away"] = [f"At most {MAX_AWAY} away periods per contact."]
    if any(a.ends_at <= a.starts_at for a in away):
        errors.setdefault("away", []).append("An away period must end after it starts.")
    if any(a.starts_at.tzinfo is None or a.ends_at.tzinfo is None for a in away):
        errors.setdefault("away", []).append("An away period needs times with their time zone.")
    if any(len(a.note) > 200 for a in away):
        errors.setdefault("away", []).append("A note can be at most 200 characters long.")
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def contact_availability_set(
    *, contact: Contact, by: Actor, windows: Sequence[Window], away: Sequence[Away]
) -> Contact:
    """Replace a contact's (a tenant's or a partner's) weekly windows and away periods. No windows:
    available at any time.

    A run already under way keeps the plan it started with; this applies to runs that start later.
    """
    _check(windows, away)
    if contact.tenant_id is None:
        assert contact.partner_id is not None  # contact_has_one_owner
        Partner.objects.select_for_update(no_key=True).get(pk=contact.partner_id)  # as a tenant is locked
        _replace(Contact.objects.select_for_update(no_key=True).get(pk=contact.pk), windows, away)
        return contact  # a partner's settings are MDR Ops' own (Django admin's log), not a customer's audit
    tenant = Tenant.objects.select_for_update(no_key=True).get(pk=contact.tenant_id)
    locked = Contact.objects.select_for_update(no_key=True).get(pk=contact.pk)
    before = availability_snapshot(Availability.of(locked), tenant.timezone)
    _replace(locked, windows, away)
    after = availability_snapshot(Availability(windows=tuple(windows), away=tuple(away)), tenant.timezone)
    if before != after:
        settings_audit(
            tenant=tenant, by=by, field="availability", subject=locked.name, before=before, after=after
        )
    return contact


def _replace(locked: Contact, windows: Sequence[Window], away: Sequence[Away]) -> None:
    AvailabilityWindow.objects.filter(contact=locked).delete()
    AwayPeriod.objects.filter(contact=locked).delete()
    AvailabilityWindow.objects.bulk_create(
        AvailabilityWindow(contact=locked, weekday=w.weekday, starts=w.starts, ends=w.ends) for w in windows
    )
    AwayPeriod.objects.bulk_create(
        AwayPeriod(contact=locked, starts_at=a.starts_at, ends_at=a.ends_at, note=a.note) for a in away
    )
