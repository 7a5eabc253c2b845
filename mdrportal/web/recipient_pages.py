"""What the monthly report's pages share, whoever owns the recipients (a tenant's report page, a partner's
roll-up page): the addresses with their recent sends, adding one from the form, and a month sent again."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest
from django.urls import reverse

from mdrportal.core.users import User
from mdrportal.web.refusals import add_service_errors, message_refusal
from reports.models import ReportRecipient, ReportSend
from reports.recipient_forms import RecipientForm, ResendForm
from reports.recipient_selectors import recipients_with_sends
from reports.recipients import report_resend_request
from tenants.models import Partner, Tenant

SENDS_SHOWN = 12


@dataclass(frozen=True)
class RecipientRow:
    """One address on the page (pages/_recipients_table.html): its latest sends and where its forms post."""

    recipient: ReportRecipient
    sends: list[ReportSend]
    resend_url: str
    remove_url: str


def recipients_shown(owner: Tenant | Partner, *, page: str, **owner_args: str) -> list[RecipientRow]:
    """Each address that receives the owner's report, with its latest sends; `page` names the URLs of the
    owner's page (`<page>_resend`, `<page>_remove`), which take `owner_args` and the recipient's pk."""
    return [
        RecipientRow(
            recipient=r,
            sends=list(r.sends.all())[:SENDS_SHOWN],
            resend_url=reverse(f"{page}_resend", kwargs={**owner_args, "pk": r.pk}),
            remove_url=reverse(f"{page}_remove", kwargs={**owner_args, "pk": r.pk}),
        )
        for r in recipients_with_sends(owner)
    ]


def address_added(form: RecipientForm, add: Callable[[str], ReportRecipient]) -> ReportRecipient | None:
    """The address of a valid form added by the owner's service; None with the form's errors otherwise."""
    if not form.is_valid():
        return None
    try:
        return add(form.cleaned_data["address"])
    except ValidationError as error:
        add_service_errors(form, error)
        return None


def resend_asked(request: HttpRequest, recipient: ReportRecipient, *, by: User, what: str) -> None:
    """The month of the posted form sent again to the recipient, or why not, said as a message."""
    form = ResendForm(request.POST)
    if not form.is_valid():
        message_refusal(request, ValidationError([e for errors in form.errors.values() for e in errors]))
        return
    period_start = form.cleaned_data["period"]
    try:
        report_resend_request(recipient=recipient, period_start=period_start, by=by)
    except ValidationError as error:
        message_refusal(request, error)
    else:
        messages.success(request, f"The {what} of {period_start:%B %Y} goes to {recipient.email} again.")
