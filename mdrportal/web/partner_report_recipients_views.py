"""The partner's roll-up page: who receives the monthly report of all its customers, and what was sent to
each. The partner's people read it; its admins (and MDR staff allowed to change recipients) add and remove
addresses and send a month again, through reports.recipients, as a customer's admins do on theirs."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from mdrportal.core.users import SignedInRequest
from mdrportal.web.access import portal_page
from mdrportal.web.recipient_pages import address_added, recipients_shown, resend_asked
from reports.recipient_forms import RecipientForm
from reports.recipient_selectors import active_recipients
from reports.recipients import (
    partner_recipients_refusal,
    partner_report_recipient_add,
    partner_report_recipient_remove,
)
from tenants.models import Partner
from tenants.partner_defaults import partner_of_user

PAGE = "partner_report_recipients"


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
    return {
        "partner": partner,
        "editable": editable,
        "customers": partner.tenants.count(),
        "recipients": recipients_shown(partner, page="partner_report_recipient", slug=partner.slug),
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
    recipient = address_added(
        form, lambda email: partner_report_recipient_add(partner=partner, by=request.user, email=email)
    )
    if recipient is not None:
        messages.success(request, f"{recipient.email} receives the roll-up from next month on.")
        return redirect(PAGE, slug=partner.slug)
    context = _context(partner, editable, form)
    return render(request, "pages/partner_report_recipients.html", context, status=400)


@require_POST
@portal_page
def partner_report_recipient_remove_page(request: SignedInRequest, slug: str, pk: int) -> HttpResponse:
    partner, _ = _partner_for(request, slug, write=True)
    recipient = get_object_or_404(active_recipients(partner), pk=pk)
    partner_report_recipient_remove(recipient=recipient, by=request.user)
    messages.success(request, f"{recipient.email} no longer receives the roll-up.")
    return redirect(PAGE, slug=partner.slug)


@require_POST
@portal_page
def partner_report_recipient_resend_page(request: SignedInRequest, slug: str, pk: int) -> HttpResponse:
    partner, _ = _partner_for(request, slug, write=True)
    recipient = get_object_or_404(active_recipients(partner), pk=pk)
    resend_asked(request, recipient, by=request.user, what="roll-up")
    return redirect(PAGE, slug=partner.slug)
