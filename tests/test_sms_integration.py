"""Texts end to end: a real Celery worker with its beat sweeper, a fake Twilio REST API (calls and messages)
and an SMTP sink on 127.0.0.1. The test plays Twilio's part: it posts signed inbound texts and call callbacks.

Runs on whatever DATABASE_URL and CELERY_BROKER_URL say: PostgreSQL and Redis in CI.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
from django.test import Client

from escalation.models import (
    Acknowledgment,
    CallAttempt,
    NotificationRun,
    RunState,
    TextMessage,
)
from escalation.runs.services import notification_start
from incidents.models import ActionStatus, Authorization, Channel, EventKind, Incident
from mdrportal.core.outbox import OutboxState
from tenants.models import Contact
from tenants.services import contact_update
from tests.factories import make_incident, make_tenant, propose
from tests.fakes.twilio import PUBLIC_BASE_URL, FakeTwilioAPI, TwilioWebhooks, twilio_signature
from tests.worker import wait_for

pytestmark = [
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
    pytest.mark.postgres,
    pytest.mark.redis,
]

LINK = re.compile(re.escape(PUBLIC_BASE_URL) + r"(/l/[^\s]+)")


@pytest.fixture
def worker_settings() -> dict[str, str]:
    return {"RENOTIFY_DELAY_MINUTES": "0", "RENOTIFY_ROUNDS": "1"}


@pytest.fixture(autouse=True)
def no_texts_yet(twilio: FakeTwilioAPI) -> None:
    """The fake outlives the test, and numbers repeat from one tenant to the next."""
    twilio.recover()
    twilio.messages.clear()


def texting(contact: Contact, *, can_authorize: bool = True) -> Contact:
    return contact_update(
        contact=contact, by=None, channels=["voice", "sms", "email"], can_authorize=can_authorize
    )


def first_two(incident: Incident) -> tuple[Contact, Contact]:
    first, second = incident.tenant.contacts.order_by("call_order")[:2]
    return first, second


def text_sent_to(twilio: FakeTwilioAPI, number: str, *, count: int = 1) -> list[str]:
    wait_for(lambda: len(twilio.texts_to(number)) >= count, timeout=45, what=f"a text to {number}")
    return twilio.texts_to(number)


def ringing_call(incident: Incident, sequence: int) -> CallAttempt:
    def placed() -> CallAttempt | None:
        return (
            CallAttempt.objects.filter(run__incident=incident, sequence=sequence)
            .exclude(provider_sid="")
            .order_by("-id")
            .first()
        )

    wait_for(placed, timeout=45, what=f"call {sequence} to be placed")
    return placed()


def run_state(incident: Incident) -> str:
    return NotificationRun.objects.filter(incident=incident).order_by("id").values_list("state", flat=True)[0]


def test_an_sms_1_acknowledges_stops_the_calls_and_authorizes_nothing(phone, twilio, smtp) -> None:
    tenant = make_tenant(phones=2)
    incident = make_incident(tenant)
    isolate = propose(incident, "isolate_endpoint")
    assert isolate.status == ActionStatus.AWAITING_AUTHORIZATION
    first, _ = first_two(incident)
    texting(first)

    notification_start(incident=incident, by=None)
    (body,) = text_sent_to(twilio, str(first.phone))
    call = ringing_call(incident, 1)

    # The text says what, how bad, and how to acknowledge; its link is this contact's, and it works.
    assert incident.title in body and "Critical" in body and f"#{incident.pk}" in body
    sent = TextMessage.objects.get(incident=incident)
    assert f"Reply 1 {sent.reply_code} to acknowledge" in body and "a text reply never authorizes" in body
    page = Client().get(urlsplit(LINK.search(body)[0]).path)
    assert page.status_code == 200 and "Acknowledge" in page.content.decode()
    sent.refresh_from_db()
    assert (sent.state, sent.backend, sent.to) == (OutboxState.SENT, "twilio", str(first.phone))
    assert sent.provider_id == twilio.messages[-1].sid

    reply = phone.text(str(first.phone), " ack ")

    assert reply.status_code == 200 and reply["Content-Type"].startswith("text/xml")
    # The only open alert at that number: a bare reply acknowledges it, and the answer names it.
    assert (
        f"<Message>Acknowledged incident #{incident.pk} for {tenant.name} (Ransomware on WS-0142). "
        "This is not an authorization"
    ) in reply.content.decode()
    ack = Acknowledgment.objects.get(incident=incident)
    assert (ack.channel, ack.contact_id) == (Channel.SMS, first.pk)
    # The ringing call is hung up and nobody else is phoned.
    wait_for(lambda: call.provider_sid in twilio.hung_up, timeout=30, what="the ringing call to be hung up")
    assert run_state(incident) == RunState.ACKNOWLEDGED
    assert CallAttempt.objects.filter(run__incident=incident).count() == 1
    # A text never authorizes: the action still waits for a written decision.
    isolate.refresh_from_db()
    assert isolate.status == ActionStatus.AWAITING_AUTHORIZATION
    assert not Authorization.objects.filter(incident=incident).exists()


def test_a_forged_inbound_text_is_refused_and_changes_nothing(phone, twilio, smtp) -> None:
    tenant = make_tenant(phones=1)
    incident = make_incident(tenant)
    (first,) = tenant.contacts.all()
    texting(first)
    notification_start(incident=incident, by=None)
    text_sent_to(twilio, str(first.phone))

    forged = twilio_signature(PUBLIC_BASE_URL + "/twilio/sms/", {"Body": "1"}, token="not-the-token")
    for signature in (forged, ""):
        for body in ("1", "STOP"):
            assert phone.text(str(first.phone), body, signature=signature).status_code == 403
    # Signed for another address (the Host header's) is forged too.
    assert (
        TwilioWebhooks(Client(), signed_base="http://testserver").text(str(first.phone), "1").status_code
        == 403
    )

    assert not Acknowledgment.objects.filter(incident=incident).exists()
    first.refresh_from_db()
    assert first.sms_opted_out_at is None
    assert run_state(incident) == RunState.ACTIVE


def test_after_stop_no_text_goes_until_start(phone, twilio, smtp) -> None:
    tenant = make_tenant(phones=1)
    (contact,) = tenant.contacts.all()
    texting(contact)
    number = str(contact.phone)

    stop = phone.text(number, "Stop")
    assert stop.status_code == 200 and "no more texts" in stop.content.decode()
    contact.refresh_from_db()
    assert contact.sms_opted_out_at is not None

    incident = make_incident(tenant)
    notification_start(incident=incident, by=None)
    wait_for(lambda: smtp.to(contact.email), timeout=45, what="the notification email")
    ringing_call(incident, 1)
    assert twilio.texts_to(number) == []
    assert not TextMessage.objects.filter(incident=incident).exists()

    start = phone.text(number, "START")
    assert start.status_code == 200
    contact.refresh_from_db()
    assert contact.sms_opted_out_at is None
    later = make_incident(tenant)
    notification_start(incident=later, by=None)
    (body,) = text_sent_to(twilio, number)
    assert f"#{later.pk}" in body


def test_a_refused_text_is_on_the_timeline_is_no_call_attempt_and_ends_nothing(phone, twilio, smtp) -> None:
    tenant = make_tenant(phones=2)
    incident = make_incident(tenant)
    first, _ = first_two(incident)
    texting(first)
    twilio.fail_messages_with(400, 21610, "Attempt to send to unsubscribed recipient")

    notification_start(incident=incident, by=None)

    wait_for(
        lambda: TextMessage.objects.filter(incident=incident, state=OutboxState.FAILED).exists(),
        timeout=45,
        what="the text to fail",
    )
    failed = TextMessage.objects.get(incident=incident)
    assert "21610" in failed.error
    event = incident.events.get(kind=EventKind.NOTIFICATION_SENT, data__text=failed.pk)
    assert "could not be sent" in event.summary and "no call attempt" in event.summary
    # The call tree goes on as if no text had been tried: the first call rings, and is the only attempt.
    call = ringing_call(incident, 1)
    assert call.contact_id == first.pk
    assert run_state(incident) == RunState.ACTIVE
    assert list(CallAttempt.objects.filter(run__incident=incident).values_list("outcome", flat=True)) == [
        "dialing"
    ]
    incident.refresh_from_db()
    assert not incident.needs_attention  # no "could not notify": a text is not how a run reaches anyone


def test_a_reply_from_an_unknown_number_is_answered_politely_and_changes_nothing(phone, twilio, smtp) -> None:
    tenant = make_tenant(phones=1)
    incident = make_incident(tenant)
    notification_start(incident=incident, by=None)

    reply = phone.text("+12025550199", "1")

    assert reply.status_code == 200 and "no open alert" in reply.content.decode()
    assert not Acknowledgment.objects.filter(incident=incident).exists()
