"""TwilioPhone against a fake Twilio REST API on a local port: what it sends, and how refusals map."""

from __future__ import annotations

import base64
import logging
import time

import pytest
from django.utils import timezone
from pytest_django.fixtures import Settings

from escalation.calls.dispatch import calls_dispatch
from escalation.models import Acknowledgment, CallAttempt, CallOutcome
from escalation.phone import twilio as twilio_backend
from escalation.phone.base import CallRef, CallRequest, CallStatus, PhoneError
from escalation.phone.registry import phone_backend
from escalation.phone.simulated import SimulatedPhone
from escalation.phone.twilio import TwilioPhone
from escalation.runs.services import notification_start, run_advance
from tests.factories import make_incident, make_tenant
from tests.fakes.http_server import (
    HANG,
    FakeHTTPServer,
    Received,
    Reply,
    closed_port_url,
    fake_http_server as fake_http_server,  # a fixture
    hanging_up_url,
)
from tests.fakes.twilio import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    FROM_NUMBER,
    PUBLIC_BASE_URL,
    FakeTwilioAPI,
    TwilioWebhooks,
    use_twilio_account,
)

CALLS_PATH = f"/2010-04-01/Accounts/{ACCOUNT_SID}/Calls.json"
REQUEST = CallRequest(attempt_id=42, to="+12025550100", ring_timeout_seconds=25)


def configure(settings: Settings, base_url: str) -> None:
    use_twilio_account(settings, base_url)


@pytest.fixture
def fake_twilio(fake_http_server: FakeHTTPServer, settings: Settings) -> FakeTwilioAPI:
    fake = FakeTwilioAPI(fake_http_server)
    configure(settings, fake.base_url)
    return fake


def test_place_call_asks_twilio_for_the_call_its_webhooks_and_machine_detection(fake_twilio) -> None:
    placed = TwilioPhone().place_call(REQUEST)

    (call,) = fake_twilio.calls
    assert placed.sid == call.sid
    assert placed.sid.startswith("CA") and len(placed.sid) == 34
    assert call.one("To") == "+12025550100"
    assert call.one("From") == FROM_NUMBER
    assert call.one("Url") == "https://portal.example.com/twilio/voice/42/"
    assert call.one("Method") == "POST"
    assert call.one("StatusCallback") == "https://portal.example.com/twilio/status/42/"
    assert call.form["StatusCallbackEvent"] == ["initiated", "ringing", "answered", "completed"]
    assert call.one("StatusCallbackMethod") == "POST"
    assert call.one("Timeout") == "25"
    assert call.one("MachineDetection") == "Enable"


def test_place_call_authenticates_with_basic_auth_on_the_account_path(fake_twilio) -> None:
    TwilioPhone().place_call(REQUEST)

    (received,) = fake_twilio.requests
    assert (received.method, received.path) == ("POST", CALLS_PATH)
    expected = base64.b64encode(f"{ACCOUNT_SID}:{AUTH_TOKEN}".encode()).decode()
    assert received.headers["Authorization"] == f"Basic {expected}"
    assert received.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert received.headers["User-Agent"].startswith("twilio-python/")


def test_a_call_writes_no_log_line_of_the_sdk_on_its_way(fake_twilio, caplog) -> None:
    with caplog.at_level(logging.INFO):
        TwilioPhone().place_call(REQUEST)

    assert fake_twilio.calls
    assert [r.getMessage() for r in caplog.records if r.name.startswith("twilio")] == []


def test_the_api_base_url_may_carry_a_path_prefix(fake_http_server, settings) -> None:
    fake = FakeTwilioAPI(fake_http_server)
    configure(settings, fake.base_url + "/proxy/")
    fake_http_server.fallback = lambda received: fake.answer(
        Received(
            received.method,
            received.path.removeprefix("/proxy"),
            received.query,
            received.headers,
            received.body,
        )
    )
    TwilioPhone().place_call(REQUEST)
    assert [r.path for r in fake_http_server.received] == [f"/proxy{CALLS_PATH}"]


@pytest.mark.parametrize(("status", "code"), [(500, 20500), (503, 20503), (429, 20429)])
def test_twilio_trouble_and_throttling_are_refusals_with_their_status(fake_twilio, status, code) -> None:
    fake_twilio.fail_with(status, code, "Service unavailable")
    with pytest.raises(PhoneError) as caught:
        TwilioPhone().place_call(REQUEST)
    assert f"HTTP {status}" in str(caught.value)


@pytest.mark.parametrize(
    ("status", "code", "message"),
    [
        (400, 21211, "Invalid 'To' Phone Number: +120255501XX"),
        (400, 21215, "Geo Permission configuration is not permitting call"),
        (404, 20404, "The requested resource was not found"),
    ],
)
def test_a_refused_call_says_twilios_code_and_message(fake_twilio, status, code, message) -> None:
    fake_twilio.fail_with(status, code, message)
    with pytest.raises(PhoneError) as caught:
        TwilioPhone().place_call(REQUEST)
    assert str(code) in str(caught.value)
    assert message in str(caught.value)


def test_wrong_credentials_are_a_refusal_and_the_token_is_never_in_the_message(fake_twilio, settings) -> None:
    settings.TWILIO_AUTH_TOKEN = "0" * 32
    with pytest.raises(PhoneError) as caught:
        TwilioPhone().place_call(REQUEST)
    assert "401" in str(caught.value)
    assert "0" * 32 not in str(caught.value)


def test_an_error_echoing_the_token_is_scrubbed(fake_twilio) -> None:
    fake_twilio.fail_with(400, 21211, f"Invalid request for {ACCOUNT_SID}:{AUTH_TOKEN}")
    with pytest.raises(PhoneError) as caught:
        TwilioPhone().place_call(REQUEST)
    assert AUTH_TOKEN not in str(caught.value)
    assert "[auth token]" in str(caught.value)


def test_an_unreachable_twilio_is_said_to_be_unreachable(settings) -> None:
    configure(settings, closed_port_url())
    with pytest.raises(PhoneError) as caught:
        TwilioPhone().place_call(REQUEST)
    assert str(caught.value) == "Twilio could not be reached: ConnectionRefusedError"
    assert AUTH_TOKEN not in str(caught.value)


@pytest.mark.parametrize("at_once", [True, False], ids=["hung up", "silent until the deadline"])
def test_a_tls_handshake_that_fails_placed_no_call(settings, monkeypatch, at_once) -> None:
    monkeypatch.setattr(twilio_backend, "HTTP_TIMEOUT_SECONDS", 0.5)
    with hanging_up_url(at_once=at_once) as url:
        configure(settings, url)
        with pytest.raises(PhoneError) as caught:
            TwilioPhone().place_call(REQUEST)
    assert "could not be reached" in str(caught.value) and "may have been placed" not in str(caught.value)


def test_a_twilio_that_never_answers_times_out(fake_twilio, fake_http_server, monkeypatch) -> None:
    monkeypatch.setattr(twilio_backend, "HTTP_TIMEOUT_SECONDS", 0.3)
    fake_http_server.script(CALLS_PATH, HANG)
    with pytest.raises(PhoneError) as caught:
        TwilioPhone().place_call(REQUEST)
    # The call may have been placed: trying again could ring the same person twice for one step.
    assert str(caught.value) == "No complete answer from Twilio within 0.3 s: the call may have been placed."


def test_one_deadline_bounds_the_whole_call_request_even_when_every_read_is_quick(
    fake_twilio, settings, monkeypatch
) -> None:
    """A Twilio (or a proxy) dripping its answer a byte at a time never trips a timeout of each read: it would
    hold the dialing worker, and every call behind it, for as long as it drips."""
    monkeypatch.setattr(twilio_backend, "HTTP_TIMEOUT_SECONDS", 1.0)
    with FakeHTTPServer(hang_seconds=30) as server:
        server.script(CALLS_PATH, Reply(201, {"sid": "CA" + "0" * 32, "status": "queued"}, drip_seconds=0.1))
        configure(settings, server.url)
        started = time.monotonic()

        with pytest.raises(PhoneError) as cut:
            TwilioPhone().place_call(REQUEST)

        elapsed = time.monotonic() - started
    # The answer takes more than twenty seconds to drip; the deadline ends the request after about one.
    assert elapsed < 5, elapsed
    assert "within 1 s: the call may have been placed" in str(cut.value)


def test_a_connection_closed_after_the_request_may_have_placed_the_call(fake_twilio, settings) -> None:
    """The request reached Twilio and the connection closed without an answer: not 'unreachable'."""
    with FakeHTTPServer(hang_seconds=0.1) as server:
        server.script(CALLS_PATH, HANG)
        configure(settings, server.url)

        with pytest.raises(PhoneError) as closed:
            TwilioPhone().place_call(REQUEST)

        assert len(server.received_at(CALLS_PATH)) == 1
    assert "the call may have been placed" in str(closed.value)
    assert "could not be reached" not in str(closed.value)


def test_an_unreadable_answer_is_not_taken_for_a_placed_call(fake_twilio, fake_http_server) -> None:
    fake_http_server.script(CALLS_PATH, Reply(201, "<html>proxy error</html>"))
    with pytest.raises(PhoneError) as caught:
        TwilioPhone().place_call(REQUEST)
    assert "the call may have been placed" in str(caught.value)


def test_a_placed_call_is_asked_about_with_a_get_and_hung_up_with_a_post(fake_twilio) -> None:
    phone = TwilioPhone()
    placed = phone.place_call(REQUEST)
    ref = CallRef(attempt_id=42, sid=placed.sid, placed_at=timezone.now(), ring_timeout_seconds=25)
    fake_twilio.status[placed.sid] = "ringing"

    assert phone.fetch_status(ref) == CallStatus("ringing")
    assert phone.hang_up(ref) == CallStatus("canceled")

    assert fake_twilio.fetched == [placed.sid] and fake_twilio.hung_up == [placed.sid]
    asked = fake_twilio.server.received_at(f"/2010-04-01/Accounts/{ACCOUNT_SID}/Calls/{placed.sid}.json")
    assert [(r.method, r.body) for r in asked] == [("GET", b""), ("POST", b"Status=completed")]


def test_asking_an_unreachable_twilio_about_a_call_is_no_answer(settings) -> None:
    configure(settings, closed_port_url())
    ref = CallRef(attempt_id=42, sid="CA" + "0" * 32, placed_at=timezone.now(), ring_timeout_seconds=25)

    with pytest.raises(PhoneError) as caught:
        TwilioPhone().fetch_status(ref)

    assert "No answer from Twilio about the call" in str(caught.value)


def test_the_registry_picks_twilio_only_when_it_is_configured(settings) -> None:
    configure(settings, "https://api.twilio.com")
    assert isinstance(phone_backend(), TwilioPhone)
    assert phone_backend().name == "twilio"
    settings.TWILIO_AUTH_TOKEN = ""
    assert isinstance(phone_backend(), SimulatedPhone)


@pytest.mark.django_db
@pytest.mark.usefixtures("unpaced_calls")
def test_the_dispatcher_places_the_call_over_twilio_and_its_callbacks_are_matched(
    fake_twilio, settings, client
) -> None:
    incident = make_incident(make_tenant(phones=2))
    run = notification_start(incident=incident, by=None)
    run_advance(run.pk)

    assert calls_dispatch(max_seconds=5) == 1

    call = CallAttempt.objects.get(run=run)
    (placed,) = fake_twilio.calls
    assert (call.backend, call.provider_sid, call.outcome) == ("twilio", placed.sid, CallOutcome.DIALING)
    assert placed.one("Url") == f"{PUBLIC_BASE_URL}/twilio/voice/{call.pk}/"
    assert placed.one("To") == call.to
    # Twilio's part: fetch the TwiML at the address it was given, then press 1.
    twilio = TwilioWebhooks(client)
    assert twilio.voice(call).status_code == 200
    assert twilio.press(call, "1").status_code == 200
    assert Acknowledgment.objects.get(incident=incident).call_id == call.pk


@pytest.mark.django_db
@pytest.mark.usefixtures("unpaced_calls")
def test_a_call_twilio_refuses_is_a_failed_attempt_and_the_tree_moves_on(fake_twilio, settings) -> None:
    fake_twilio.fail_with(400, 21211, "Invalid 'To' Phone Number")
    run = notification_start(incident=make_incident(make_tenant(phones=2)), by=None)
    run_advance(run.pk)

    calls_dispatch(max_seconds=5)

    call = CallAttempt.objects.get(run=run)
    assert (call.outcome, call.provider_sid) == (CallOutcome.FAILED, "")
    event = run.incident.events.filter(data__call=call.pk, data__outcome="failed").get()
    assert "21211" in event.summary
    assert AUTH_TOKEN not in event.summary
    run_advance(run.pk)
    assert list(run.calls.order_by("sequence").values_list("contact__call_order", "outcome")) == [
        (1, CallOutcome.FAILED),
        (2, CallOutcome.QUEUED),
    ]
