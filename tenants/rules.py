"""Rules on a tenant's settings that every path (services, admin forms, pages, API) applies the same way."""

from __future__ import annotations

from collections.abc import Iterable

from django.core.exceptions import ValidationError

from tenants.channels import ContactChannel, takes
from tenants.models import Role

FALLBACK_NEEDS_PHONE = (
    "The no-acknowledgment fallback (act as in Authorize mode when nobody answers) needs at least one active "
    "contact with a phone number who takes phone calls: add or activate one first, or choose phone calls for "
    "a contact with a phone number."
)
LAST_PHONE_CONTACT = (
    "This would leave no active contact with a phone number who takes phone calls while the "
    "no-acknowledgment fallback is on: add another such contact, or turn the fallback off first."
)

# (active, phone, channels) of a contact, as a form or a query has them.
ContactReach = tuple[bool, object, object]


def phoneable(active: bool, phone: object, channels: object) -> bool:
    """An active contact with a phone number who takes phone calls: one a call tree may phone."""
    return bool(active and phone and takes(channels, ContactChannel.VOICE))


def has_reachable_phone(contacts: Iterable[ContactReach]) -> bool:
    """True when one of the contacts is one a call tree may phone."""
    return any(phoneable(*contact) for contact in contacts)


def check_fallback_reachable(
    *, authorize_on_no_ack: bool, contacts: Iterable[ContactReach], message: str = FALLBACK_NEEDS_PHONE
) -> None:
    if authorize_on_no_ack and not has_reachable_phone(contacts):
        raise ValidationError(message, code="fallback_needs_phone")


CONTACT_NEEDS_A_WAY = (
    "Give at least a phone number or an email address: otherwise this contact cannot be notified."
)


def check_contact_reachable(*, phone: object, email: str) -> None:
    if not phone and not email:
        raise ValidationError(CONTACT_NEEDS_A_WAY, code="unreachable_contact")


# Roles: each allows what the roles below it allow. Viewers read; approvers also acknowledge incidents and
# authorize or decline actions in writing; admins also change the tenant's settings, contacts and users.
ROLE_RANK = {Role.VIEWER: 0, Role.APPROVER: 1, Role.ADMIN: 2}
DECIDES = Role.APPROVER
ADMINISTERS = Role.ADMIN


def role_allows(role: Role | str | None, minimum: Role) -> bool:
    return role in ROLE_RANK and ROLE_RANK[Role(role)] >= ROLE_RANK[minimum]


def roles_allowed(minimum: Role) -> list[Role]:
    return [role for role in ROLE_RANK if role_allows(role, minimum)]


def may_decide(role: Role | str | None) -> bool:
    """Authorize or decline in writing, and acknowledge an incident for the customer."""
    return role_allows(role, DECIDES)
