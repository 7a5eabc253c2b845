"""Texts that come in: "1 <code>" (or ACK) acknowledges the alert texted with that code, a bare 1 only the one
alert open at that number (and never authorizes); STOP and START opt out and in, anything else is answered;
unknown senders and codes change nothing.
Sending here is the simulated backend; the webhook is signed as Twilio signs it."""

from __future__ import annotations

import pytest
from django.test import Client

from escalation.acknowledgments.services import acknowledgment_record
from escalation.models import Acknowledgment, RunState, TextKind, TextMessage
from escalation.runs.lifecycle import incident_change_status
from escalation.runs.services import notification_start, run_advance
from escalation.sms.inbound import HELP, NOT_RECORDED, UNKNOWN, keyword
from escalation.sms.outbound import text_body
from escalation.sms.send import text_claim, text_send
from escalation.wanted import someone_has_it
from incidents.models import Channel, Incident, IncidentStatus, Severity
from incidents.services import incident_open
from mdrportal.core.outbox import OutboxState
from tenants.models import Contact, SettingsChange
from tenants.services import contact_update
from tests.factories import login_verified, make_analyst, make_incident, make_tenant
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
    assert text_send(text.pk) == OutboxState.SENT
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


def shared_number() -> tuple[Incident, Incident]:
    """One engineer is a contact at two customers under one phone number; each customer has an alert out to
    it. The second customer ticked the fallback."""
    a_tenant, b_tenant = make_tenant(phones=1), make_tenant(phones=1, fallback=True)
    a_contact, b_contact = a_tenant.contacts.get(), b_tenant.contacts.get()
    assert a_contact.phone == b_contact.phone
    a_incident = make_incident(a_tenant)
    b_incident = incident_open(tenant=b_tenant, title="Phishing on MX01", severity=Severity.HIGH, by=None)
    texted(a_incident, a_contact)
    texted(b_incident, b_contact)
    return a_incident, b_incident


def code_to(incident: Incident) -> str:
    (code,) = set(TextMessage.objects.filter(incident=incident).values_list("reply_code", flat=True))
    return code


def test_a_reply_with_the_code_acknowledges_that_customer_s_incident_only(twilio) -> None:
    a_incident, b_incident = shared_number()
    a_contact = a_incident.tenant.contacts.get()
    assert code_to(a_incident) != code_to(b_incident)

    answer = reply(twilio.text(str(a_contact.phone), f"1 {code_to(a_incident)}"))

    ack = Acknowledgment.objects.get()
    assert (ack.incident_id, ack.contact_id, ack.channel) == (a_incident.pk, a_contact.pk, Channel.SMS)
    # The confirmation names the incident and the customer.
    assert (
        f"Acknowledged incident #{a_incident.pk} for {a_incident.tenant.name} (Ransomware on WS-0142)"
        in answer
    )
    assert b_incident.tenant.name not in answer
    # Nobody at the second customer has it: its calls go on and its fallback is still possible.
    assert not someone_has_it(b_incident)
    assert b_incident.notification_runs.get().state == RunState.ACTIVE
    assert a_incident.notification_runs.get().state == RunState.ACKNOWLEDGED


def test_ack_and_the_code_in_any_case_and_spacing_acknowledges_that_incident(twilio) -> None:
    a_incident, b_incident = shared_number()
    code = code_to(b_incident)

    answer = reply(twilio.text(str(b_incident.tenant.contacts.get().phone), f" ack {code[:2]} {code[2:]} "))

    assert f"Acknowledged incident #{b_incident.pk} for {b_incident.tenant.name}" in answer
    assert list(Acknowledgment.objects.values_list("incident_id", flat=True)) == [b_incident.pk]


def test_a_bare_1_with_two_open_alerts_changes_nothing_and_lists_both_codes(twilio) -> None:
    a_incident, b_incident = shared_number()

    answer = reply(twilio.text(str(a_incident.tenant.contacts.get().phone), "1"))

    assert not Acknowledgment.objects.exists()
    assert "Nothing was changed" in answer and "2 open MDR Ops alerts" in answer
    assert (
        f"1 {code_to(a_incident)} for {a_incident.tenant.name} #{a_incident.pk}: Ransomware on WS-0142"
        in answer
    )
    assert (
        f"1 {code_to(b_incident)} for {b_incident.tenant.name} #{b_incident.pk}: Phishing on MX01" in answer
    )


def test_a_bare_1_with_one_open_alert_acknowledges_it_and_names_it(twilio) -> None:
    a_incident, b_incident = shared_number()
    phone = str(a_incident.tenant.contacts.get().phone)
    reply(twilio.text(phone, f"1 {code_to(a_incident)}"))

    # The first customer's alert is acknowledged: the number has one open alert left.
    answer = reply(twilio.text(phone, "1"))

    assert f"Acknowledged incident #{b_incident.pk} for {b_incident.tenant.name} (Phishing on MX01)" in answer
    assert sorted(Acknowledgment.objects.values_list("incident_id", "contact_id")) == [
        (a_incident.pk, a_incident.tenant.contacts.get().pk),
        (b_incident.pk, b_incident.tenant.contacts.get().pk),
    ]


@pytest.mark.parametrize("wrong", ["0000", "12345", "7"])
def test_a_wrong_code_changes_nothing_says_so_and_lists_the_open_alerts(twilio, wrong: str) -> None:
    a_incident, b_incident = shared_number()
    assert wrong not in (code_to(a_incident), code_to(b_incident))

    answer = reply(twilio.text(str(a_incident.tenant.contacts.get().phone), f"1 {wrong}"))

    assert not Acknowledgment.objects.exists()
    assert f"No open MDR Ops alert to this number has the code {wrong}, so nothing was changed" in answer
    assert f"1 {code_to(a_incident)} for" in answer and f"1 {code_to(b_incident)} for" in answer


def test_a_code_of_an_incident_already_acknowledged_says_so_and_changes_nothing(twilio) -> None:
    a_incident, b_incident = shared_number()
    a_contact = a_incident.tenant.contacts.get()
    acknowledgment_record(incident=a_incident, channel=Channel.PORTAL, contact=a_contact)

    answer = reply(twilio.text(str(a_contact.phone), f"1 {code_to(a_incident)}"))

    assert f"Nothing was changed: incident #{a_incident.pk} for {a_incident.tenant.name}" in answer
    assert "was already acknowledged" in answer and f"Reply 1 {code_to(b_incident)} for" in answer
    assert list(Acknowledgment.objects.values_list("channel", flat=True)) == [Channel.PORTAL]
    assert not someone_has_it(b_incident)


def test_a_code_of_a_resolved_incident_says_so_and_changes_nothing(twilio) -> None:
    a_incident, b_incident = shared_number()
    incident_change_status(incident=a_incident, status=IncidentStatus.RESOLVED, by=make_analyst())

    answer = reply(twilio.text(str(a_incident.tenant.contacts.get().phone), f"1 {code_to(a_incident)}"))

    assert f"Nothing was changed: incident #{a_incident.pk} for {a_incident.tenant.name}" in answer
    assert "is resolved" in answer
    assert not Acknowledgment.objects.exists()


def test_another_round_s_text_about_the_same_alert_repeats_its_code(twilio) -> None:
    tenant = make_tenant(phones=1)
    contact = tenant.contacts.get()
    incident = make_incident(tenant)
    first = texted(incident, contact)
    # A later text about the same incident to the same contact (a reminder of the alert, say).
    second = text_claim(
        contact=contact,
        incident=incident,
        kind=TextKind.NOTIFY,
        body=text_body(contact=contact, incident=incident),
    )
    assert text_send(second.pk) == OutboxState.SENT
    second.refresh_from_db()

    assert second.pk != first.pk and second.reply_code == first.reply_code
    assert f"Reply 1 {first.reply_code} to acknowledge" in second.body
    answer = reply(twilio.text(str(contact.phone), "1"))
    assert f"Acknowledged incident #{incident.pk}" in answer


def test_an_alert_on_a_closed_incident_is_not_acknowledged_by_text(twilio) -> None:
    tenant = make_tenant(phones=1)
    contact = tenant.contacts.get()
    incident = make_incident(tenant)
    texted(incident, contact)
    incident_change_status(incident=incident, status=IncidentStatus.RESOLVED, by=make_analyst())

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
    assert text_claim(contact=contact, incident=make_incident(tenant), kind="reminder", body="x") is None


def test_a_stop_after_the_text_was_claimed_keeps_it_from_going(twilio) -> None:
    tenant = make_tenant(phones=1)
    contact = tenant.contacts.get()
    contact_update(contact=contact, by=None, channels=["sms"])
    incident = make_incident(tenant)
    text = text_claim(contact=contact, incident=incident, kind="reminder", body="Reminder")
    reply(twilio.text(str(contact.phone), "STOP"))

    assert text_send(text.pk) == ""

    text.refresh_from_db()
    assert text.state == OutboxState.CANCELED and not text.provider_id
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
    assert text.provider_id in content and "Accepted by the provider" in content
