"""Reads of tenants, their policy and who may see them."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from django.db.models import Q, QuerySet

from mdrportal.core.users import AnyUser
from tenants.models import (
    ActionPerformer,
    Contact,
    IntegrationKey,
    Membership,
    Partner,
    PartnerMembership,
    Role,
    SettingsChange,
    Tenant,
)
from tenants.protected import SNAPSHOT_KEYS, Protection
from tenants.protected_models import ProtectedKind, ProtectedTarget


def performers_of(tenant: Tenant) -> dict[str, str]:
    """Action code -> performer, for the action types that are not performed by MDR Ops."""
    return dict(ActionPerformer.objects.filter(tenant=tenant).values_list("action_code", "performer"))


def protection_of(tenant: Tenant) -> Protection:
    """What the tenant protects, in the shape the gate reads from a policy snapshot."""
    values: dict[str, list[str]] = {key: [] for key in SNAPSHOT_KEYS.values()}
    for kind, value in ProtectedTarget.objects.filter(tenant=tenant).values_list("kind", "value"):
        values[SNAPSHOT_KEYS[ProtectedKind(kind)]].append(value)
    return Protection(**{key: tuple(v) for key, v in values.items()})


def protected_targets(tenant: Tenant) -> QuerySet[ProtectedTarget]:
    return ProtectedTarget.objects.filter(tenant=tenant).order_by("kind", "value")


def tenant_policy(tenant: Tenant) -> dict[str, Any]:
    """The tenant's response policy as plain data, as it is snapshotted on an incident."""
    return {
        "tier": tenant.tier,
        "response_mode": tenant.response_mode,
        "authorize_on_no_ack": tenant.authorize_on_no_ack,
        "performers": performers_of(tenant),
        "protected": protection_of(tenant).to_snapshot(),
        "call_attempts_per_contact": tenant.call_attempts_per_contact,
        "ring_timeout_seconds": tenant.ring_timeout_seconds,
        "timezone": tenant.timezone,
        "notify_from_severity": tenant.notify_from_severity,
        "reminder_minutes": tenant.reminder_minutes,
        "reminder_count": tenant.reminder_count,
    }


def tenant_contacts(tenant: Tenant) -> QuerySet[Contact]:
    return Contact.objects.filter(tenant=tenant).order_by("call_order")


def phone_contacts(tenant: Tenant) -> QuerySet[Contact]:
    """Active contacts with a phone number, in call order: whom a call tree phones."""
    return tenant_contacts(tenant).filter(active=True).exclude(phone="")


def partner_phone_contacts(partner_id: int) -> QuerySet[Contact]:
    """The partner's own active contacts with a phone number, in call order: whom its call tree phones."""
    return Contact.objects.filter(partner_id=partner_id, active=True).exclude(phone="").order_by("call_order")


def tenants_for_user(user: AnyUser) -> QuerySet[Tenant]:
    """Every tenant the user may see: staff see all, customers their own, partner users their partner's."""
    if not user.is_authenticated or not user.is_active:
        return Tenant.objects.none()
    if user.is_staff:
        return Tenant.objects.all()
    return Tenant.objects.filter(Q(memberships__user=user) | Q(partner__memberships__user=user)).distinct()


def partners_for_user(user: AnyUser) -> QuerySet[Partner]:
    """The partners whose console the user may open: staff every one, partner users their own."""
    if not user.is_authenticated or not user.is_active:
        return Partner.objects.none()
    if user.is_staff:
        return Partner.objects.order_by("name", "pk")
    return Partner.objects.filter(memberships__user=user).order_by("name", "pk")


def integration_key_tenants(key: IntegrationKey) -> QuerySet[Tenant]:
    """The tenants an integration key acts for: those it names, or every one for a key made for all."""
    return Tenant.objects.all() if key.all_tenants else Tenant.objects.filter(integration_keys=key)


def role_at(user: AnyUser, tenant: Tenant) -> Role | None:
    """The user's role at the tenant (a direct membership wins over a partner's), or None."""
    return membership_at(user, tenant)[0]


def membership_at(user: AnyUser, tenant: Tenant) -> tuple[Role | None, bool]:
    """The user's role at the tenant (a direct membership wins over a partner's), or None; and whether the
    role is the one the user has at the tenant's partner."""
    if not user.is_authenticated or not user.is_active:
        return None, False
    direct = Membership.objects.filter(user=user, tenant=tenant).values_list("role", flat=True).first()
    if direct:
        return Role(direct), False
    if tenant.partner_id is None:
        return None, False
    via_partner = (
        PartnerMembership.objects.filter(user=user, partner_id=tenant.partner_id)
        .values_list("role", flat=True)
        .first()
    )
    return (Role(via_partner), True) if via_partner else (None, False)


def settings_history(tenant: Tenant) -> QuerySet[SettingsChange]:
    return SettingsChange.objects.filter(tenant=tenant).select_related("actor").order_by("-at", "-id")


def audited_value_shown(value: Any) -> Any:
    """An audited before/after value as it may be shown: a URL by its host only, a secret only as set or
    changed. Rows written before the audit kept only hosts may hold whole URLs; they are shown the same way.
    """
    if isinstance(value, dict):
        return {key: _audited_item_shown(key, item) for key, item in value.items()}
    return value


def _audited_item_shown(key: str, value: Any) -> Any:
    if not value:
        return value
    if "secret" in key:
        return "changed" if value == "changed" else "set"
    if key == "url" and isinstance(value, str):
        return url_host(value)
    return audited_value_shown(value)


# A connector's account at the customer's platform (OAuth client id, its tenant there, options) is for MDR Ops
# to read: the customer's users read that the connector changed, its kind and host.
_CONNECTOR_STAFF_ONLY = ("client_id", "external_tenant_id", "options")


def settings_change_shown(change: SettingsChange, *, mdr_staff: bool) -> tuple[Any, Any]:
    """A change's before and after as this reader may see them (audited_value_shown, and for readers who are
    not MDR staff a connector change without its account details, saying only whether they changed)."""
    before, after = audited_value_shown(change.before), audited_value_shown(change.after)
    if mdr_staff or change.field != "connector":
        return before, after
    return _without_account(before, None), _without_account(after, before)


def _without_account(value: Any, before: Any) -> Any:
    if not isinstance(value, dict):
        return value
    shown = {key: item for key, item in value.items() if key not in _CONNECTOR_STAFF_ONLY}
    old = before if isinstance(before, dict) else {}
    if before is not None and any(value.get(key) != old.get(key) for key in _CONNECTOR_STAFF_ONLY):
        shown["account details"] = "changed"
    return shown


def url_host(url: str) -> str:
    """Only the host of a URL (its path or query may hold a token); a bare host is returned as it is."""
    if "://" not in url:
        return url.split("/", 1)[0].split("?", 1)[0]
    try:
        return urlsplit(url).hostname or "?"
    except ValueError:
        return "?"
