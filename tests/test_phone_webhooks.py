"""Twilio's webhooks: the TwiML a call runs, the key pressed, call statuses, and the signature on each."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from escalation.models import Acknowledgment, CallAttempt, CallOutcome, NotificationRun, RunPurpose
from incidents.models import ActionStatus, Basis, EventKind, Incident, TimelineEvent
from incidents.services import incident_open
from tenants.models import ResponseMode
from tests.factories import make_incident, make_tenant, propose
from tests.fakes.twilio import (
    PUBLIC_BASE_URL,
    TwilioWebhooks,
    call_dialing,
    new_call_sid,
    twilio_signature,
    use_twilio_account,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def twilio_configured(settings) -> None:
    use_twilio_account(settings)


@pytest.fixture
def twilio(client) -> TwilioWebhooks:
    return TwilioWebhooks(client)


@pytest.fixture
def incident() -> Incident:
    summary = "Files are being encrypted on WS-0142 and the activity is spreading over SMB."
    return make_incident(make_tenant(phones=2), summary=summary)


@pytest.fixture
def call(incident: Incident) -> CallAttempt:
    return call_dialing(incident)


def twiml(response) -> ET.Element:
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/xml")
    return ET.fromstring(response.content)


def fresh(call: CallAttempt) -> CallAttempt:
    return CallAttempt.objects.get(pk=call.pk)


def snapshot(call: CallAttempt) -> tuple:
    """Everything a webhook could change about a call and its incident."""
    row = fresh(call)
    incident_id = row.run.incident_id
    return (
        row.outcome,
        row.ended_at,
        row.provider_status,
        row.answered_by,
        Acknowledgment.objects.filter(incident_id=incident_id).count(),
        TimelineEvent.objects.filter(incident_id=incident_id).count(),
        NotificationRun.objects.get(pk=row.run_id).state,
    )


def call_events(call: CallAttempt) -> list[str]:
    events = TimelineEvent.objects.filter(kind=EventKind.CALL_ATTEMPT, data__call=call.pk).order_by("id")
    return [e.data["outcome"] for e in events]


# The TwiML of a call.


def test_the_call_says_the_tenant_and_the_incident_inside_a_one_digit_gather_repeated_once(
    twilio, call, incident
) -> None:
    root = twiml(twilio.voice(call))

    assert root.tag == "Response"
    assert [child.tag for child in root] == ["Gather", "Gather", "Say", "Hangup"]
    first, second, goodbye, _ = root
    for gather in (first, second):
        assert gather.attrib == {
            "numDigits": "1",
            "action": f"https://portal.example.com/twilio/gather/{call.pk}/",
            "method": "POST",
            "timeout": "8",
        }
        (say,) = gather
        assert say.tag == "Say"
    assert ET.tostring(first) == ET.tostring(second)
    text = first.find("Say").text
    assert text.startswith(f"MDR Ops security alert for {incident.tenant.name}. ")
    assert "Critical incident: Ransomware on WS-0142." in text
    assert "Files are being encrypted on WS-0142 and the activity is spreading over SMB." in text
    assert text.endswith("Press 1 to acknowledge.")
    assert goodbye.text == "Goodbye."


def test_the_call_text_is_escaped_xml(twilio) -> None:
    tenant = make_tenant(phones=1)
    incident = incident_open(tenant=tenant, title='<Hangup/> & "quotes"', summary="a < b", by=None)
    root = twiml(twilio.voice(call_dialing(incident)))
    assert [child.tag for child in root] == ["Gather", "Gather", "Say", "Hangup"]
    assert '<Hangup/> & "quotes"' in root.find("Gather/Say").text


def test_a_report_call_says_what_mdr_ops_did_and_still_asks_for_the_key(twilio) -> None:
    incident = make_incident(make_tenant(mode=ResponseMode.AUTHORIZE, phones=1))
    isolate = propose(incident, "isolate_endpoint", target="WS-0142")
    assert isolate.basis == Basis.AUTHORIZE_MODE
    run = NotificationRun.objects.create(incident=incident, purpose=RunPurpose.REPORT)
    contact = incident.tenant.contacts.get()
    call = CallAttempt.objects.create(
        run=run,
        contact=contact,
        try_number=1,
        sequence=1,
        severity_rank=0,
        to=contact.phone.as_e164,
        outcome=CallOutcome.DIALING,
        backend="twilio",
        provider_sid=new_call_sid(),
    )

    root = twiml(twilio.voice(call))

    assert [child.tag for child in root] == ["Gather", "Gather", "Say", "Hangup"]
    text = root.find("Gather/Say").text
    status = ActionStatus(isolate.status).label.lower()
    assert f"MDR Ops has taken these actions: {isolate.action_type.name} on WS-0142: {status}." in text
    assert text.endswith("Press 1 to acknowledge.")


@pytest.mark.parametrize("answered_by", ["machine_start", "machine_end_beep", "fax"])
def test_an_answering_machine_hears_no_incident_details(twilio, call, answered_by) -> None:
    root = twiml(twilio.voice(call, AnsweredBy=answered_by))

    assert [child.tag for child in root] == ["Say", "Hangup"]
    assert "Ransomware" not in root.find("Say").text
    assert fresh(call).answered_by == answered_by
    assert fresh(call).outcome == CallOutcome.DIALING  # the status callback ends it


# Keys pressed.


def test_pressing_1_acknowledges_and_says_it_authorizes_nothing(twilio, call, incident) -> None:
    root = twiml(twilio.press(call, "1"))

    assert [child.tag for child in root] == ["Say", "Hangup"]
    assert root.find("Say").text.startswith(
        "Acknowledged. This is not an authorization of any action; use the emailed link or the portal."
    )
    ack = Acknowledgment.objects.get(incident=incident)
    assert (ack.channel, ack.contact_id, ack.call_id) == ("phone", call.contact_id, call.pk)
    assert fresh(call).outcome == CallOutcome.ACKNOWLEDGED
    event = incident.events.get(kind=EventKind.ACKNOWLEDGED)
    assert event.channel == "phone"
    assert "not an authorization" in event.summary
    assert not incident.actions.filter(status=ActionStatus.QUEUED).exists()


def test_the_completed_status_after_the_key_changes_nothing(twilio, call) -> None:
    twilio.press(call, "1")
    before = snapshot(call)[:2] + snapshot(call)[4:]
    assert twilio.status(call, "completed", AnsweredBy="human").status_code == 204
    after = snapshot(call)[:2] + snapshot(call)[4:]
    assert after == before
    assert call_events(call) == ["dialing", "acknowledged"]


def test_another_key_does_not_acknowledge_and_listens_once_more(twilio, call, incident) -> None:
    root = twiml(twilio.press(call, "2"))

    assert [child.tag for child in root] == ["Gather", "Say", "Hangup"]
    gather = root.find("Gather")
    assert gather.attrib["numDigits"] == "1"
    assert gather.attrib["action"] == f"https://portal.example.com/twilio/gather/{call.pk}/?again=1"
    assert gather.find("Say").text == "Only the key 1 acknowledges. Press 1 to acknowledge."
    assert not Acknowledgment.objects.filter(incident=incident).exists()
    assert fresh(call).outcome == CallOutcome.DIALING

    # A wrong key the second time: goodbye, no third chance.
    root = twiml(twilio.press(call, "9", query="?again=1"))
    assert [child.tag for child in root] == ["Say", "Hangup"]
    assert root.find("Say").text == "Only the key 1 acknowledges. Goodbye."

    # 1 on the second chance still acknowledges.
    twiml(twilio.press(call, "1", query="?again=1"))
    assert fresh(call).outcome == CallOutcome.ACKNOWLEDGED


def test_1_pressed_after_the_call_was_counted_as_ended_still_acknowledges(twilio, call, incident) -> None:
    # Out of order: the status callback came before the gather's. Pressing 1 is a fact all the same.
    twilio.status(call, "completed", AnsweredBy="human")
    twilio.press(call, "1")
    assert Acknowledgment.objects.get(incident=incident).channel == "phone"
    assert fresh(call).outcome == CallOutcome.NO_KEY
    twilio.press(call, "1")
    assert Acknowledgment.objects.filter(incident=incident).count() == 1


# Statuses.


def test_completed_without_a_key_is_an_attempt_without_acknowledgment(twilio, call, incident) -> None:
    for status in ("initiated", "ringing", "in-progress"):
        assert twilio.status(call, status).status_code == 204
        assert fresh(call).outcome == CallOutcome.DIALING
    twilio.status(call, "completed", AnsweredBy="human")

    row = fresh(call)
    assert (row.outcome, row.provider_status, row.answered_by) == (CallOutcome.NO_KEY, "completed", "human")
    assert row.ended_at is not None
    assert not Acknowledgment.objects.filter(incident=incident).exists()
    assert call_events(call) == ["dialing", "no_key"]


@pytest.mark.parametrize("answered_by", ["machine_start", "machine_end_beep", "machine_end_silence", "fax"])
def test_an_answering_machine_is_voicemail(twilio, call, answered_by) -> None:
    twilio.status(call, "completed", AnsweredBy=answered_by)
    assert fresh(call).outcome == CallOutcome.VOICEMAIL


def test_answered_by_from_the_voice_request_counts_when_the_status_omits_it(twilio, call) -> None:
    twilio.voice(call, AnsweredBy="machine_end_beep")
    twilio.status(call, "completed")
    assert fresh(call).outcome == CallOutcome.VOICEMAIL


@pytest.mark.parametrize(
    ("status", "outcome"),
    [
        ("busy", CallOutcome.BUSY),
        ("no-answer", CallOutcome.NO_ANSWER),
        ("failed", CallOutcome.FAILED),
        ("canceled", CallOutcome.CANCELED),
    ],
)
def test_final_statuses_map_to_outcomes_without_acknowledgment(
    twilio, call, incident, status, outcome
) -> None:
    twilio.status(call, status)
    row = fresh(call)
    assert row.outcome == outcome
    assert row.ended_at is not None
    assert not Acknowledgment.objects.filter(incident=incident).exists()
    assert call_events(call) == ["dialing", outcome]


def test_a_ringing_status_after_completed_changes_no_outcome(twilio, call) -> None:
    twilio.status(call, "completed", AnsweredBy="human")
    before = fresh(call)
    events = TimelineEvent.objects.count()
    twilio.status(call, "ringing")
    twilio.status(call, "in-progress")
    after = fresh(call)
    assert (after.outcome, after.ended_at) == (before.outcome, before.ended_at)
    assert TimelineEvent.objects.count() == events
    assert call_events(call) == ["dialing", "no_key"]


def test_completed_twice_records_one_event(twilio, call) -> None:
    twilio.status(call, "completed", AnsweredBy="human")
    twilio.status(call, "completed", AnsweredBy="human")
    assert call_events(call) == ["dialing", "no_key"]


def test_busy_after_no_key_keeps_the_first_ending(twilio, call) -> None:
    twilio.status(call, "no-answer")
    twilio.status(call, "busy")
    assert fresh(call).outcome == CallOutcome.NO_ANSWER
    assert call_events(call) == ["dialing", "no_answer"]


# Who may call the webhooks.


@pytest.mark.parametrize("hook", ["voice", "gather", "status"])
def test_an_unsigned_request_is_refused_and_changes_nothing(twilio, call, hook) -> None:
    before = snapshot(call)
    params = twilio.params(call, CallStatus="completed", Digits="1", AnsweredBy="human")
    response = twilio.post(f"/twilio/{hook}/{call.pk}/", params, signature="")
    assert response.status_code == 403
    assert snapshot(call) == before


@pytest.mark.parametrize("hook", ["voice", "gather", "status"])
def test_a_forged_signature_is_refused_and_changes_nothing(twilio, call, hook) -> None:
    before = snapshot(call)
    params = twilio.params(call, CallStatus="completed", Digits="1", AnsweredBy="human")
    forged = twilio_signature(f"{PUBLIC_BASE_URL}/twilio/{hook}/{call.pk}/", params, token="x" * 32)
    response = twilio.post(f"/twilio/{hook}/{call.pk}/", params, signature=forged)
    assert response.status_code == 403
    assert snapshot(call) == before


def test_a_signature_for_other_params_is_refused(twilio, call) -> None:
    before = snapshot(call)
    path = f"/twilio/gather/{call.pk}/"
    signed_for = twilio.params(call, Digits="2")
    signature = twilio_signature(PUBLIC_BASE_URL + path, signed_for)
    response = twilio.post(path, twilio.params(call, Digits="1"), signature=signature)
    assert response.status_code == 403
    assert snapshot(call) == before


def test_a_signature_for_another_call_is_refused(twilio, call, incident) -> None:
    other = call_dialing(incident_open(tenant=incident.tenant, title="Another", by=None))
    params = twilio.params(call, Digits="1")
    signature = twilio_signature(f"{PUBLIC_BASE_URL}/twilio/gather/{other.pk}/", params)
    before = snapshot(call)
    response = twilio.post(f"/twilio/gather/{call.pk}/", params, signature=signature)
    assert response.status_code == 403
    assert snapshot(call) == before


@pytest.mark.parametrize(
    "host", ["http://testserver", "https://attacker.example", "http://portal.example.com"]
)
def test_a_signature_computed_for_another_host_is_refused(client, call, host) -> None:
    before = snapshot(call)
    response = TwilioWebhooks(client, signed_base=host).press(call, "1")
    assert response.status_code == 403
    assert snapshot(call) == before


def test_the_public_address_is_used_even_with_a_forwarded_host(client, call) -> None:
    twilio = TwilioWebhooks(client, signed_base="https://evil.example")
    params = twilio.params(call, Digits="1")
    path = f"/twilio/gather/{call.pk}/"
    signature = twilio_signature("https://evil.example" + path, params)
    response = client.post(
        path, params, headers={"X-Twilio-Signature": signature, "X-Forwarded-Host": "evil.example"}
    )
    assert response.status_code == 403


def test_a_callsid_that_is_not_the_calls_is_refused(twilio, call) -> None:
    before = snapshot(call)
    params = twilio.params(call, CallStatus="completed", AnsweredBy="human")
    params["CallSid"] = new_call_sid()
    response = twilio.post(f"/twilio/status/{call.pk}/", params)
    assert response.status_code == 403
    assert snapshot(call) == before


def test_a_callback_before_the_sid_is_stored_is_accepted(twilio, incident) -> None:
    call = call_dialing(incident, sid="")
    assert fresh(call).provider_sid == ""
    params = twilio.params(call, CallStatus="busy")
    params["CallSid"] = new_call_sid()
    assert twilio.post(f"/twilio/status/{call.pk}/", params).status_code == 204
    assert fresh(call).outcome == CallOutcome.BUSY


@pytest.mark.parametrize("hook", ["voice", "gather", "status"])
def test_webhooks_answer_only_post(client, call, hook) -> None:
    assert client.get(f"/twilio/{hook}/{call.pk}/").status_code == 405


@pytest.mark.parametrize("hook", ["voice", "gather", "status"])
def test_webhooks_are_not_found_when_twilio_is_not_configured(twilio, call, settings, hook) -> None:
    params = twilio.params(call, CallStatus="busy", Digits="1")
    settings.TWILIO_AUTH_TOKEN = ""
    before = snapshot(call)
    assert twilio.post(f"/twilio/{hook}/{call.pk}/", params).status_code == 404
    assert snapshot(call) == before


def test_a_signed_request_for_an_unknown_call_is_not_found(twilio, call) -> None:
    params = twilio.params(call, CallStatus="busy")
    assert twilio.post("/twilio/status/999999/", params).status_code == 404


def test_the_status_webhook_does_a_bounded_number_of_queries(
    twilio, call, django_assert_max_num_queries
) -> None:
    with django_assert_max_num_queries(12):
        assert twilio.status(call, "ringing").status_code == 204
