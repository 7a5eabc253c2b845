"""Rules on a tenant's settings that every path (services, admin forms, pages, API) applies the same way."""

from __future__ import annotations

from collections.abc import Iterable

from django.core.exceptions import ValidationError

from tenants.models import Role

FALLBACK_NEEDS_PHONE = (
    "The no-acknowledgment fallback (act as in Authorize mode when nobody answers) needs at least one active "
    "contact with a phone number: add or activate a contact with a phone number first."
)
LAST_PHONE_CONTACT = (
    "This would leave no active contact with a phone number while the no-acknowledgment fallback is on: "
    "add another contact with a phone number, or turn the fallback off first."
)


def has_reachable_phone(contacts: Iterable[tuple[bool, object]]) -> bool:
    """True when one of the (active, phone) pairs is an active contact with a phone number."""
    return any(active and phone for active, phone in contacts)


def check_fallback_reachable(
    *, authorize_on_no_ack: bool, contacts: Iterable[tuple[bool, object]], message: str = FALLBACK_NEEDS_PHONE
) -> None:
    if authorize_on_no_ack and not has_reachable_phone(contacts):
        raise ValidationError(message, code="fallback_needs_phone")


CONTACT_NEEDS_A_WAY = (
    "Give at least a phone number or an email address: otherwise this contact cannot be notified."
)


def check_contact_reachable(*, phone: object, email: str) -> None:
    if not phone and not email:
        raise ValidationError(CONTACT_NEEDS_A_WAY, code="unreachable_contact")


# Authorize or decline in writing, and acknowledge an incident for the customer.
DECIDE_ROLES = frozenset({Role.APPROVER, Role.ADMIN})


def may_decide(role: Role | str | None) -> bool:
    return role in DECIDE_ROLES
