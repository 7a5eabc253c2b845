"""The monthly report's page: who receives the tenant's report, whether it goes at all, what was sent to whom,
and a resend of one month. Every role reads it; customer admins (or the partner's, under the settings
delegation) change it, through reports.recipients."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from mdrportal.web.access import ActingRequest, tenant_page
from mdrportal.web.recipient_pages import address_added, recipients_shown, resend_asked
from reports.recipient_forms import RecipientForm, ResendForm
from reports.recipient_selectors import active_recipients
from reports.recipients import (
    monthly_report_enabled,
    monthly_report_switch,
    report_recipient_add,
    report_recipient_remove,
)
from tenants.models import Tenant
from tenants.rules import ADMINISTERS

PAGE = "reports:recipients"


def _context(request: ActingRequest, tenant: Tenant, form: RecipientForm | None = None) -> dict[str, Any]:
    return {
        "section": "reports",
        "tenant": tenant,
        "editable": request.acting.is_admin,
        "enabled": monthly_report_enabled(tenant),
        "recipients": recipients_shown(tenant, page="reports:recipient"),
        "form": form or RecipientForm(tenant=tenant),
        "resend_form": ResendForm(),
    }


@tenant_page()
def recipients_page(request: ActingRequest) -> HttpResponse:
    tenant = request.acting.tenant
    return render(request, "pages/report_recipients.html", _context(request, tenant))


@require_POST
@tenant_page(ADMINISTERS)
def recipient_add(request: ActingRequest) -> HttpResponse:
    tenant = request.acting.tenant
    form = RecipientForm(request.POST, tenant=tenant)
    recipient = address_added(
        form, lambda email: report_recipient_add(tenant=tenant, by=request.user, email=email)
    )
    if recipient is not None:
        messages.success(request, f"{recipient.email} receives the monthly report from next month on.")
        return redirect(PAGE)
    context = _context(request, tenant, form)
    return render(request, "pages/report_recipients.html", context, status=400)


@require_POST
@tenant_page(ADMINISTERS)
def recipient_remove(request: ActingRequest, pk: int) -> HttpResponse:
    tenant = request.acting.tenant
    recipient = get_object_or_404(active_recipients(tenant), pk=pk)
    report_recipient_remove(recipient=recipient, by=request.user)
    messages.success(request, f"{recipient.email} no longer receives the monthly report.")
    return redirect(PAGE)


@require_POST
@tenant_page(ADMINISTERS)
def monthly_switch(request: ActingRequest) -> HttpResponse:
    tenant = request.acting.tenant
    enabled = request.POST.get("enabled") == "on"
    monthly_report_switch(tenant=tenant, by=request.user, enabled=enabled)
    said = "on: next month's report goes" if enabled else "off: no report goes until it is turned on"
    messages.success(request, f"The monthly email is {said}.")
    return redirect(PAGE)


@require_POST
@tenant_page(ADMINISTERS)
def recipient_resend(request: ActingRequest, pk: int) -> HttpResponse:
    tenant = request.acting.tenant
    recipient = get_object_or_404(active_recipients(tenant), pk=pk)
    resend_asked(request, recipient, by=request.user, what="report")
    return redirect(PAGE)
