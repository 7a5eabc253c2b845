"""The customer's protected assets on its settings page: what MDR Ops never acts on without its written
authorization. Every role reads the list; admins (or the partner, under the settings delegation) change it."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.views.decorators.http import require_POST

from mdrportal.web.access import ActingRequest, tenant_page
from mdrportal.web.deciding import decision_check
from mdrportal.web.refusals import message_refusal
from tenants.deciding import PROTECTED_ASSETS
from tenants.protected_models import ProtectedKind, ProtectedTarget
from tenants.protected_services import protected_target_add, protected_target_remove
from tenants.rules import ADMINISTERS


class ProtectedTargetForm(forms.Form):
    kind = forms.ChoiceField(label="What", choices=ProtectedKind.choices)
    value = forms.CharField(
        max_length=255,
        help_text="dc-* or pump-gw-01; 10.20.0.0/16; CORP\\svc-backup; or an action type such as "
        "disable_user_account.",
    )
    note = forms.CharField(max_length=200, required=False, label="Why (for MDR Ops)")


@require_POST
@tenant_page(ADMINISTERS)
def protected_add(request: ActingRequest) -> HttpResponse:
    tenant = request.acting.tenant
    refused = decision_check(request, tenant=tenant, operation=PROTECTED_ASSETS, back="tenants:settings")
    if refused is not None:
        return refused
    form = ProtectedTargetForm(request.POST)
    if not form.is_valid():
        message_refusal(request, ValidationError([e for errors in form.errors.values() for e in errors]))
        return redirect("tenants:settings")
    try:
        target = protected_target_add(tenant=tenant, by=request.user, **form.cleaned_data)
    except ValidationError as error:
        message_refusal(request, error)
    else:
        messages.success(request, f"Protected: {target}. It applies to incidents opened from now on.")
    return redirect("tenants:settings")


@require_POST
@tenant_page(ADMINISTERS)
def protected_remove(request: ActingRequest, pk: int) -> HttpResponse:
    tenant = request.acting.tenant
    target = get_object_or_404(ProtectedTarget, pk=pk, tenant=tenant)
    refused = decision_check(request, tenant=tenant, operation=PROTECTED_ASSETS, back="tenants:settings")
    if refused is not None:
        return refused
    try:
        protected_target_remove(target=target, by=request.user)
    except ValidationError as error:
        message_refusal(request, error)
    else:
        messages.success(request, f"No longer protected: {target}.")
    return redirect("tenants:settings")
