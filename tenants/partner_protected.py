"""A partner's default protected assets: the hosts, address ranges, accounts and action types it protects for
every customer that delegated its settings to it.

A customer inherits the partner's whole list and may protect more of its own on top; it stops inheriting the
list only by opting out explicitly (the settings page says so), which drops what only the partner's list
protected. Each row a customer takes from the list is its own ProtectedTarget marked `from_partner`, so the
policy snapshot and the gate read inherited and own targets alike; each change is on its settings history."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction

from tenants.deciding import PROTECTED_ASSETS
from tenants.models import Partner, Tenant
from tenants.partner_default_models import PROTECTED_LIST, PartnerProtectedTarget, TenantOwnSetting
from tenants.partner_defaults import partner_admin_check, partner_inheriting
from tenants.protected_models import ProtectedTarget
from tenants.protected_services import AUDIT_FIELD, protected_audited, protected_input_clean
from tenants.services import Actor, deciding_writer_check, settings_audit


def _lock(tenant: Tenant) -> Tenant:
    return Tenant.objects.select_for_update(no_key=True).get(pk=tenant.pk)


def _take(tenant: Tenant, default: PartnerProtectedTarget, by: Actor) -> None:
    """The customer protects what the partner's list protects (unless it protects it already itself)."""
    if ProtectedTarget.objects.filter(tenant=tenant, kind=default.kind, value=default.value).exists():
        return
    row = ProtectedTarget.objects.create(
        tenant=tenant, kind=default.kind, value=default.value, note=default.note, from_partner=default.partner
    )
    subject = f"{row} (from {default.partner}'s defaults)"
    settings_audit(
        tenant=tenant, by=by, field=AUDIT_FIELD, subject=subject, before=None, after=protected_audited(row)
    )


def _drop(row: ProtectedTarget, by: Actor, why: str) -> None:
    row.delete()
    subject = f"{row} ({why})"
    settings_audit(
        tenant=row.tenant,
        by=by,
        field=AUDIT_FIELD,
        subject=subject,
        before=protected_audited(row),
        after=None,
    )


@transaction.atomic
def partner_protected_add(
    *, partner: Partner, by: Actor, kind: str, value: str, note: str = ""
) -> PartnerProtectedTarget:
    """Protect it at every customer that inherits the partner's list, from their next incident on."""
    value = protected_input_clean(kind, value)
    partner_admin_check(by=by, partner=partner)
    Partner.objects.select_for_update(no_key=True).get(pk=partner.pk)
    if PartnerProtectedTarget.objects.filter(partner=partner, kind=kind, value=value).exists():
        raise ValidationError({"value": f"{value} is already on {partner}'s list."})
    default = PartnerProtectedTarget(partner=partner, kind=kind, value=value, note=note.strip())
    default.full_clean()
    default.save()
    for tenant in partner_inheriting(partner=partner, field=PROTECTED_LIST):
        _take(_lock(tenant), default, by)
    return default


@transaction.atomic
def partner_protected_remove(*, default: PartnerProtectedTarget, by: Actor) -> None:
    """Take it off the list: the customers that inherit the list stop protecting it (those that protect it
    themselves keep their own)."""
    partner = default.partner
    partner_admin_check(by=by, partner=partner)
    Partner.objects.select_for_update(no_key=True).get(pk=partner.pk)
    if not PartnerProtectedTarget.objects.filter(pk=default.pk).delete()[0]:
        return
    for tenant in partner_inheriting(partner=partner, field=PROTECTED_LIST):
        _lock(tenant)
        rows = ProtectedTarget.objects.filter(
            tenant=tenant, from_partner=partner, kind=default.kind, value=default.value
        )
        for row in rows:
            _drop(row, by, f"off {partner}'s defaults")


def _own_list_audit(tenant: Tenant, by: Actor, *, own: bool) -> None:
    before, after = "partner default", "set for this customer"
    if not own:
        before, after = after, before
    settings_audit(tenant=tenant, by=by, field="inherits", subject=PROTECTED_LIST, before=before, after=after)


@transaction.atomic
def tenant_protected_opt_out(*, tenant: Tenant, by: Actor) -> Tenant:
    """The customer stops inheriting its partner's list: what only that list protected is no longer
    protected from the next incident on; its own targets stay."""
    deciding_writer_check(by=by, tenant=tenant, operation=PROTECTED_ASSETS)
    locked = _lock(tenant)
    if locked.partner_id is None:
        raise ValidationError({"protected": "This customer has no partner whose list it could inherit."})
    _own, created = TenantOwnSetting.objects.get_or_create(tenant=locked, field=PROTECTED_LIST)
    if created:
        _own_list_audit(locked, by, own=True)
    for row in ProtectedTarget.objects.filter(tenant=locked, from_partner_id=locked.partner_id):
        _drop(row, by, f"no longer inheriting {locked.partner}'s defaults")
    return tenant


@transaction.atomic
def tenant_protected_inherit(*, tenant: Tenant, by: Actor) -> Tenant:
    """The customer inherits its partner's list again (when it delegated its settings): it protects
    everything on it at once, and later changes to the list reach it."""
    deciding_writer_check(by=by, tenant=tenant, operation=PROTECTED_ASSETS)
    locked = _lock(tenant)
    if TenantOwnSetting.objects.filter(tenant=locked, field=PROTECTED_LIST).delete()[0]:
        _own_list_audit(locked, by, own=False)
    if locked.partner_id is not None and locked.partner_manages_settings:
        for default in PartnerProtectedTarget.objects.filter(partner_id=locked.partner_id):
            _take(locked, default, by)
    return tenant


def partner_protected_of(partner: Partner) -> list[PartnerProtectedTarget]:
    return list(PartnerProtectedTarget.objects.filter(partner=partner))
