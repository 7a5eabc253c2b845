"""Partner defaults: a partner's admins set a setting once; every customer that delegated its settings to the
partner and did not set that setting itself inherits it at once, each change on that customer's history.
Open incidents keep their snapshot, as with any settings change."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import QuerySet

from tenants.deciding import RESPONSE_POLICY, is_mdr_staff
from tenants.models import Partner, PartnerMembership, Role, Tenant
from tenants.partner_default_models import DEFAULTABLE, PartnerDefault, TenantOwnSetting
from tenants.services import User, deciding_writer_check, settings_audit, tenant_update_settings


def partner_admin_check(*, by: User, partner: Partner) -> None:
    """Only the partner's admins (and MDR staff allowed to change partners) set its defaults."""
    if by is None or is_mdr_staff(by, "tenants.change_partner"):
        return
    if not PartnerMembership.objects.filter(user=by, partner=partner, role=Role.ADMIN).exists():
        raise PermissionDenied(f"Only {partner}'s admins set its defaults.")


def partner_inheriting(*, partner: Partner, field: str) -> QuerySet[Tenant]:
    """The customers a default of this field reaches: delegated their settings, did not set it themselves."""
    own = TenantOwnSetting.objects.filter(field=field).values("tenant")
    return (
        Tenant.objects.filter(partner=partner, partner_manages_settings=True)
        .exclude(pk__in=own)
        .order_by("pk")
    )


@transaction.atomic
def partner_default_set(*, partner: Partner, by: User, field: str, value: Any) -> list[Tenant]:
    """Set a default and apply it to every inheriting customer, all of them or none: a customer that cannot
    take it (the fallback box without a phone contact) refuses the whole change, named in the error."""
    if field not in DEFAULTABLE:
        raise ValidationError({"field": f"{field!r} is not one of {', '.join(DEFAULTABLE)}."})
    partner_admin_check(by=by, partner=partner)
    Partner.objects.select_for_update(no_key=True).get(pk=partner.pk)
    PartnerDefault.objects.update_or_create(partner=partner, field=field, defaults={"value": value})
    reached = []
    for tenant in partner_inheriting(partner=partner, field=field):
        try:
            tenant_update_settings(tenant=tenant, by=by, from_default_of=partner, **{field: value})
        except ValidationError as error:
            raise ValidationError({"value": f"{tenant}: {' '.join(error.messages)}"}) from None
        reached.append(tenant)
    return reached


@transaction.atomic
def tenant_setting_inherit(*, tenant: Tenant, by: User, field: str) -> Tenant:
    """Go back to the partner's default for one setting: it applies at once and reaches it from then on."""
    if field not in DEFAULTABLE:
        raise ValidationError({"field": f"{field!r} is not one of {', '.join(DEFAULTABLE)}."})
    deciding_writer_check(by=by, tenant=tenant, operation=RESPONSE_POLICY)
    deleted, _ = TenantOwnSetting.objects.filter(tenant=tenant, field=field).delete()
    if deleted:
        settings_audit(
            tenant=tenant,
            by=by,
            field="inherits",
            subject=field,
            before="set for this customer",
            after="partner default",
        )
    default = PartnerDefault.objects.filter(partner_id=tenant.partner_id, field=field).first()
    if default is not None and tenant.partner_manages_settings:
        tenant_update_settings(tenant=tenant, by=by, from_default_of=tenant.partner, **{field: default.value})
    return tenant


def setting_sources(tenant: Tenant) -> list[dict[str, Any]]:
    """For each setting the tenant's partner has a default for: the default, and whether the customer
    inherits it or set its own (the settings page shows it, with the way back to the default)."""
    if tenant.partner_id is None:
        return []
    own = set(TenantOwnSetting.objects.filter(tenant=tenant).values_list("field", flat=True))
    return [
        {
            "field": default.field,
            "default": default.value,
            "current": getattr(tenant, default.field),
            "inherits": tenant.partner_manages_settings and default.field not in own,
        }
        for default in PartnerDefault.objects.filter(partner_id=tenant.partner_id)
    ]


def partner_of_user(user: Any, slug: str) -> tuple[Partner | None, bool]:
    """The partner if the user is one of its people or MDR staff (else None: it is never shown), and whether
    the user may set its defaults."""
    if not user.is_authenticated or not user.is_active:
        return None, False
    if user.is_staff:
        return Partner.objects.filter(slug=slug).first(), is_mdr_staff(user, "tenants.change_partner")
    membership = (
        PartnerMembership.objects.select_related("partner").filter(user=user, partner__slug=slug).first()
    )
    if membership is None:
        return None, False
    return membership.partner, membership.role == Role.ADMIN


def partner_defaults_of(partner: Partner) -> dict[str, Any]:
    return dict(PartnerDefault.objects.filter(partner=partner).values_list("field", "value"))
