"""The Twilio SMS backend against a fake Messages API on 127.0.0.1: what it sends, how it fails, and the one
deadline that bounds a whole request; and the start-up checks of the messaging settings."""

from __future__ import annotations

import socket
import time
from typing import Any

import pytest

from escalation.checks import check_sms_settings
from escalation.sms.base import SmsError, TextRequest
from escalation.sms.registry import sms_backend
from escalation.sms.simulated import SimulatedSms
from escalation.sms.twilio import TwilioSms
from tests.fakes.http_server import FakeHTTPServer, Reply, hanging_up_url
from tests.fakes.twilio import ACCOUNT_SID, AUTH_TOKEN, FROM_NUMBER, FakeTwilioAPI, messages_path

SERVICE_SID = "MG" + "0123456789abcdef" * 2
REQUEST = TextRequest(text_id=7, to="+12025550100", body="MDR Ops security alert: reply 1 or ACK")


@pytest.fixture
def configured(settings, twilio: FakeTwilioAPI) -> Any:
    settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN = ACCOUNT_SID, AUTH_TOKEN
    settings.TWILIO_MESSAGING_FROM, settings.TWILIO_MESSAGING_SERVICE_SID = FROM_NUMBER, None
    settings.TWILIO_API_BASE_URL = twilio.base_url
    settings.SMS_TIMEOUT_SECONDS = 2
    twilio.recover()
    return settings


def test_without_twilio_credentials_texts_are_simulated(settings) -> None:
    settings.TWILIO_ACCOUNT_SID = None
    assert isinstance(sms_backend(), SimulatedSms)


def test_a_text_goes_through_the_messages_api_from_the_configured_number(configured, twilio) -> None:
    assert isinstance(sms_backend(), TwilioSms)

    sent = sms_backend().send(REQUEST)

    message = twilio.messages[-1]
    assert sent.sid == message.sid and sent.sid.startswith("SM")
    assert (message.one("To"), message.one("From"), message.one("Body")) == (
        REQUEST.to,
        FROM_NUMBER,
        REQUEST.body,
    )
    assert "MessagingServiceSid" not in message.form


def test_a_messaging_service_sends_instead_of_a_number(configured, twilio) -> None:
    configured.TWILIO_MESSAGING_FROM, configured.TWILIO_MESSAGING_SERVICE_SID = None, SERVICE_SID

    TwilioSms().send(REQUEST)

    message = twilio.messages[-1]
    assert message.one("MessagingServiceSid") == SERVICE_SID and "From" not in message.form


def test_a_refused_text_says_so_without_the_auth_token(configured, twilio) -> None:
    twilio.fail_messages_with(400, 21211, f"Invalid 'To' Phone Number (token {AUTH_TOKEN})")

    with pytest.raises(SmsError) as refused:
        TwilioSms().send(REQUEST)

    assert "Twilio refused the text: HTTP 400" in str(refused.value)
    assert "may have been sent" not in str(refused.value)
    assert "21211" in str(refused.value) and AUTH_TOKEN not in str(refused.value)


def test_throttling_is_a_refusal(configured, twilio) -> None:
    twilio.fail_messages_with(429, 20429, "Too Many Requests")

    with pytest.raises(SmsError) as throttled:
        TwilioSms().send(REQUEST)

    assert "HTTP 429" in str(throttled.value) and "may have been sent" not in str(throttled.value)


def test_an_api_that_cannot_be_reached_sent_nothing(configured) -> None:
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    configured.TWILIO_API_BASE_URL = f"http://127.0.0.1:{port}"

    with pytest.raises(SmsError) as unreachable:
        TwilioSms().send(REQUEST)

    assert "could not be reached" in str(unreachable.value)
    assert "may have been sent" not in str(unreachable.value)


@pytest.mark.parametrize("at_once", [True, False], ids=["hung up", "silent until the deadline"])
def test_a_tls_handshake_that_fails_sent_nothing_and_says_so(configured, at_once) -> None:
    configured.SMS_TIMEOUT_SECONDS = 1
    with hanging_up_url(at_once=at_once) as url:
        configured.TWILIO_API_BASE_URL = url

        with pytest.raises(SmsError) as failed:
            TwilioSms().send(REQUEST)

    assert "may have been sent" not in str(failed.value)
    assert str(failed.value).startswith("Twilio could not be reached: ")


def test_one_deadline_bounds_the_whole_request_even_when_every_read_is_quick(configured) -> None:
    """An answer dripped a byte at a time never trips a per-read timeout; the request deadline cuts it."""
    with FakeHTTPServer(hang_seconds=30) as server:
        server.script(
            messages_path(), Reply(201, {"sid": "SM" + "0" * 32, "status": "queued"}, drip_seconds=0.1)
        )
        configured.TWILIO_API_BASE_URL = server.url
        configured.SMS_TIMEOUT_SECONDS = 1
        started = time.monotonic()

        with pytest.raises(SmsError) as cut:
            TwilioSms().send(REQUEST)

        elapsed = time.monotonic() - started
    # The answer takes more than ten seconds to drip; the deadline ends the request after about one.
    assert elapsed < 5, elapsed
    assert "may have been sent" in str(cut.value)
    assert "No complete answer from Twilio within 1 s" in str(cut.value)


@pytest.mark.parametrize(
    ("overrides", "ids"),
    [
        ({}, []),
        ({"TWILIO_MESSAGING_SERVICE_SID": SERVICE_SID}, ["escalation.E001"]),
        ({"TWILIO_ACCOUNT_SID": None}, ["escalation.E002"]),
        ({"TWILIO_MESSAGING_FROM": "12025550100"}, ["escalation.E003"]),
        ({"TWILIO_MESSAGING_FROM": None, "TWILIO_MESSAGING_SERVICE_SID": "PN123"}, ["escalation.E004"]),
    ],
)
def test_the_start_up_checks_refuse_a_half_configured_sender(configured, overrides, ids) -> None:
    for name, value in overrides.items():
        setattr(configured, name, value)

    assert [error.id for error in check_sms_settings()] == ids
