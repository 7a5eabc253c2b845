"""Customer pages about its partner's defaults: going back to the partner's default for one setting."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_POST

from mdrportal.web.access import tenant_page
from mdrportal.web.deciding import decision_check
from mdrportal.web.refusals import message_refusal
from tenants.deciding import RESPONSE_POLICY
from tenants.partner_defaults import tenant_setting_inherit
from tenants.rules import ADMINISTERS


@require_POST
@tenant_page(ADMINISTERS)
def setting_inherit(request: HttpRequest, field: str) -> HttpResponse:
    tenant = request.acting.tenant  # type: ignore[attr-defined]
    refused = decision_check(
        request, tenant=tenant, operation=RESPONSE_POLICY, back="tenants:settings", changed=[field]
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
