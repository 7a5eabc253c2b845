"""Writes to tenants and contacts; every settings change is audited (performers and memberships have their
own services: tenants.performer_services, tenants.membership_services)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Max, Model

from mdrportal.core.users import User
from tenants.channels import check_channels_reachable, default_channels
from tenants.deciding import (
    CONTACT_ADD,
    CONTACT_CHANGE,
    PARTNER_DELEGATION,
    RESPONSE_POLICY,
    Operation,
    actor_label_at,
    deciding_refusal,
)
from tenants.models import (
    ActionPerformer,
    Contact,
    Partner,
    Performer,
    ResponseMode,
    SettingsChange,
    Tenant,
    Tier,
)
from tenants.partner_default_models import DEFAULTABLE, TenantOwnSetting
from tenants.rules import LAST_PHONE_CONTACT, check_contact_reachable, check_fallback_reachable

# Who makes a change: a signed-in user, or None for the system itself.
Actor = User | None

TENANT_SETTINGS = (
    "name",
    "tier",
    "response_mode",
    "authorize_on_no_ack",
    "timezone",
    "call_attempts_per_contact",
    "ring_timeout_seconds",
    "notify_from_severity",
    "reminder_minutes",
    "reminder_count",
    "partner",
    "viewers_need_second_factor",
)
CONTACT_FIELDS = ("name", "email", "phone", "can_authorize", "active", "channels")


def actor_label(user: Actor) -> str:
    return user.get_username() if user is not None else "system"


def settings_audit(
    *, tenant: Tenant, by: Actor, field: str, before: Any, after: Any, subject: str = ""
) -> None:
    # The subject names what changed for a reader; the whole value is in before/after, so a long one is cut.
    longest = SettingsChange._meta.get_field("subject").max_length
    if longest is not None and len(subject) > longest:
        subject = subject[: longest - 3] + "..."
    SettingsChange.objects.create(
        tenant=tenant,
        actor=by,
        # A partner's user is named with the partner it acted for, under the customer's delegation.
        actor_label=actor_label_at(by, tenant),
        field=field,
        subject=subject,
        before=before,
        after=after,
    )


def _plain(value: Any) -> Any:
    """A value as it is written in the audit: JSON-friendly and readable."""
    if isinstance(value, Partner):
        return value.slug
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return str(value)


def deciding_writer_check(*, by: Actor, tenant: Tenant, operation: Operation) -> None:
    """Refuse a customer's or partner's user whom the deciding list refuses this write (403), whoever
    called the service. MDR staff's rights are their Django permissions, which the admin and the API check
    before calling; no user is the system itself."""
    if by is None or by.is_staff:
        return
    refused = deciding_refusal(user=by, tenant=tenant, operation=operation)
    if refused is not None:
        raise PermissionDenied(refused)


def _lock(tenant: Tenant) -> Tenant:
    return Tenant.objects.select_for_update(no_key=True).get(pk=tenant.pk)


def _check_fallback(tenant: Tenant, message: str | None = None) -> None:
    contacts = Contact.objects.filter(tenant=tenant).values_list("active", "phone", "channels")
    kwargs = {"message": message} if message else {}
    check_fallback_reachable(authorize_on_no_ack=tenant.authorize_on_no_ack, contacts=contacts, **kwargs)


@transaction.atomic
def tenant_create(
    *,
    name: str,
    slug: str,
    by: Actor,
    tier: str = Tier.ESSENTIALS,
    response_mode: str = ResponseMode.COLLABORATE,
    timezone: str = "UTC",
    partner: Partner | None = None,
) -> Tenant:
    """A new tenant starts without the fallback: it needs a contact with a phone first."""
    tenant = Tenant(
        name=name, slug=slug, tier=tier, response_mode=response_mode, timezone=timezone, partner=partner
    )
    tenant.full_clean()
    tenant.save()
    settings_audit(
        tenant=tenant,
        by=by,
        field="created",
        before=None,
        after={"tier": tier, "response_mode": response_mode, "authorize_on_no_ack": False},
    )
    return tenant


def _only(changes: Mapping[str, Any], known: Iterable[str], what: str) -> None:
    """A caller's mistake, not the user's: a change to a field the service does not change."""
    unknown = set(changes) - set(known)
    if unknown:
        raise TypeError(f"not {what}: {', '.join(sorted(unknown))}")


@transaction.atomic
def tenant_update_settings(
    *, tenant: Tenant, by: Actor, from_default_of: Partner | None = None, **changes: Any
) -> Tenant:
    """Change response settings; refuses the fallback checkbox while no active contact has a phone.

    A change the customer makes is its own: its partner's default no longer reaches that setting. A change
    from its partner's default (`from_default_of`) keeps it inheriting and says so on the history."""
    _only(changes, TENANT_SETTINGS, "tenant settings")
    deciding_writer_check(by=by, tenant=tenant, operation=RESPONSE_POLICY)
    locked = _lock(tenant)
    changed = [(f, getattr(locked, f), v) for f, v in changes.items() if getattr(locked, f) != v]
    partner_before = locked.partner
    for field, _before, after in changed:
        setattr(locked, field, after)
    locked.full_clean()
    try:
        _check_fallback(locked)
    except ValidationError as error:
        raise ValidationError({"authorize_on_no_ack": error.messages}) from None
    if (
        locked.partner_id is None
        and ActionPerformer.objects.filter(tenant=locked, performer=Performer.PARTNER).exists()
    ):
        raise ValidationError(
            {
                "partner": "The partner still performs some action types: give them to MDR Ops or the customer first."
            }
        )
    if changed:
        locked.save(update_fields=[f for f, _, _ in changed])
    subject = f"from {from_default_of}'s defaults" if from_default_of is not None else ""
    for field, before, after in changed:
        settings_audit(
            tenant=locked, by=by, field=field, subject=subject, before=_plain(before), after=_plain(after)
        )
    if from_default_of is None:
        for field in {f for f, _, _ in changed} & set(DEFAULTABLE):
            TenantOwnSetting.objects.get_or_create(tenant=locked, field=field)
    if locked.partner_id != getattr(partner_before, "pk", None) and _delegation(locked) != _NOT_DELEGATED:
        # What a customer delegated to one partner never passes to the next.
        _delegation_write(
            locked, by=by, partner=partner_before, wanted=_NOT_DELEGATED, reason="partner changed"
        )
    _refresh(tenant, locked)
    return tenant


_NOT_DELEGATED = {"partner_decides": False, "partner_manages_settings": False}


def _delegation(tenant: Tenant) -> dict[str, bool]:
    return {field: getattr(tenant, field) for field in _NOT_DELEGATED}


def _delegation_write(
    locked: Tenant, *, by: Actor, partner: Partner | None, wanted: dict[str, bool], reason: str
) -> None:
    before = _delegation(locked)
    for field, value in wanted.items():
        setattr(locked, field, value)
    locked.save(update_fields=list(wanted))
    settings_audit(
        tenant=locked,
        by=by,
        field="partner_delegation",
        subject=f"{partner} (partner)" if partner is not None else "",
        before=before,
        after={**wanted, **({"reason": reason} if reason else {})},
    )


@transaction.atomic
def tenant_delegation_set(
    *,
    tenant: Tenant,
    by: Actor,
    partner_decides: bool,
    partner_manages_settings: bool,
    reason: str = "",
) -> Tenant:
    """What the tenant's partner may do for it: authorize, decline and acknowledge; manage its settings.
    A customer admin chooses it; MDR staff choose it with a reason. Audited with the partner's name."""
    deciding_writer_check(by=by, tenant=tenant, operation=PARTNER_DELEGATION)
    reason = reason.strip()
    if by is not None and by.is_staff and not reason:
        raise ValidationError(
            {"reason": "Say why MDR Ops changes what the customer delegates to its partner."}
        )
    locked = _lock(tenant)
    wanted = {"partner_decides": partner_decides, "partner_manages_settings": partner_manages_settings}
    if locked.partner_id is None and any(wanted.values()):
        raise ValidationError({"partner_decides": "This customer has no partner to delegate to."})
    if wanted != _delegation(locked):
        _delegation_write(locked, by=by, partner=locked.partner, wanted=wanted, reason=reason)
    _refresh(tenant, locked)
    return tenant


def _refresh(target: Model, source: Model) -> None:
    for field in source._meta.concrete_fields:
        setattr(target, field.attname, getattr(source, field.attname))


def _owner_filter(*, tenant: Tenant | None, partner: Partner | None) -> dict[str, Any]:
    if (tenant is None) == (partner is None):
        raise TypeError("a contact belongs to exactly one tenant or one partner")
    return {"tenant": tenant} if tenant is not None else {"partner": partner}


def _contact_snapshot(contact: Contact) -> dict[str, Any]:
    return {f: _plain(getattr(contact, f)) for f in (*CONTACT_FIELDS, "call_order")}


@transaction.atomic
def contact_create(
    *,
    by: Actor,
    name: str,
    tenant: Tenant | None = None,
    partner: Partner | None = None,
    email: str = "",
    phone: Any = "",
    can_authorize: bool = False,
    active: bool = True,
    channels: list[str] | None = None,
) -> Contact:
    """Add a contact at the end of the call order."""
    owner = _owner_filter(tenant=tenant, partner=partner)
    if tenant is not None:
        deciding_writer_check(by=by, tenant=tenant, operation=CONTACT_ADD)
        _lock(tenant)
    last = Contact.objects.filter(**owner).aggregate(last=Max("call_order"))["last"] or 0
    contact = Contact(
        **owner,
        name=name,
        email=email,
        phone=phone,
        can_authorize=can_authorize,
        active=active,
        call_order=last + 1,
        channels=default_channels() if channels is None else channels,
    )
    contact.full_clean()
    check_contact_reachable(phone=contact.phone, email=contact.email)
    check_channels_reachable(channels=contact.channels, phone=contact.phone)
    contact.save()
    if tenant is not None:
        settings_audit(
            tenant=tenant, by=by, field="contact", subject=name, before=None, after=_contact_snapshot(contact)
        )
    return contact


@transaction.atomic
def contact_update(*, contact: Contact, by: Actor, **changes: Any) -> Contact:
    """Change a contact; refuses to leave the fallback without a contact a call tree may phone."""
    _only(changes, CONTACT_FIELDS, "contact fields")
    tenant = contact.tenant
    if tenant is not None:
        deciding_writer_check(by=by, tenant=tenant, operation=CONTACT_CHANGE)
        tenant = _lock(tenant)
    locked = Contact.objects.select_for_update(no_key=True).get(pk=contact.pk)
    before = _contact_snapshot(locked)
    for field, value in changes.items():
        setattr(locked, field, value)
    locked.full_clean()
    check_contact_reachable(phone=locked.phone, email=locked.email)
    check_channels_reachable(channels=locked.channels, phone=locked.phone)
    locked.save()
    after = _contact_snapshot(locked)
    if tenant is not None:
        _check_fallback(tenant, LAST_PHONE_CONTACT)
        if before != after:
            settings_audit(
                tenant=tenant, by=by, field="contact", subject=locked.name, before=before, after=after
            )
    _refresh(contact, locked)
    return contact


@transaction.atomic
def contacts_reorder(
    *, by: Actor, ordered_ids: list[int], tenant: Tenant | None = None, partner: Partner | None = None
) -> None:
    """Set the call order to the given sequence of contact ids (every contact of the owner, once)."""
    owner = _owner_filter(tenant=tenant, partner=partner)
    if tenant is not None:
        deciding_writer_check(by=by, tenant=tenant, operation=CONTACT_CHANGE)
        _lock(tenant)
    contacts = {c.pk: c for c in Contact.objects.select_for_update(no_key=True).filter(**owner)}
    if sorted(ordered_ids) != sorted(contacts):
        raise ValidationError("The new call order must list every contact exactly once.", code="bad_order")
    before = [contacts[pk].name for pk in sorted(contacts, key=lambda pk: contacts[pk].call_order)]
    after = [contacts[pk].name for pk in ordered_ids]
    if before == after:
        return
    # Two passes keep the (owner, call_order) unique constraint true after every statement.
    offset = len(ordered_ids) + max(c.call_order for c in contacts.values())
    for position, pk in enumerate(ordered_ids, start=1):
        Contact.objects.filter(pk=pk).update(call_order=offset + position)
    for position, pk in enumerate(ordered_ids, start=1):
        Contact.objects.filter(pk=pk).update(call_order=position)
    if tenant is not None:
        settings_audit(tenant=tenant, by=by, field="call_order", before=before, after=after)
