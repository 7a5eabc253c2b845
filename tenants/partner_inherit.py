"""Going back to a partner's default: one setting, one action type's performer, or the protected-asset list.
Each is deciding as the customer's own change of it is (tenants.deciding)."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction

from tenants.deciding import PERFORMERS, PROTECTED_ASSETS, RESPONSE_POLICY, Operation
from tenants.models import Tenant
from tenants.partner_default_models import (
    DEFAULTABLE,
    PROTECTED_LIST,
    PartnerDefault,
    TenantOwnSetting,
    performer_code,
)
from tenants.partner_defaults import default_apply
from tenants.partner_protected import tenant_protected_inherit
from tenants.services import Actor, deciding_writer_check, settings_audit


def inherit_operation(field: str) -> Operation:
    """The deciding operation going back to the default of this field is (ValidationError: no such field)."""
    if field == PROTECTED_LIST:
        return PROTECTED_ASSETS
    if performer_code(field):
        return PERFORMERS
    if field in DEFAULTABLE:
        return RESPONSE_POLICY
    raise ValidationError({"field": f"{field!r} is not a setting a partner sets a default for."})


@transaction.atomic
def tenant_setting_inherit(*, tenant: Tenant, by: Actor, field: str) -> Tenant:
    """Go back to the partner's default for one setting: it applies at once and reaches it from then on."""
    operation = inherit_operation(field)
    if field == PROTECTED_LIST:
        return tenant_protected_inherit(tenant=tenant, by=by)
    deciding_writer_check(by=by, tenant=tenant, operation=operation)
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
    default = (
        PartnerDefault.objects.filter(partner_id=tenant.partner_id, field=field).first()
        if tenant.partner_id is not None
        else None
    )
    if default is not None and tenant.partner_manages_settings:
        default_apply(tenant=tenant, by=by, field=field, value=default.value)
    return tenant
