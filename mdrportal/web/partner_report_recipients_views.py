"""The partner's roll-up page: who receives the monthly report of all its customers, and what was sent to
each. The partner's people read it; its admins (and MDR staff allowed to change recipients) add and remove
addresses and send a month again, through reports.recipients, as a customer's admins do on theirs."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Prefetch
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from mdrportal.core.users import SignedInRequest
from mdrportal.web.access import portal_page
from mdrportal.web.refusals import add_service_errors, message_refusal
from reports.models import ReportRecipient, ReportSend
from reports.recipient_forms import RecipientForm, ResendForm
from reports.recipients import (
    partner_recipients_refusal,
    partner_report_recipient_add,
    partner_report_recipient_remove,
    report_resend_request,
)
from tenants.models import Partner
from tenants.partner_defaults import partner_of_user

PAGE = "partner_report_recipients"
SENDS_SHOWN = 12


def _partner_for(request: SignedInRequest, slug: str, *, write: bool = False) -> tuple[Partner, bool]:
    """The partner the user may see (404 otherwise), and whether it may change the roll-up's recipients
    (a write by anyone else is refused, 403)."""
    partner, _ = partner_of_user(request.user, slug)
    if partner is None:
        raise Http404("No such partner.")
    refused = partner_recipients_refusal(user=request.user, partner=partner)
    if write and refused is not None:
        raise PermissionDenied(refused)
    return partner, refused is None


def _context(partner: Partner, editable: bool, form: RecipientForm | None = None) -> dict[str, Any]:
    recent = ReportSend.objects.order_by("-period_start", "-number")
    recipients = ReportRecipient.objects.filter(partner=partner, active=True).prefetch_related(
        Prefetch("sends", queryset=recent)
    )
    return {
        "partner": partner,
        "editable": editable,
        "customers": partner.tenants.count(),
        "recipients": [(r, list(r.sends.all())[:SENDS_SHOWN]) for r in recipients],
        "form": form or RecipientForm(partner=partner),
    }


@portal_page
def partner_report_recipients_page(request: SignedInRequest, slug: str) -> HttpResponse:
    partner, editable = _partner_for(request, slug)
    return render(request, "pages/partner_report_recipients.html", _context(partner, editable))


@require_POST
@portal_page
def partner_report_recipient_add_page(request: SignedInRequest, slug: str) -> HttpResponse:
    partner, editable = _partner_for(request, slug, write=True)
    form = RecipientForm(request.POST, partner=partner)
    if form.is_valid():
        try:
            recipient = partner_report_recipient_add(
                partner=partner, by=request.user, email=form.cleaned_data["address"]
            )
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            messages.success(request, f"{recipient.email} receives the roll-up from next month on.")
            return redirect(PAGE, slug=partner.slug)
    context = _context(partner, editable, form)
    return render(request, "pages/partner_report_recipients.html", context, status=400)


@require_POST
@portal_page
def partner_report_recipient_remove_page(request: SignedInRequest, slug: str, pk: int) -> HttpResponse:
    partner, _ = _partner_for(request, slug, write=True)
    recipient = get_object_or_404(ReportRecipient, pk=pk, partner=partner, active=True)
    partner_report_recipient_remove(recipient=recipient, by=request.user)
    messages.success(request, f"{recipient.email} no longer receives the roll-up.")
    return redirect(PAGE, slug=partner.slug)


@require_POST
@portal_page
def partner_report_recipient_resend_page(request: SignedInRequest, slug: str, pk: int) -> HttpResponse:
    partner, _ = _partner_for(request, slug, write=True)
    recipient = get_object_or_404(ReportRecipient, pk=pk, partner=partner, active=True)
    form = ResendForm(request.POST)
    if not form.is_valid():
        message_refusal(request, ValidationError([e for errors in form.errors.values() for e in errors]))
        return redirect(PAGE, slug=partner.slug)
    period_start = form.cleaned_data["period"]
    try:
        report_resend_request(recipient=recipient, period_start=period_start, by=request.user)
    except ValidationError as error:
        message_refusal(request, error)
    else:
        messages.success(request, f"The roll-up of {period_start:%B %Y} goes to {recipient.email} again.")
    return redirect(PAGE, slug=partner.slug)
