"""Customer pages for a tenant's settings: admins change them, the other roles read them (its contacts are on
mdrportal.web.contact_views)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import HttpResponse, HttpResponseBadRequest
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from incidents.models import ActionType
from mdrportal.core.users import SignedInRequest
from mdrportal.web import access
from mdrportal.web.access import ActingRequest, portal_page, tenant_page
from mdrportal.web.deciding import decision_check
from mdrportal.web.protected_views import ProtectedTargetForm
from mdrportal.web.refusals import add_service_errors
from mdrportal.web.settings_history import history_rows, source_label
from mdrportal.web.tenant_forms import (
    DelegationForm,
    PerformersForm,
    SettingsForm,
    explanations,
    proposable_types,
)
from tenants.deciding import PARTNER_DELEGATION, PERFORMERS, RESPONSE_POLICY
from tenants.models import Tenant
from tenants.partner_defaults import setting_sources
from tenants.performer_services import performer_set
from tenants.protected_services import partner_list_inherited
from tenants.reach import reach_now_and_saturday_night
from tenants.rules import ADMINISTERS, phoneable
from tenants.selectors import (
    partners_for_user,
    performers_of,
    protected_targets,
    protection_of,
    tenant_contacts,
    tenants_for_user,
)
from tenants.services import tenant_delegation_set, tenant_update_settings


@portal_page
def choose_tenant(request: SignedInRequest) -> HttpResponse:
    """Partner (MSP) users pick the customer they act for; the choice is kept in the session."""
    tenants = tenants_for_user(request.user)
    next_url = request.POST.get("next") or request.GET.get("next") or ""
    if not url_has_allowed_host_and_scheme(
        next_url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        next_url = ""
    if request.method == "POST":
        try:
            pk = int(request.POST.get("tenant", ""))
        except ValueError:
            return HttpResponseBadRequest("Choose a customer.")
        tenant = get_object_or_404(tenants, pk=pk)
        access.choose(request, tenant)
        messages.success(request, f"You now act for {tenant.name}.")
        return redirect(next_url or "home")
    current, _ = access.current_tenant(request)
    return render(
        request,
        "pages/choose_tenant.html",
        {
            "tenants": tenants,
            "current": current,
            "next": next_url,
            "partners": partners_for_user(request.user),
        },
    )


def _settings_context(
    request: ActingRequest,
    tenant: Tenant,
    form: SettingsForm | None = None,
    performers_form: PerformersForm | None = None,
    delegation_form: DelegationForm | None = None,
) -> dict[str, Any]:
    acting = request.acting
    contacts = list(tenant_contacts(tenant).values_list("active", "phone", "channels"))
    catalog = list(ActionType.objects.order_by("category", "name"))
    performers = performers_of(tenant)
    form = form or SettingsForm(tenant=tenant, contacts=contacts, editable=acting.is_admin)
    performers_form = performers_form or PerformersForm(
        tenant=tenant, action_types=catalog, performers=performers
    )
    if not acting.is_admin:
        for field in performers_form.fields.values():
            field.disabled = True
    # A partner's user never changes what its partner may do for the customer.
    delegation_editable = acting.is_admin and not acting.via_partner
    delegation_form = delegation_form or DelegationForm(tenant=tenant, editable=delegation_editable)
    phones = sum(1 for contact in contacts if phoneable(*contact))
    bound = form.data if form.is_bound else None
    scenario = _scenario(bound, tenant)
    now, night = reach_now_and_saturday_night(tenant, timezone.now())
    return {
        "section": "settings",
        "tenant": tenant,
        "form": form,
        "performers_form": performers_form,
        "explanations": explanations(
            tenant, performers, proposable_types(catalog), phones, night, protection_of(tenant)
        ),
        "reach": (now, night),
        "scenario": scenario,
        "phone_contacts": phones,
        "history": history_rows(
            tenant,
            {t.code: t.name for t in catalog},
            mdr_staff=request.user.is_active and request.user.is_staff,
        ),
        "editable": acting.is_admin,
        "delegation_form": delegation_form,
        "delegation_editable": delegation_editable,
        "protected_targets": protected_targets(tenant),
        "protected_form": ProtectedTargetForm(),
        "setting_sources": [
            {**source, "label": source_label(source["field"], {t.code: t.name for t in catalog})}
            for source in setting_sources(tenant)
        ],
        "protected_inherited": partner_list_inherited(tenant),
    }


def _scenario(data: Mapping[str, Any] | None, tenant: Tenant) -> str:
    mode = data.get("response_mode") if data is not None else tenant.response_mode
    checked = bool(data.get("authorize_on_no_ack")) if data is not None else tenant.authorize_on_no_ack
    if mode == "authorize":
        return "authorize"
    return "collaborate-fallback" if checked else "collaborate"


@tenant_page()
def settings_page(request: ActingRequest) -> HttpResponse:
    """The response policy: every role reads it; admins change it (audited by the service)."""
    acting = request.acting
    tenant = acting.tenant
    if request.method != "POST":
        return render(request, "pages/settings.html", _settings_context(request, tenant))
    if not acting.is_admin:
        raise PermissionDenied("Only the customer's admins change its settings.")
    contacts = list(tenant_contacts(tenant).values_list("active", "phone", "channels"))
    form = SettingsForm(request.POST, tenant=tenant, contacts=contacts, editable=True)
    if form.is_valid():
        changes = form.changes()
        refused = decision_check(
            request, tenant=tenant, operation=RESPONSE_POLICY, back="tenants:settings", changed=changes
        )
        if refused is not None:
            return refused
        try:
            tenant_update_settings(tenant=tenant, by=request.user, **changes)
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            if changes:
                messages.success(request, "Settings saved. They apply to incidents opened from now on.")
            else:
                messages.info(request, "Nothing changed.")
            return redirect("tenants:settings")
    return render(request, "pages/settings.html", _settings_context(request, tenant, form=form), status=400)


@require_POST
@tenant_page(ADMINISTERS)
def delegation_page(request: ActingRequest) -> HttpResponse:
    """What the customer lets its partner's users do for it; its own admins choose (audited)."""
    tenant = request.acting.tenant
    refused = decision_check(request, tenant=tenant, operation=PARTNER_DELEGATION, back="tenants:settings")
    if refused is not None:
        return refused
    form = DelegationForm(request.POST, tenant=tenant, editable=True)
    if form.is_valid():
        try:
            tenant_delegation_set(tenant=tenant, by=request.user, **form.cleaned_data)
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            messages.success(request, "Saved what your partner may do for you.")
            return redirect("tenants:settings")
    return render(
        request, "pages/settings.html", _settings_context(request, tenant, delegation_form=form), status=400
    )


@require_POST
@tenant_page(ADMINISTERS)
def performers_page(request: ActingRequest) -> HttpResponse:
    """Who performs each action type under Collaborate; each change is a service call, all or none."""
    tenant = request.acting.tenant
    refused = decision_check(request, tenant=tenant, operation=PERFORMERS, back="tenants:settings")
    if refused is not None:
        return refused
    catalog = list(ActionType.objects.order_by("category", "name"))
    form = PerformersForm(request.POST, tenant=tenant, action_types=catalog, performers=performers_of(tenant))
    if form.is_valid():
        changes = form.changes()
        try:
            with transaction.atomic():
                for code, performer in changes.items():
                    performer_set(tenant=tenant, by=request.user, action_code=code, performer=performer)
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            messages.success(request, f"Performers saved ({len(changes)} changed).")
            return redirect("tenants:settings")
    return render(
        request, "pages/settings.html", _settings_context(request, tenant, performers_form=form), status=400
    )
