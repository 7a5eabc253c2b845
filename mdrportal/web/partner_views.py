"""Customer pages about its partner's defaults: going back to the partner's default for one setting (or the
protected-asset list), and opting out of the partner's protected-asset list."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_POST

from mdrportal.web.access import ActingRequest, tenant_page
from mdrportal.web.deciding import decision_check
from mdrportal.web.refusals import message_refusal
from tenants.deciding import PROTECTED_ASSETS
from tenants.partner_inherit import inherit_operation, tenant_setting_inherit
from tenants.partner_protected import tenant_protected_opt_out
from tenants.rules import ADMINISTERS


@require_POST
@tenant_page(ADMINISTERS)
def setting_inherit(request: ActingRequest, field: str) -> HttpResponse:
    tenant = request.acting.tenant
    try:
        operation = inherit_operation(field)
    except ValidationError as error:
        message_refusal(request, error)
        return redirect("tenants:settings")

    refused = decision_check(
        request, tenant=tenant, operation=operation, back="tenants:settings", changed=[field]
    )
    if refused is not None:
        return refused
    try:
        tenant_setting_inherit(tenant=tenant, by=request.user, field=field)
    except ValidationError as error:
        message_refusal(request, error)
    else:
        messages.success(request, f"This setting now follows {tenant.partner}'s defaults.")
    return redirect("tenants:settings")


@require_POST
@tenant_page(ADMINISTERS)
def protected_opt_out(request: ActingRequest) -> HttpResponse:
    """Stop inheriting the partner's protected-asset list: explicit, on its own button."""
    tenant = request.acting.tenant
    refused = decision_check(request, tenant=tenant, operation=PROTECTED_ASSETS, back="tenants:settings")
    if refused is not None:
        return refused
    try:
        tenant_protected_opt_out(tenant=tenant, by=request.user)
    except ValidationError as error:
        message_refusal(request, error)
    else:
        messages.success(request, f"{tenant.partner}'s protected-asset list no longer applies here.")
    return redirect("tenants:settings")
