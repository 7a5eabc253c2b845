"""Writes to a tenant's protected assets; each one is deciding (tenants.deciding) and on the settings history."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction

from tenants.deciding import PROTECTED_ASSETS
from tenants.models import Tenant
from tenants.partner_default_models import PROTECTED_LIST, TenantOwnSetting
from tenants.protected import protected_value_clean
from tenants.protected_models import ProtectedKind, ProtectedTarget
from tenants.services import Actor, deciding_writer_check, settings_audit

AUDIT_FIELD = "protected"


def protected_audited(target: ProtectedTarget) -> dict[str, str]:
    return {"kind": target.kind, "value": target.value, "note": target.note}


def protected_input_clean(kind: str, value: str) -> str:
    """The value as it is stored, or a ValidationError naming the field that is wrong."""
    if kind not in ProtectedKind.values:
        raise ValidationError({"kind": f"{kind!r} is not one of {', '.join(ProtectedKind.values)}."})
    try:
        return protected_value_clean(kind, value)
    except ValueError as error:
        raise ValidationError({"value": str(error)}) from None


def partner_list_inherited(tenant: Tenant) -> bool:
    """Whether the tenant takes its partner's default protected-asset list: it delegated its settings to the
    partner and did not opt out of the list."""
    return (
        tenant.partner_id is not None
        and tenant.partner_manages_settings
        and not TenantOwnSetting.objects.filter(tenant=tenant, field=PROTECTED_LIST).exists()
    )


@transaction.atomic
def protected_target_add(
    *, tenant: Tenant, by: Actor, kind: str, value: str, note: str = ""
) -> ProtectedTarget:
    """Protect a host, an address range, an account or an action type: from the next incident on, MDR Ops
    acts on it only with the customer's written authorization."""
    deciding_writer_check(by=by, tenant=tenant, operation=PROTECTED_ASSETS)
    value = protected_input_clean(kind, value)
    # One writer of the tenant's settings at a time.
    Tenant.objects.select_for_update(no_key=True).get(pk=tenant.pk)
    if ProtectedTarget.objects.filter(tenant=tenant, kind=kind, value=value).exists():
        raise ValidationError({"value": f"{value} is already protected."})
    target = ProtectedTarget(tenant=tenant, kind=kind, value=value, note=note.strip())
    target.full_clean()
    target.save()
    settings_audit(
        tenant=tenant,
        by=by,
        field=AUDIT_FIELD,
        subject=str(target),
        before=None,
        after=protected_audited(target),
    )
    return target


def protected_removal_refusal(target: ProtectedTarget, tenant: Tenant) -> str | None:
    """Why the customer may not drop this one target: it comes from the partner's list it inherits."""
    if target.from_partner_id is None or target.from_partner_id != tenant.partner_id:
        return None
    if not partner_list_inherited(tenant):
        return None
    return f"{target} comes from {tenant.partner}'s defaults: stop inheriting {tenant.partner}'s list to drop it."


@transaction.atomic
def protected_target_remove(*, target: ProtectedTarget, by: Actor) -> None:
    """Stop protecting it: later incidents may act on it automatically again (Authorize mode, fallback)."""
    tenant = target.tenant
    deciding_writer_check(by=by, tenant=tenant, operation=PROTECTED_ASSETS)
    tenant = Tenant.objects.select_for_update(no_key=True).get(pk=tenant.pk)
    refused = protected_removal_refusal(target, tenant)
    if refused is not None:
        raise ValidationError({"value": refused})
    deleted, _ = ProtectedTarget.objects.filter(pk=target.pk).delete()
    if deleted:
        settings_audit(
            tenant=tenant,
            by=by,
            field=AUDIT_FIELD,
            subject=str(target),
            before=protected_audited(target),
            after=None,
        )
