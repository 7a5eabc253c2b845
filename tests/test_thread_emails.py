"""The thread by email: each message goes to the other side once committed, through the email outbox, with
nothing in it that authorizes; a message rolled back emails nobody; internal notes are never emailed."""

from __future__ import annotations

from email.message import EmailMessage
from typing import Any

import pytest
from django.urls import reverse

from escalation.emails.thread import thread_message_send
from escalation.models import EmailNotification
from escalation.tasks import email_send
from incidents.models import EventKind, Incident
from incidents.notes import note_add
from incidents.queue import incident_assign
from mdrportal.core.outbox import OutboxState
from mdrportal.core.retry import retried_atomic
from tenants.models import Role
from tests.factories import as_user, make_analyst, make_incident, make_member, make_tenant, portal
from tests.fakes.smtp import SMTPSink

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_passwords")]


class Outbox:
    """What the mail server received since the test began (the server lives for the whole module)."""

    def __init__(self, sink: SMTPSink) -> None:
        self.sink, self.start = sink, len(sink.messages)

    def of(self, incident: Incident) -> list[EmailMessage]:
        return [m for m in self.sink.messages[self.start :] if m["X-MDR-Incident"] == str(incident.pk)]


@pytest.fixture
def outbox(smtp: SMTPSink, settings: Any) -> Outbox:
    """The real SMTP backend, talking to a local mail server that keeps what it receives."""
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_USE_TLS = "127.0.0.1", smtp.port, False
    settings.MDR_QUEUE_EMAIL = "queue@mdr.example"
    return Outbox(smtp)


def deliver(incident: Incident, *, times: int = 1) -> None:
    """Run the send task for every claimed email of the incident's thread, as workers would (maybe twice)."""
    for row in EmailNotification.objects.filter(message__incident=incident).order_by("pk"):
        for _ in range(times):
            email_send.apply(args=[row.pk])


def body_of(message: EmailMessage) -> str:
    return message.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]


def test_mdr_ops_message_goes_to_each_active_contact_who_takes_email_once_and_is_recorded(
    outbox: Outbox, analyst: Any
) -> None:
    incident = make_incident(make_tenant(phones=4))
    first, no_email, inactive, last = incident.tenant.contacts.order_by("call_order")
    no_email.channels = ["voice"]
    no_email.save()
    inactive.active = False
    inactive.save()

    response = as_user(analyst).post(
        f"/api/v1/incidents/{incident.pk}/messages/", {"body": "FS-01 is isolated."}, format="json"
    )
    assert response.status_code == 201
    deliver(incident, times=2)

    mails = outbox.of(incident)
    assert sorted(m["To"] for m in mails) == sorted([first.email, last.email])
    text = body_of(mails[0])
    assert "FS-01 is isolated." in text and "never authorizes anything" in text
    assert "/links/" not in text and reverse("incidents:detail", args=[incident.pk]) in text
    rows = EmailNotification.objects.filter(message__incident=incident)
    assert {(r.to, r.state, r.kind) for r in rows} == {
        (first.email, OutboxState.SENT, "thread"),
        (last.email, OutboxState.SENT, "thread"),
    }
    sent = incident.events.filter(kind=EventKind.NOTIFICATION_SENT)
    assert sorted(e.data["to"] for e in sent) == sorted([first.email, last.email])
    assert all(e.data["message"] == rows[0].message_id for e in sent)


def test_a_customer_message_goes_to_the_owner_or_else_to_the_mdr_queue(outbox: Outbox) -> None:
    incident = make_incident(make_tenant())
    viewer = make_member(incident.tenant, Role.VIEWER)
    portal(viewer).post(reverse("incidents:message", args=[incident.pk]), {"body": "Who is on it?"})
    owner = make_analyst("owner")
    owner.email = "owner@mdr.example"
    owner.save()
    incident_assign(incident=incident, owner=owner, by=owner)
    portal(viewer).post(reverse("incidents:message", args=[incident.pk]), {"body": "Thanks, owner."})
    deliver(incident)

    mails = outbox.of(incident)
    assert [(m["To"], "Who is on it?" in body_of(m)) for m in mails] == [
        ("queue@mdr.example", True),
        ("owner@mdr.example", False),
    ]
    assert "Thanks, owner." in body_of(mails[1])
    assert reverse("admin:incidents_incident_change", args=[incident.pk]) in body_of(mails[1])
    assert not any(c.email in str(m["To"]) for m in mails for c in incident.tenant.contacts.all())


def test_a_message_rolled_back_claims_and_sends_nothing(
    outbox: Outbox, analyst: Any, django_capture_on_commit_callbacks: Any
) -> None:
    incident = make_incident(make_tenant())

    @retried_atomic
    def post_then_fail() -> None:
        thread_message_send(incident=incident, body="Never sent.", side="mdr", by=analyst)
        raise RuntimeError("the request failed after the message")

    with django_capture_on_commit_callbacks(execute=True) as callbacks, pytest.raises(RuntimeError):
        post_then_fail()

    assert callbacks == [] and not incident.messages.exists()
    assert not EmailNotification.objects.filter(message__incident=incident).exists()
    assert outbox.of(incident) == []


def test_a_repeated_claim_claims_nobody_twice(analyst: Any) -> None:
    from escalation.emails.thread import thread_emails_claim

    incident = make_incident(make_tenant(phones=2))
    message = thread_message_send(incident=incident, body="Hello.", side="mdr", by=analyst)

    assert retried_atomic(thread_emails_claim)(message) == []
    assert EmailNotification.objects.filter(message=message).count() == 2


def test_internal_notes_are_never_emailed(outbox: Outbox, analyst: Any) -> None:
    incident = make_incident(make_tenant())

    note_add(incident=incident, body="Customer seems slow to answer.", visibility="internal", by=analyst)

    assert not EmailNotification.objects.filter(message__incident=incident).exists()
    assert outbox.of(incident) == []


def test_analysts_read_each_message_email_and_its_outcome_on_the_message_page(
    outbox: Outbox, analyst_client: Any, analyst: Any
) -> None:
    incident = make_incident(make_tenant(phones=1))
    message = thread_message_send(incident=incident, body="Please confirm.", side="mdr", by=analyst)
    deliver(incident)

    page = analyst_client.get(reverse("admin:incidents_message_change", args=[message.pk])).content.decode()

    contact = incident.tenant.contacts.get()
    assert contact.email in page and "Sent" in page
