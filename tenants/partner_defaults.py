"""Partner defaults: a partner's admins set a setting (or who performs an action type) once; every customer that delegated its settings to the
partner and did not set that setting itself inherits it at once, each change on that customer's history.
Open incidents keep their snapshot, as with any settings change."""

from __future__ import annotations

import re
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Field, QuerySet

from mdrportal.core.users import AnyUser
from tenants.deciding import PARTNER_DEFAULTS, is_mdr_staff, partner_refusal
from tenants.models import Partner, PartnerMembership, Performer, Role, Tenant
from tenants.partner_default_models import DEFAULTABLE, PartnerDefault, TenantOwnSetting, performer_code
from tenants.performer_services import performer_set
from tenants.selectors import performers_of
from tenants.services import Actor, tenant_update_settings

_CODE = re.compile(r"^[-a-zA-Z0-9_]{1,64}$")


def partner_admin_check(*, by: Actor, partner: Partner) -> None:
    """Only the partner's admins (and MDR staff allowed to change partners) set its defaults."""
    if by is None:
        return
    refused = partner_refusal(user=by, partner=partner, operation=PARTNER_DEFAULTS)
    if refused is not None:
        raise PermissionDenied(refused)


def partner_inheriting(*, partner: Partner, field: str) -> QuerySet[Tenant]:
    """The customers a default of this field reaches: delegated their settings, did not set it themselves."""
    own = TenantOwnSetting.objects.filter(field=field).values("tenant")
    return (
        Tenant.objects.filter(partner=partner, partner_manages_settings=True)
        .exclude(pk__in=own)
        .order_by("pk")
    )


def default_clean(field: str, value: Any) -> Any:
    """The default as it is stored: one a customer could set itself (ValidationError says why not)."""
    code = performer_code(field)
    if code is not None:
        if not _CODE.match(code):
            raise ValidationError({"field": f"{code!r} is not an action type's code."})
        if value not in Performer.values:
            raise ValidationError({"value": f"{value!r} is not one of {', '.join(Performer.values)}."})
        return value
    if field not in DEFAULTABLE:
        raise ValidationError({"field": f"{field!r} is not one of {', '.join(DEFAULTABLE)}."})
    setting = Tenant._meta.get_field(field)
    assert isinstance(setting, Field)  # DEFAULTABLE names fields of the tenant itself
    try:
        return setting.clean(value, None)
    except ValidationError as error:
        raise ValidationError({"value": error.messages}) from None


def default_apply(*, tenant: Tenant, by: Actor, field: str, value: Any) -> None:
    """Give one inheriting customer the partner's default, on its history as coming from the partner."""
    code = performer_code(field)
    if code is not None:
        performer_set(tenant=tenant, by=by, action_code=code, performer=value, from_default_of=tenant.partner)
    else:
        tenant_update_settings(tenant=tenant, by=by, from_default_of=tenant.partner, **{field: value})


@transaction.atomic
def partner_default_set(*, partner: Partner, by: Actor, field: str, value: Any) -> list[Tenant]:
    """Set a default and apply it to every inheriting customer, all of them or none: a customer that cannot
    take it (the fallback box without a phone contact) refuses the whole change, named in the error."""
    value = default_clean(field, value)
    partner_admin_check(by=by, partner=partner)
    Partner.objects.select_for_update(no_key=True).get(pk=partner.pk)
    PartnerDefault.objects.update_or_create(partner=partner, field=field, defaults={"value": value})
    reached = []
    for tenant in partner_inheriting(partner=partner, field=field):
        try:
            default_apply(tenant=tenant, by=by, field=field, value=value)
        except ValidationError as error:
            raise ValidationError({"value": f"{tenant}: {' '.join(error.messages)}"}) from None
        reached.append(tenant)
    return reached


def setting_sources(tenant: Tenant) -> list[dict[str, Any]]:
    """For each setting the tenant's partner has a default for: the default, and whether the customer
    inherits it or set its own (the settings page shows it, with the way back to the default)."""
    if tenant.partner_id is None:
        return []
    own = set(TenantOwnSetting.objects.filter(tenant=tenant).values_list("field", flat=True))
    performers = performers_of(tenant)
    return [
        {
            "field": default.field,
            "default": default.value,
            "current": _current(tenant, default.field, performers),
            "inherits": tenant.partner_manages_settings and default.field not in own,
        }
        for default in PartnerDefault.objects.filter(partner_id=tenant.partner_id)
    ]


def _current(tenant: Tenant, field: str, performers: dict[str, str]) -> Any:
    code = performer_code(field)
    return getattr(tenant, field) if code is None else performers.get(code, Performer.MDR.value)


def partner_of_user(user: AnyUser, slug: str) -> tuple[Partner | None, bool]:
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
