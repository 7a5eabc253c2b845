"""Sophos Central connector against a fake Sophos Central on a local port: requests, tokens, error mapping."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator

import pytest
from pytest_django.fixtures import Settings

from incidents.connectors.base import ActionRequest, ConnectorOutcome, ConnectorSpec, Result
from incidents.connectors.sophos import SophosCentralConnector, clear_token_cache
from tests.catalog import CATALOG
from tests.factories import make_action_request
from tests.fakes.http_server import (
    HANG,
    FakeHTTPServer,
    Reply,
    closed_port_url,
    fake_http_server as fake_http_server,  # a fixture
)
from tests.fakes.sophos import TOKEN_PATH, FakeSophosCentral

CLIENT_ID = "mdr-partner-client"
SECRET = "s3cr3t-client-value-never-logged"
TENANT = "5f1c2e7a-1111-4a2b-9c3d-000000000001"
ENDPOINT = "0b7cbd8e-3c1f-4d2a-9a53-4a1e2f7c9d10"
SHA = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
ISOLATION = "/endpoint/v1/endpoints/isolation"
BLOCKED = "/endpoint/v1/settings/blocked-items"
SCANS = f"/endpoint/v1/endpoints/{ENDPOINT}/scans"
# What Sophos Central's API does; every other action of the catalog is refused without a call.
SUPPORTED = {"isolate_endpoint", "release_endpoint", "block_sha256", "clean_malware"}
UNSUPPORTED = [code for code in CATALOG if code not in SUPPORTED]


@pytest.fixture(autouse=True)
def fresh_token_cache() -> Iterator[None]:
    clear_token_cache()
    yield
    clear_token_cache()


@pytest.fixture
def sophos(fake_http_server: FakeHTTPServer, settings: Settings) -> FakeSophosCentral:
    fake = FakeSophosCentral(
        fake_http_server, client_id=CLIENT_ID, client_secret=SECRET, tenant_id=TENANT, endpoints=[ENDPOINT]
    )
    settings.SOPHOS_TOKEN_URL = fake.token_url
    return fake


def connector(sophos: FakeSophosCentral, **overrides: str) -> SophosCentralConnector:
    fields = {
        "url": sophos.server.url,
        "client_id": CLIENT_ID,
        "external_tenant_id": TENANT,
        "secret": SECRET,
    }
    return SophosCentralConnector(ConnectorSpec(kind="sophos_central", **{**fields, **overrides}))


def make_request(*, code: str = "isolate_endpoint", target: str = ENDPOINT) -> ActionRequest:
    return make_action_request(action_code=code, target=target)


def test_isolation_reaches_the_api_with_bearer_token_and_tenant_header(sophos: FakeSophosCentral) -> None:
    result = connector(sophos).run(make_request())

    assert result.outcome == ConnectorOutcome.SUCCEEDED
    assert result.details["status"] == 201
    assert result.details["response"]["items"][0]["id"] == ENDPOINT
    [call] = sophos.server.received_at(ISOLATION)
    assert call.method == "POST"
    assert call.json() == {
        "enabled": True,
        "ids": [ENDPOINT],
        "comment": "MDR Ops: incident #7 Ransomware on FIN-LAPTOP-7",
    }
    assert call.headers["Authorization"] == f"Bearer {sophos.issued[0]}"
    assert call.headers["X-Tenant-ID"] == TENANT
    assert call.headers["Accept"] == "application/json"
    assert call.headers["Content-Type"] == "application/json"
    [token_call] = sophos.server.received_at(TOKEN_PATH)
    assert token_call.form() == {
        "grant_type": "client_credentials",
        "client_id": CLIENT_ID,
        "client_secret": SECRET,
        "scope": "token",
    }
    assert sophos.isolated == {ENDPOINT: True}


def test_release_sends_isolation_disabled(sophos: FakeSophosCentral) -> None:
    result = connector(sophos).run(make_request(code="release_endpoint"))
    assert result.outcome == ConnectorOutcome.SUCCEEDED
    assert sophos.server.received_at(ISOLATION)[0].json()["enabled"] is False
    assert sophos.isolated == {ENDPOINT: False}


def test_block_sha256_adds_a_blocked_item(sophos: FakeSophosCentral) -> None:
    result = connector(sophos).run(make_request(code="block_sha256", target=SHA.upper()))
    assert result.outcome == ConnectorOutcome.SUCCEEDED
    [call] = sophos.server.received_at(BLOCKED)
    assert call.json() == {
        "type": "sha256",
        "properties": {"sha256": SHA},
        "comment": "MDR Ops: incident #7 Ransomware on FIN-LAPTOP-7",
    }


def test_clean_malware_starts_a_scan_of_the_endpoint(sophos: FakeSophosCentral) -> None:
    result = connector(sophos).run(make_request(code="clean_malware"))
    assert result.outcome == ConnectorOutcome.SUCCEEDED
    assert result.details["status"] == 202
    assert sophos.server.received_at(SCANS)[0].json() == {}
    assert sophos.scanned == [ENDPOINT]


def test_the_token_is_fetched_once_for_two_calls(sophos: FakeSophosCentral) -> None:
    first = connector(sophos).run(make_request())
    second = connector(sophos).run(make_request(code="release_endpoint"))
    assert (first.outcome, second.outcome) == (ConnectorOutcome.SUCCEEDED, ConnectorOutcome.SUCCEEDED)
    assert len(sophos.server.received_at(TOKEN_PATH)) == 1
    assert {c.headers["Authorization"] for c in sophos.server.received_at(ISOLATION)} == {
        f"Bearer {sophos.issued[0]}"
    }


def test_a_token_about_to_expire_is_renewed_before_use(sophos: FakeSophosCentral) -> None:
    sophos.expires_in = 30  # inside the renewal margin: never worth caching
    connector(sophos).run(make_request())
    connector(sophos).run(make_request())
    assert len(sophos.server.received_at(TOKEN_PATH)) == 2


def test_a_different_secret_does_not_reuse_a_cached_token(sophos: FakeSophosCentral) -> None:
    connector(sophos).run(make_request())
    result = connector(sophos, secret="guessed").run(make_request())
    assert result.outcome == ConnectorOutcome.PERMANENT
    assert result.message == "Sophos Central refused the credentials"


def test_a_rejected_token_is_renewed_once_and_the_call_succeeds(sophos: FakeSophosCentral) -> None:
    connector(sophos).run(make_request())
    sophos.expire_tokens()

    result = connector(sophos).run(make_request())

    assert result.outcome == ConnectorOutcome.SUCCEEDED
    calls = sophos.server.received_at(ISOLATION)
    assert [c.headers["Authorization"] for c in calls] == [
        f"Bearer {t}" for t in sophos.issued[:1] + sophos.issued
    ]
    assert len(sophos.issued) == 2


def test_a_second_401_is_a_permanent_credentials_failure(sophos: FakeSophosCentral) -> None:
    sophos.server.script(ISOLATION, Reply(401, {"message": "Unauthorized"}))

    result = connector(sophos).run(make_request())

    assert result.outcome == ConnectorOutcome.PERMANENT
    assert result.message == "Sophos Central refused the credentials"
    assert len(sophos.server.received_at(ISOLATION)) == 2
    assert len(sophos.server.received_at(TOKEN_PATH)) == 2


@pytest.mark.parametrize("status", [400, 401])
def test_the_token_endpoint_refusing_is_permanent(sophos: FakeSophosCentral, status: int) -> None:
    sophos.server.script(TOKEN_PATH, Reply(status, {"errorCode": "oauth.invalid_client_secret"}))
    result = connector(sophos).run(make_request())
    assert result.outcome == ConnectorOutcome.PERMANENT
    assert result.message == "Sophos Central refused the credentials"
    assert sophos.server.received_at(ISOLATION) == []


def test_a_wrong_secret_is_refused_by_the_token_endpoint(sophos: FakeSophosCentral) -> None:
    result = connector(sophos, secret="wrong").run(make_request())
    assert (result.outcome, result.message) == (
        ConnectorOutcome.PERMANENT,
        "Sophos Central refused the credentials",
    )


def test_a_token_endpoint_outage_is_transient(sophos: FakeSophosCentral) -> None:
    sophos.server.script(TOKEN_PATH, Reply(503, {"message": "maintenance"}))
    result = connector(sophos).run(make_request())
    assert result.outcome == ConnectorOutcome.TRANSIENT
    assert "token endpoint" in result.message


@pytest.mark.parametrize(
    ("reply", "words"),
    [
        (Reply(429, {"message": "Too many requests"}, headers={"Retry-After": "30"}), "rate limited"),
        (Reply(500, {"message": "Internal error"}), "server error"),
        (Reply(503, "Service Unavailable"), "server error"),
    ],
)
def test_rate_limits_and_server_errors_are_transient(
    sophos: FakeSophosCentral, reply: Reply, words: str
) -> None:
    sophos.server.script(ISOLATION, reply)
    result = connector(sophos).run(make_request())
    assert result.outcome == ConnectorOutcome.TRANSIENT
    assert words in result.message
    assert result.details["status"] == reply.status


def test_retry_after_is_reported(sophos: FakeSophosCentral) -> None:
    sophos.server.script(ISOLATION, Reply(429, {"message": "slow down"}, headers={"Retry-After": "30"}))
    result = connector(sophos).run(make_request())
    assert result.details["retry_after"] == "30"
    assert "retry after 30" in result.message


def test_an_unknown_endpoint_is_refused_with_the_platform_message(sophos: FakeSophosCentral) -> None:
    other = "11111111-2222-4333-8444-555555555555"
    isolate = connector(sophos).run(make_request(target=other))
    scan = connector(sophos).run(make_request(code="clean_malware", target=other))

    assert (isolate.outcome, isolate.details["status"]) == (ConnectorOutcome.PERMANENT, 400)
    assert f"Unknown endpoint ids: {other}" in isolate.message
    assert (scan.outcome, scan.details["status"]) == (ConnectorOutcome.PERMANENT, 404)
    assert f"Endpoint {other} not found" in scan.message


def test_a_long_error_text_is_truncated(sophos: FakeSophosCentral) -> None:
    sophos.server.script(ISOLATION, Reply(400, "x" * 5000))
    result = connector(sophos).run(make_request())
    assert result.outcome == ConnectorOutcome.PERMANENT
    assert len(result.details["response"]) <= 500
    assert len(result.message) < 600


def test_a_hanging_api_is_a_transient_timeout(sophos: FakeSophosCentral, settings: Settings) -> None:
    settings.CONNECTOR_TIMEOUT_SECONDS = 1
    sophos.server.script(ISOLATION, HANG)

    started = time.monotonic()
    result = connector(sophos).run(make_request())

    assert result.outcome == ConnectorOutcome.TRANSIENT
    assert "timeout" in result.message
    assert time.monotonic() - started < 3


def test_a_closed_api_port_is_transient(sophos: FakeSophosCentral) -> None:
    result = connector(sophos, url=closed_port_url()).run(make_request())
    assert result.outcome == ConnectorOutcome.TRANSIENT
    assert "could not connect" in result.message


def test_a_closed_token_port_is_transient(sophos: FakeSophosCentral, settings: Settings) -> None:
    settings.SOPHOS_TOKEN_URL = closed_port_url() + TOKEN_PATH
    result = connector(sophos).run(make_request())
    assert result.outcome == ConnectorOutcome.TRANSIENT
    assert sophos.server.received == []


@pytest.mark.parametrize("code", UNSUPPORTED)
def test_an_action_the_api_cannot_do_is_permanent_without_any_call(
    sophos: FakeSophosCentral, code: str
) -> None:
    result = connector(sophos).run(make_request(code=code, target="anything"))
    assert result.outcome == ConnectorOutcome.PERMANENT
    assert result.message.startswith("Sophos Central's API cannot ")
    assert "console" in result.message and "webhook" in result.message
    assert sophos.server.received == []


def test_an_unknown_action_code_is_named_in_the_refusal(sophos: FakeSophosCentral) -> None:
    result = connector(sophos).run(make_request(code="reboot_host"))
    assert result.outcome == ConnectorOutcome.PERMANENT
    assert "reboot_host" in result.message


@pytest.mark.parametrize("target", ["abc", "g" * 64, SHA + "0", SHA[:-1]])
def test_a_malformed_sha256_is_permanent_without_any_call(sophos: FakeSophosCentral, target: str) -> None:
    result = connector(sophos).run(make_request(code="block_sha256", target=target))
    assert result.outcome == ConnectorOutcome.PERMANENT
    assert "SHA-256" in result.message
    assert sophos.server.received == []


@pytest.mark.parametrize("target", ["FIN-LAPTOP-7", "../settings/blocked-items", ""])
def test_an_endpoint_that_is_not_an_id_is_permanent_without_any_call(
    sophos: FakeSophosCentral, target: str
) -> None:
    result = connector(sophos).run(make_request(code="clean_malware", target=target))
    assert result.outcome == ConnectorOutcome.PERMANENT
    assert sophos.server.received == []


@pytest.mark.parametrize("missing", ["url", "client_id", "secret", "external_tenant_id"])
def test_incomplete_settings_are_permanent_without_any_call(sophos: FakeSophosCentral, missing: str) -> None:
    result = connector(sophos, **{missing: ""}).run(make_request())
    assert result.outcome == ConnectorOutcome.PERMANENT
    assert sophos.server.received == []


def test_a_wrong_tenant_id_is_refused_with_the_platform_message(sophos: FakeSophosCentral) -> None:
    result = connector(sophos, external_tenant_id="someone-else").run(make_request())
    assert (result.outcome, result.details["status"]) == (ConnectorOutcome.PERMANENT, 403)
    assert "Tenant not accessible" in result.message


def test_neither_the_secret_nor_a_token_ever_shows(
    sophos: FakeSophosCentral, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    results: list[Result] = [connector(sophos).run(make_request())]
    sophos.expire_tokens()
    results.append(connector(sophos).run(make_request()))
    # A platform that quotes the request back in its error must not carry the token into the record.
    sophos.server.script(ISOLATION, lambda received: Reply(400, {"message": f"bad: {received.headers}"}))
    results.append(connector(sophos).run(make_request()))
    sophos.server.script(ISOLATION, Reply(401))
    results.append(connector(sophos).run(make_request()))
    sophos.server.script(TOKEN_PATH, lambda received: Reply(401, {"message": received.body.decode()}))
    results.append(connector(sophos).run(make_request()))
    settings.CONNECTOR_TIMEOUT_SECONDS = 1
    sophos.server.script(ISOLATION, HANG)
    sophos.server.script(TOKEN_PATH, lambda received: sophos.answer(received))
    results.append(connector(sophos).run(make_request()))

    assert [r.outcome for r in results] == [ConnectorOutcome.SUCCEEDED] * 2 + [
        ConnectorOutcome.PERMANENT
    ] * 3 + [ConnectorOutcome.TRANSIENT]
    shown = [str(r) + repr(r) + r.message + json.dumps(r.details) for r in results] + [caplog.text]
    shown += [str(connector(sophos)), repr(connector(sophos).__dict__)]
    for secret in [SECRET, *sophos.issued]:
        assert not [text for text in shown if secret in text]
