"""Close the loop with people: the others told of an incident hear who acknowledged it, by the channels they
chose; when it is resolved or closed, the customer's contacts get a short summary with the timeline link."""

from __future__ import annotations

from typing import Any

import pytest
from django.conf import settings
from django.core import mail
from django.urls import reverse

from escalation.acknowledgments.services import acknowledgment_record
from escalation.emails.send import email_send
from escalation.models import NotificationRun, RunPurpose, RunState, TextKind
from escalation.runs.lifecycle import incident_change_status
from escalation.runs.services import notification_start, run_advance
from incidents.execution import action_run
from incidents.models import Channel, Incident, IncidentStatus
from tenants.models import ResponseMode
from tenants.services import contact_update
from tests.factories import make_incident, make_tenant, propose

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def locmem_mail(settings) -> None:
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"


def sent(run: NotificationRun) -> dict[str, Any]:
    mail.outbox.clear()
    for pk in run.emails.values_list("pk", flat=True):
        email_send(pk)
    return {m.to[0]: m for m in mail.outbox}


def told_run(incident: Incident, purpose: str) -> NotificationRun:
    run = NotificationRun.objects.get(incident=incident, purpose=purpose)
    run_advance(run.pk)
    run.refresh_from_db()
    assert run.state == RunState.COMPLETED
    return run


def test_the_others_told_of_an_incident_hear_who_acknowledged_it_by_their_channels() -> None:
    tenant = make_tenant(phones=3)
    first, second, third = tenant.contacts.order_by("call_order")
    contact_update(contact=third, by=None, channels=["voice", "email", "sms"])
    incident = make_incident(tenant)
    run_advance(notification_start(incident=incident, by=None).pk)  # everyone emailed, first phoned

    acknowledgment_record(incident=incident, channel=Channel.EMAIL_LINK, contact=first)

    run = told_run(incident, RunPurpose.ACKNOWLEDGED)
    emails = sent(run)
    assert set(emails) == {second.email, third.email}  # not the one who acknowledged
    message = emails[second.email]
    assert f"{first.name} acknowledged" in message.subject
    assert f"{first.name} acknowledged incident #{incident.pk}" in message.body
    assert "/l/" not in message.body  # it asks nothing: no link to acknowledge
    (text,) = run.texts.all()
    assert (text.contact, text.kind) == (third, TextKind.ACKNOWLEDGED)
    assert f"{first.name} acknowledged incident #{incident.pk}" in text.body
    # A second acknowledgment tells nobody again.
    acknowledgment_record(incident=incident, channel=Channel.EMAIL_LINK, contact=second)
    assert NotificationRun.objects.filter(incident=incident, purpose=RunPurpose.ACKNOWLEDGED).count() == 1


@pytest.mark.parametrize("status", [IncidentStatus.RESOLVED, IncidentStatus.CLOSED])
def test_resolving_or_closing_sends_the_customer_a_summary_with_the_timeline_link(
    status: str, analyst: Any
) -> None:
    tenant = make_tenant(mode=ResponseMode.AUTHORIZE, phones=2)
    first, second = tenant.contacts.order_by("call_order")
    contact_update(contact=second, by=None, channels=["voice", "email", "sms"])
    incident = make_incident(tenant)
    isolate = propose(incident, "isolate_endpoint")
    action_run(isolate.pk)

    incident_change_status(incident=incident, status=status, by=analyst, reason="threat removed")

    run = told_run(incident, RunPurpose.CLOSED)
    link = settings.PUBLIC_BASE_URL + reverse("incidents:detail", args=[incident.pk])
    emails = sent(run)
    assert set(emails) == {first.email, second.email}
    body = emails[first.email].body
    assert f"is {IncidentStatus(status).label.lower()}" in body
    assert f"Isolate endpoint on {isolate.target} [Succeeded]" in body
    assert link in body and link in emails[first.email].alternatives[0][0]
    (text,) = run.texts.all()
    assert text.contact == second and link in text.body and "Actions by MDR Ops: 1" in text.body
    # Closing a resolved incident tells nobody a second time.
    if status == IncidentStatus.RESOLVED:
        incident_change_status(incident=incident, status=IncidentStatus.CLOSED, by=analyst)
        assert NotificationRun.objects.filter(incident=incident, purpose=RunPurpose.CLOSED).count() == 1
