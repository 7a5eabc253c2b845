"""Reports: last month's report by email, once per recipient and period, even with two beats at once."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from django.core import mail
from django.core.mail.backends.base import BaseEmailBackend
from django.test import Client
from django.urls import reverse

from incidents.models import EventKind, Incident
from incidents.services import incident_open
from incidents.timeline_writes import timeline_record
from mdrportal.core.outbox import OutboxState
from reports import services
from reports.models import ReportRecipient, ReportSend
from reports.recipients import report_resend_request
from reports.services import monthly_reports_send, report_send_deliver_requested
from tests.factories import (
    login_verified,
    make_analyst,
    make_lead,
    make_partner,
    make_tenant,
    recipients_on_record_long_ago,
)
from tests.threads import at_once

TODAY = date(2026, 3, 4)  # reports February 2026
IN_FEBRUARY = datetime(2026, 2, 10, 9, 0, tzinfo=UTC)


def opened_in_february(tenant: Any, *, acknowledged_after: int | None = None) -> Incident:
    incident = incident_open(tenant=tenant, title="Ransomware", by=None)
    Incident.objects.filter(pk=incident.pk).update(opened_at=IN_FEBRUARY, detected_at=IN_FEBRUARY)
    if acknowledged_after is not None:
        timeline_record(
            incident=incident,
            kind=EventKind.ACKNOWLEDGED,
            at=IN_FEBRUARY + timedelta(minutes=acknowledged_after),
            summary="Acknowledged",
            label="test",
        )
    return incident


class RefusingBackend(BaseEmailBackend):
    def send_messages(self, email_messages: Any) -> int:
        raise ConnectionRefusedError("SMTP server refused the connection")


@pytest.mark.django_db
def test_last_months_report_goes_once_to_each_active_recipient() -> None:
    tenant = make_tenant()
    opened_in_february(tenant, acknowledged_after=7)
    incident_open(tenant=tenant, title="This month's", by=None)  # March: not in February's report
    ReportRecipient.objects.create(tenant=tenant, email="ciso@example.com")
    ReportRecipient.objects.create(tenant=tenant, email="off@example.com", active=False)
    recipients_on_record_long_ago()
    assert monthly_reports_send(today=TODAY) == 1
    assert monthly_reports_send(today=TODAY) == 0
    assert monthly_reports_send(today=TODAY + timedelta(days=1)) == 0
    [message] = mail.outbox
    assert message.to == ["ciso@example.com"]
    assert message.subject == f"Monthly report for {tenant.name}: February 2026"
    assert "Incidents opened: 1" in message.body
    assert "Time to acknowledge: 7 min 00 s" in message.body
    assert "period=range&start=2026-02-01&end=2026-02-28" in message.body
    [(name, content, kind)] = message.attachments
    assert (name, kind) == ("report-2026-02.pdf", "application/pdf")
    assert content.startswith(b"%PDF-")
    send = ReportSend.objects.get()
    assert (send.period_start, send.number, send.state) == (date(2026, 2, 1), 1, OutboxState.SENT)


@pytest.mark.django_db
def test_a_partner_recipient_gets_the_roll_up_of_its_customers() -> None:
    partner = make_partner()
    for _ in range(2):
        opened_in_february(make_tenant(partner=partner))
    opened_in_february(make_tenant())  # not the partner's customer
    ReportRecipient.objects.create(partner=partner, email="msp@example.com")
    recipients_on_record_long_ago()
    monthly_reports_send(today=TODAY)
    [message] = mail.outbox
    assert message.subject == f"Monthly report for {partner.name}'s customers: February 2026"
    assert "Incidents opened: 2" in message.body


@pytest.mark.django_db
def test_a_failed_send_is_recorded_and_not_retried_until_someone_resends(settings: Any) -> None:
    tenant = make_tenant()
    recipient = ReportRecipient.objects.create(tenant=tenant, email="ciso@example.com")
    settings.EMAIL_BACKEND = f"{__name__}.RefusingBackend"
    recipients_on_record_long_ago()
    assert monthly_reports_send(today=TODAY) == 0
    failed = ReportSend.objects.get()
    assert failed.state == OutboxState.FAILED
    assert "refused" in failed.error
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    assert monthly_reports_send(today=TODAY) == 0
    assert mail.outbox == []
    resend = report_resend_request(recipient=recipient, period_start=date(2026, 2, 1), by=make_lead())
    assert report_send_deliver_requested(send_id=resend.pk) == "sent"
    assert len(mail.outbox) == 1
    assert list(ReportSend.objects.order_by("number").values_list("number", "state", "requested_by")) == [
        (1, "failed", ""),
        (2, "sent", "lead"),
    ]


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_beats_at_once_send_each_recipient_one_report(monkeypatch: pytest.MonkeyPatch) -> None:
    """Both beats reach each claim together: the send row's unique constraint lets one of them send."""
    tenant = make_tenant()
    opened_in_february(tenant)
    for address in ("a@example.com", "b@example.com"):
        ReportRecipient.objects.create(tenant=tenant, email=address)
    together = threading.Barrier(2, timeout=20)
    claim = services.report_send_claim

    def claim_together(**kwargs: Any) -> ReportSend | None:
        together.wait()
        return claim(**kwargs)

    monkeypatch.setattr(services, "report_send_claim", claim_together)
    sent: list[int] = []
    recipients_on_record_long_ago()
    at_once(lambda: sent.append(monthly_reports_send(today=TODAY)))
    assert sorted(sent) in ([0, 2], [1, 1])
    assert sorted(m.to[0] for m in mail.outbox) == ["a@example.com", "b@example.com"]
    assert ReportSend.objects.count() == 2


@pytest.mark.django_db
@pytest.mark.usefixtures("fast_passwords")
def test_a_lead_resends_last_months_report_from_the_admin_and_an_analyst_may_not() -> None:
    tenant = make_tenant()
    recipient = ReportRecipient.objects.create(tenant=tenant, email="ciso@example.com")
    recipients_on_record_long_ago()
    monthly_reports_send()
    assert len(mail.outbox) == 1
    url = reverse("admin:reports_reportrecipient_changelist")
    action = {"action": "resend_last_month", "_selected_action": [recipient.pk]}
    analyst = Client()
    login_verified(analyst, make_analyst())
    assert analyst.get(url).status_code == 200  # MDR Ops reads who receives what
    analyst.post(url, action)
    assert len(mail.outbox) == 1
    lead = Client()
    login_verified(lead, make_lead())
    response = lead.post(url, action, follow=True)
    assert response.status_code == 200
    assert "1 report of " in response.content.decode() and "to send again" in response.content.decode()
    assert len(mail.outbox) == 1  # queued: a worker sends it
    resend = recipient.sends.get(number=2)
    assert report_send_deliver_requested(send_id=resend.pk) == "sent"
    assert len(mail.outbox) == 2
    assert list(recipient.sends.values_list("number", "requested_by")) == [(1, ""), (2, "lead")]
