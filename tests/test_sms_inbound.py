"""Texts that come in: matched by number to the latest open alert texted there; 1 or ACK acknowledges (and
never authorizes), STOP and START opt out and in, anything else is answered; unknown senders change nothing.
Sending here is the simulated backend; the webhook is signed as Twilio signs it."""

from __future__ import annotations

import pytest
from django.test import Client

from escalation.models import Acknowledgment, TextMessage, TextStatus
from escalation.runs.services import notification_start, run_advance
from escalation.sms.inbound import HELP, NOT_RECORDED, UNKNOWN, keyword
from escalation.sms.send import sms_send, text_send
from incidents.models import Channel, Incident, IncidentStatus
from incidents.services import incident_set_status
from tenants.models import Contact, SettingsChange
from tenants.services import contact_update
from tests.factories import login_verified, make_analyst, make_incident, make_tenant, propose
from tests.fakes.twilio import ACCOUNT_SID, AUTH_TOKEN, PUBLIC_BASE_URL, TwilioWebhooks

pytestmark = pytest.mark.django_db(
    transaction=True, serialized_rollback=True
)  # text_send refuses a transaction


@pytest.fixture(autouse=True)
def twilio_configured(settings) -> None:
    settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN = ACCOUNT_SID, AUTH_TOKEN
    settings.TWILIO_MESSAGING_FROM = None  # texts go out simulated; replies come in through the webhook
    settings.PUBLIC_BASE_URL = PUBLIC_BASE_URL


@pytest.fixture
def twilio(client: Client) -> TwilioWebhooks:
    return TwilioWebhooks(client)


def texted(incident: Incident, contact: Contact) -> TextMessage:
    """Notify, and send the contact's text as the worker would (after the run's step has committed)."""
    contact_update(contact=contact, by=None, channels=["voice", "sms", "email"])
    run = notification_start(incident=incident, by=None)
    run_advance(run.pk)
    text = TextMessage.objects.get(run=run, contact=contact)
    assert text_send(text.pk) == TextStatus.SENT
    text.refresh_from_db()
    return text


def reply(response) -> str:
    assert response.status_code == 200 and response["Content-Type"].startswith("text/xml")
    return response.content.decode()


@pytest.mark.parametrize(
    ("body", "word"), [("1", "1"), (" ack ", "ACK"), ("A c K", "ACK"), ("stop\n", "STOP")]
)
def test_replies_are_read_whatever_their_case_and_spaces(body: str, word: str) -> None:
    assert keyword(body) == word


def test_ack_goes_to_the_latest_open_alert_texted_to_that_number(twilio) -> None:
    tenant = make_tenant(phones=1)
    contact = tenant.contacts.get()
    older, latest = make_incident(tenant), make_incident(tenant)
    propose(latest, "isolate_endpoint")
    texted(older, contact)
    texted(latest, contact)

    answer = reply(twilio.text(str(contact.phone), "ACK"))

    assert "Acknowledged" in answer
    ack = Acknowledgment.objects.get()
    assert (ack.incident_id, ack.contact_id, ack.channel) == (latest.pk, contact.pk, Channel.SMS)
    assert not latest.authorizations.exists()


def test_an_alert_on_a_closed_incident_is_not_acknowledged_by_text(twilio) -> None:
    tenant = make_tenant(phones=1)
    contact = tenant.contacts.get()
    incident = make_incident(tenant)
    texted(incident, contact)
    incident_set_status(incident=incident, status=IncidentStatus.RESOLVED, by=make_analyst())

    assert UNKNOWN in reply(twilio.text(str(contact.phone), "1"))
    assert not Acknowledgment.objects.exists()


def test_a_contact_deactivated_since_the_text_cannot_acknowledge(twilio) -> None:
    tenant = make_tenant(phones=2)
    contact = tenant.contacts.order_by("call_order").first()
    texted(make_incident(tenant), contact)
    contact_update(contact=contact, by=None, active=False)

    assert NOT_RECORDED in reply(twilio.text(str(contact.phone), "1"))
    assert not Acknowledgment.objects.exists()


def test_any_other_reply_says_what_a_text_can_do_and_changes_nothing(twilio) -> None:
    tenant = make_tenant(phones=1)
    contact = tenant.contacts.get()
    texted(make_incident(tenant), contact)

    for body in ("yes please isolate it", "2", "AUTHORIZE"):
        assert HELP in reply(twilio.text(str(contact.phone), body))
    assert not Acknowledgment.objects.exists()


@pytest.mark.parametrize("word", ["STOP", "unsubscribe", "Cancel", "quit"])
def test_an_opt_out_word_stops_texts_and_is_audited(twilio, word: str) -> None:
    tenant = make_tenant(phones=1)
    contact = tenant.contacts.get()
    contact_update(contact=contact, by=None, channels=["sms"])

    assert "no more texts" in reply(twilio.text(str(contact.phone), word))

    contact.refresh_from_db()
    assert contact.sms_opted_out_at is not None
    audit = SettingsChange.objects.get(tenant=tenant, field="sms_opted_out_at")
    assert (audit.subject, audit.actor_id, audit.before) == (contact.name, None, None)
    assert sms_send(contact=contact, incident=make_incident(tenant), kind="reminder", body="x") is None


def test_a_stop_after_the_text_was_claimed_keeps_it_from_going(twilio) -> None:
    tenant = make_tenant(phones=1)
    contact = tenant.contacts.get()
    contact_update(contact=contact, by=None, channels=["sms"])
    incident = make_incident(tenant)
    text = sms_send(contact=contact, incident=incident, kind="reminder", body="Reminder")
    reply(twilio.text(str(contact.phone), "STOP"))

    assert text_send(text.pk) == ""

    text.refresh_from_db()
    assert text.status == TextStatus.CANCELED and not text.provider_sid
    assert incident.events.filter(data__text=text.pk, summary__contains="not sent").exists()


def test_unknown_senders_get_a_polite_answer_and_change_nothing(twilio) -> None:
    tenant = make_tenant(phones=1)
    texted(make_incident(tenant), tenant.contacts.get())

    for sender in ("+12025550199", "not-a-number", ""):
        assert UNKNOWN in reply(twilio.text(sender, "1"))
    assert not Acknowledgment.objects.exists()


def test_the_simulated_phone_page_shows_texts_and_replies_to_them(client, settings) -> None:
    settings.DEBUG = True
    tenant = make_tenant(phones=1)
    contact = tenant.contacts.get()
    incident = make_incident(tenant)
    text = texted(incident, contact)
    login_verified(client, make_analyst())

    page = client.get("/dev/phone/").content.decode()
    assert f'id="text-{text.pk}"' in page and "Ransomware on WS-0142" in page and "Reply 1" in page

    client.post(f"/dev/phone/text/{text.pk}/ack/")

    assert Acknowledgment.objects.get().channel == Channel.SMS


def test_an_analyst_reads_a_run_s_texts_in_the_admin(client) -> None:
    tenant = make_tenant(phones=1)
    text = texted(make_incident(tenant), tenant.contacts.get())
    login_verified(client, make_analyst())

    page = client.get(f"/admin/escalation/notificationrun/{text.run_id}/change/")

    assert page.status_code == 200
    content = page.content.decode()
    assert text.provider_sid in content and "Accepted by the provider" in content
