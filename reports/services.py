"""The monthly report by email: last month's figures to each active recipient, once per recipient and
period however many beats or workers run it (the send row's unique constraint is the claim), and a resend
only when someone asks for it.

Each send goes through the outbox (mdrportal.core.outbox): the row is committed before the email leaves,
moves to sending once, and the email leaves outside any transaction; a send that fails is recorded as failed
and not retried (the server may have taken it), so it is at most once.
"""

from __future__ import annotations

import logging
from datetime import date, datetime, timedelta

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode

from mdrportal.core.outbox import (
    Delivered,
    NotDelivered,
    OutboxChannel,
    OutboxState,
    outbox_fail_stuck,
    outbox_send,
    outbox_unsent,
)
from reports.models import ReportRecipient, ReportSend
from reports.pdf import report_pdf
from reports.periods import Period, month_of, previous_month
from reports.selectors import report_read
from tenants.models import Tenant

log = logging.getLogger(__name__)


def recipient_tenants(recipient: ReportRecipient) -> QuerySet[Tenant]:
    """What the recipient's report covers: its tenant, or every customer of its partner (the roll-up)."""
    if recipient.partner_id is not None:
        return Tenant.objects.filter(partner_id=recipient.partner_id)
    # A recipient has its tenant or its partner (the model's constraint).
    assert recipient.tenant_id is not None
    return Tenant.objects.filter(pk=recipient.tenant_id)


def report_send_claim(
    *, recipient: ReportRecipient, period_start: date, number: int = 1, requested_by: str = ""
) -> ReportSend | None:
    """Claim the send; None when it is claimed already (by another beat, worker or an earlier run)."""
    try:
        with transaction.atomic():
            return ReportSend.objects.create(
                recipient=recipient, period_start=period_start, number=number, requested_by=requested_by
            )
    except IntegrityError:
        return None


class ReportChannel(OutboxChannel):
    """Monthly reports: composed when sent (figures and PDF), handed to the mail server; no incident's
    timeline to tell (the recipients page and the API show each send's state)."""

    model = ReportSend
    task = "reports.report_send_deliver"
    related = ("recipient",)

    def deliver(self, item: ReportSend) -> Delivered:
        try:
            _compose(item.recipient, month_of(item.period_start)).send(fail_silently=False)
        except Exception as error:  # noqa: BLE001 - SMTP, network, layout errors alike end as failed
            raise NotDelivered(str(error) or repr(error)) from error
        return Delivered()


REPORTS = ReportChannel()


def report_send_deliver(*, send: ReportSend) -> str | None:
    """Compose and send one claimed report (outside any transaction), then record what became of it; None
    when another worker took it first (the claimed row moves to sending once, by a conditional update)."""
    return outbox_send(REPORTS, send.pk) or None


def monthly_reports_send(*, today: date | None = None) -> int:
    """Send last month's report to every active recipient that had been added by the month's end and has not
    been sent it; how many were sent."""
    period = previous_month(today or timezone.now().date())
    sent = 0
    # A tenant that turned the email off gets none; turned back on, only the periods due since.
    switched_on = (
        Q(tenant__isnull=True)
        | Q(tenant__monthly_report__isnull=True)
        | Q(tenant__monthly_report__enabled=True, tenant__monthly_report__changed_at__lte=period.end)
    )
    # An address added (or added again) after the month ended gets that month only on request.
    recipients = (
        ReportRecipient.objects.filter(switched_on, active=True, active_since__lte=period.end)
        .select_related("tenant", "partner")
        .order_by("pk")
    )
    for recipient in recipients:
        send = report_send_claim(recipient=recipient, period_start=period.start.date())
        if send is not None and report_send_deliver(send=send) == OutboxState.SENT:
            sent += 1
    return sent


def report_resends_deliver(*, before: datetime | None = None) -> int:
    """Deliver the resends someone asked for whose worker never took them (a lost nudge), and fail the sends
    whose worker died mid-send: the sweeper's side of reports.recipients.report_resend_request. How many
    were sent."""
    outbox_fail_stuck(REPORTS)
    waiting = outbox_unsent(REPORTS, before=before).exclude(requested_by="")
    sends = [report_send_deliver(send=send) for send in waiting]
    return sends.count(OutboxState.SENT)


def report_send_deliver_requested(*, send_id: int) -> str | None:
    """The worker's side of a resend: deliver it unless it was delivered already."""
    send = ReportSend.objects.select_related("recipient").filter(pk=send_id).first()
    return None if send is None else report_send_deliver(send=send)


def _scope_name(recipient: ReportRecipient) -> str:
    if recipient.tenant is not None:
        return recipient.tenant.name
    assert recipient.partner is not None  # a recipient has its tenant or its partner (the model's constraint)
    return f"{recipient.partner.name}'s customers"


def _compose(recipient: ReportRecipient, period: Period) -> EmailMultiAlternatives:
    tenants = recipient_tenants(recipient)
    report = report_read(tenants=tenants, period=period)
    name = _scope_name(recipient)
    month = f"{period.start:%B %Y}"
    last_day = (period.end - timedelta(days=1)).date()
    query = {"period": "range", "start": f"{period.start:%Y-%m-%d}", "end": f"{last_day:%Y-%m-%d}"}
    link = f"{settings.PUBLIC_BASE_URL}{reverse('reports:page')}?{urlencode(query)}"
    context = {"report": report, "name": name, "month": month, "link": link, "recipient": recipient}
    message = EmailMultiAlternatives(
        subject=f"Monthly report for {name}: {month}",
        body=render_to_string("email/monthly_report.txt", context),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[recipient.email],
        headers={"Auto-Submitted": "auto-generated"},
    )
    message.attach_alternative(render_to_string("email/monthly_report.html", context), "text/html")
    message.attach(
        f"report-{period.start:%Y-%m}.pdf", report_pdf(report=report, scope=name), "application/pdf"
    )
    return message
