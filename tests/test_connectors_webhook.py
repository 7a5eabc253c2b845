"""Webhook connector against a local receiver that checks the signature: body, headers, error mapping."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time

import pytest
from pytest_django.fixtures import Settings

from incidents.connectors.base import ActionRequest, ConnectorOutcome, ConnectorSpec
from incidents.connectors.webhook import WebhookConnector, sign
from tests.fakes.http_server import (
    HANG,
    FakeHTTPServer,
    Reply,
    closed_port_url,
    fake_http_server as fake_http_server,  # a fixture
)
from tests.fakes.webhook_receiver import PATH, WebhookReceiver

SECRET = "whsec-shared-with-the-msp-never-logged"


@pytest.fixture
def receiver(fake_http_server: FakeHTTPServer) -> WebhookReceiver:
    return WebhookReceiver(fake_http_server, secret=SECRET)


def webhook(url: str, *, secret: str = SECRET) -> WebhookConnector:
    return WebhookConnector(ConnectorSpec(kind="webhook", url=url, secret=secret))


def make_request(*, attempt: int = 1) -> ActionRequest:
    return ActionRequest(
        action_id=41,
        attempt=attempt,
        incident_id=7,
        incident_title="Ransomware on FIN-LAPTOP-7",
        tenant_slug="acme",
        action_code="disable_user",
        category="containment",
        target="ACME\\j.doe",
    )


def test_a_signed_delivery_is_accepted_by_the_receiver(receiver: WebhookReceiver) -> None:
    result = webhook(receiver.url).run(make_request())

    assert result.outcome == ConnectorOutcome.SUCCEEDED
    assert result.details == {"status": 202, "response": {"accepted": True, "duplicate": False}}
    assert receiver.accepted == [
        {
            "action_id": 41,
            "action_type": "disable_user",
            "attempt": 1,
            "category": "containment",
            "idempotency_key": "mdr-action-41",
            "incident": {"id": 7, "title": "Ransomware on FIN-LAPTOP-7"},
            "target": "ACME\\j.doe",
            "tenant": "acme",
        }
    ]
    [call] = receiver.server.received_at(PATH)
    assert call.method == "POST"
    assert call.body == json.dumps(receiver.accepted[0], separators=(",", ":"), sort_keys=True).encode()
    assert call.headers["Content-Type"] == "application/json"
    assert call.headers["Idempotency-Key"] == "mdr-action-41"
    assert abs(int(call.headers["X-MDR-Timestamp"]) - time.time()) < 5


def test_sign_is_hmac_sha256_of_timestamp_dot_body() -> None:
    expected = hmac.new(b"k", b"1700000000.{}", hashlib.sha256).hexdigest()
    assert sign("k", "1700000000", b"{}") == f"sha256={expected}"


def test_every_attempt_carries_the_same_idempotency_key(receiver: WebhookReceiver) -> None:
    first = webhook(receiver.url).run(make_request(attempt=1))
    second = webhook(receiver.url).run(make_request(attempt=2))

    assert {c.headers["Idempotency-Key"] for c in receiver.server.received_at(PATH)} == {"mdr-action-41"}
    assert (first.outcome, second.outcome) == (ConnectorOutcome.SUCCEEDED, ConnectorOutcome.SUCCEEDED)
    assert second.details["response"]["duplicate"] is True
    assert len(receiver.accepted) == 1


def test_a_wrong_secret_is_refused_permanently(receiver: WebhookReceiver) -> None:
    result = webhook(receiver.url, secret="not-the-shared-one").run(make_request())
    assert (result.outcome, result.details["status"]) == (ConnectorOutcome.PERMANENT, 401)
    assert "invalid signature" in result.message
    assert receiver.accepted == []


@pytest.mark.parametrize(
    ("reply", "outcome"),
    [
        (Reply(200, {"ok": True}), ConnectorOutcome.SUCCEEDED),
        (Reply(204), ConnectorOutcome.SUCCEEDED),
        (Reply(500, {"error": "boom"}), ConnectorOutcome.TRANSIENT),
        (Reply(503, "upstream down"), ConnectorOutcome.TRANSIENT),
        (Reply(429, {"error": "slow down"}, headers={"Retry-After": "12"}), ConnectorOutcome.TRANSIENT),
        (Reply(400, {"error": "unknown target"}), ConnectorOutcome.PERMANENT),
        (Reply(404, {"detail": "no such hook"}), ConnectorOutcome.PERMANENT),
        (Reply(302, headers={"Location": "http://127.0.0.1:9/elsewhere"}), ConnectorOutcome.PERMANENT),
    ],
)
def test_answers_map_to_outcomes(
    fake_http_server: FakeHTTPServer, reply: Reply, outcome: ConnectorOutcome
) -> None:
    fake_http_server.script("/hook", reply)
    result = webhook(fake_http_server.url + "/hook").run(make_request())
    assert result.outcome == outcome
    assert result.details["status"] == reply.status
    assert len(fake_http_server.received) == 1  # a redirect is not followed


def test_a_refusal_quotes_the_receiver_and_a_rate_limit_says_when_to_retry(
    fake_http_server: FakeHTTPServer,
) -> None:
    fake_http_server.script("/refuse", Reply(422, {"error": "target ACME\\j.doe is not a known account"}))
    fake_http_server.script("/busy", Reply(429, {}, headers={"Retry-After": "12"}))
    refused = webhook(fake_http_server.url + "/refuse").run(make_request())
    busy = webhook(fake_http_server.url + "/busy").run(make_request())
    assert "not a known account" in refused.message
    assert busy.details["retry_after"] == "12" and "retry after 12" in busy.message


def test_a_text_answer_is_kept_truncated(fake_http_server: FakeHTTPServer) -> None:
    fake_http_server.script("/hook", Reply(200, "done " * 1000))
    result = webhook(fake_http_server.url + "/hook").run(make_request())
    assert result.outcome == ConnectorOutcome.SUCCEEDED
    assert isinstance(result.details["response"], str) and len(result.details["response"]) <= 500


def test_a_hanging_receiver_is_a_transient_timeout(
    fake_http_server: FakeHTTPServer, settings: Settings
) -> None:
    settings.CONNECTOR_TIMEOUT_SECONDS = 1
    fake_http_server.script("/hook", HANG)

    started = time.monotonic()
    result = webhook(fake_http_server.url + "/hook").run(make_request())

    assert (result.outcome, result.details["error"]) == (ConnectorOutcome.TRANSIENT, "timeout")
    assert time.monotonic() - started < 3


def test_a_closed_port_is_transient() -> None:
    result = webhook(closed_port_url() + "/hook").run(make_request())
    assert (result.outcome, result.details["error"]) == (ConnectorOutcome.TRANSIENT, "connection")


@pytest.mark.parametrize(("url", "secret"), [("", SECRET), ("URL", ""), ("", "")])
def test_no_url_or_no_secret_is_permanent_without_any_call(
    fake_http_server: FakeHTTPServer, url: str, secret: str
) -> None:
    url = url.replace("URL", fake_http_server.url + "/hook")
    result = webhook(url, secret=secret).run(make_request())
    assert result.outcome == ConnectorOutcome.PERMANENT
    assert fake_http_server.received == []


def test_an_unusable_url_is_permanent() -> None:
    assert webhook("not a url").run(make_request()).outcome == ConnectorOutcome.PERMANENT


def test_the_secret_never_shows(fake_http_server: FakeHTTPServer, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    receiver = WebhookReceiver(fake_http_server, secret=SECRET)
    # A receiver that quotes its configuration back must not carry the secret into the record.
    fake_http_server.script("/echo", Reply(400, {"error": f"expected a signature made with {SECRET}"}))
    results = [
        webhook(receiver.url).run(make_request()),
        webhook(fake_http_server.url + "/echo").run(make_request()),
        webhook(closed_port_url()).run(make_request()),
    ]
    shown = [str(r) + repr(r) + json.dumps(r.details) for r in results] + [caplog.text]
    assert [r.outcome for r in results] == [
        ConnectorOutcome.SUCCEEDED,
        ConnectorOutcome.PERMANENT,
        ConnectorOutcome.TRANSIENT,
    ]
    assert not [text for text in shown if SECRET in text]
