"""One deadline per connector call, Retry-After for the retry's due time, and one revert at a time."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.utils import timezone
from pytest_django.fixtures import Settings

from incidents.actions import action_propose_revert
from incidents.checks import RUN_TIMEOUT_MARGIN_SECONDS, check_connector_deadline
from incidents.connectors.base import ConnectorOutcome, ConnectorSpec, Result
from incidents.connectors.http import retry_after_seconds
from incidents.connectors.sophos import SophosCentralConnector, clear_token_cache
from incidents.execution import action_claim, action_record_result, action_run, retry_delay_seconds
from incidents.models import ActionStatus, ResponseAction
from mdrportal.core.retry import retried_atomic
from tenants.models import ResponseMode
from tests.factories import make_action_request, make_incident, make_tenant, propose
from tests.fakes.http_server import FakeHTTPServer, Reply
from tests.fakes.sophos import TOKEN_PATH, FakeSophosCentral

ROOT = Path(__file__).resolve().parent.parent
ENDPOINT = "0b7cbd8e-3c1f-4d2a-9a53-4a1e2f7c9d10"
ISOLATION = "/endpoint/v1/endpoints/isolation"


@pytest.fixture
def sophos(settings: Settings) -> Iterator[FakeSophosCentral]:
    clear_token_cache()
    with FakeHTTPServer(hang_seconds=30) as server:
        fake = FakeSophosCentral(
            server, client_id="c", client_secret="s", tenant_id="t", endpoints=[ENDPOINT]
        )
        settings.SOPHOS_TOKEN_URL = fake.token_url
        yield fake
    clear_token_cache()


def isolate(sophos: FakeSophosCentral) -> Result:
    spec = ConnectorSpec(
        kind="sophos_central", url=sophos.server.url, client_id="c", external_tenant_id="t", secret="s"
    )
    request = make_action_request(target=ENDPOINT)
    return SophosCentralConnector(spec).run(request)


def test_a_dripping_answer_is_cut_at_the_deadline(sophos: FakeSophosCentral, settings: Settings) -> None:
    settings.CONNECTOR_TIMEOUT_SECONDS = 2
    sophos.server.script(ISOLATION, Reply(200, {"items": []}, drip_seconds=0.5))
    result = isolate(sophos)  # read to its end, the answer would take about 40 s and succeed
    assert (result.outcome, result.details["error"]) == (ConnectorOutcome.TRANSIENT, "timeout")


def test_the_deadline_covers_the_whole_sophos_sequence(sophos: FakeSophosCentral, settings: Settings) -> None:
    # The token answer takes most of the time; the API call gets only what is left, not a fresh allowance.
    settings.CONNECTOR_TIMEOUT_SECONDS = 3

    def slow_token(received):
        time.sleep(2.2)
        return sophos.answer(received)

    sophos.server.script(TOKEN_PATH, slow_token)
    sophos.server.script(ISOLATION, Reply(200, {"items": []}, drip_seconds=0.2))  # ~ 15 s in all
    result = isolate(sophos)
    assert (result.outcome, result.details["error"]) == (ConnectorOutcome.TRANSIENT, "timeout")
    assert len(sophos.server.received_at(ISOLATION)) == 1


@pytest.mark.parametrize(
    ("header", "expected"),
    [("120", 120.0), (" 7 ", 7.0), ("0", 0.0), ("soon", None), ("-5", None), ("", None)],
)
def test_retry_after_in_seconds(header: str, expected: float | None) -> None:
    assert retry_after_seconds(header) == expected


def test_retry_after_as_an_http_date() -> None:
    now = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)
    assert retry_after_seconds(format_datetime(now + timedelta(seconds=90), usegmt=True), now=now) == 90
    assert retry_after_seconds("Sun, 01 Mar 2026 11:00:00 GMT", now=now) == 0.0  # in the past: now


@pytest.mark.parametrize("status", [429, 503])
def test_retry_after_is_read_on_429_and_503(sophos: FakeSophosCentral, status: int) -> None:
    sophos.server.script(ISOLATION, Reply(status, {"message": "busy"}, headers={"Retry-After": "45"}))
    result = isolate(sophos)
    assert (result.outcome, result.retry_after_seconds) == (ConnectorOutcome.TRANSIENT, 45.0)


def test_retry_after_is_ignored_on_other_server_errors(sophos: FakeSophosCentral) -> None:
    sophos.server.script(ISOLATION, Reply(500, {"message": "oops"}, headers={"Retry-After": "45"}))
    assert isolate(sophos).retry_after_seconds is None


def test_the_retry_waits_at_least_the_backoff_and_at_most_the_cap(settings: Settings) -> None:
    settings.ACTION_RETRY_BASE_SECONDS, settings.ACTION_RETRY_MAX_SECONDS = 10, 600
    assert retry_delay_seconds(1) == 10
    assert retry_delay_seconds(1, 2.0) == 10
    assert retry_delay_seconds(1, 42.3) == 43
    assert retry_delay_seconds(1, 86400) == 600


@pytest.mark.django_db
def test_a_rate_limited_attempt_is_due_when_the_platform_said(settings: Settings) -> None:
    settings.ACTION_RETRY_BASE_SECONDS = 1
    action = propose(make_incident(make_tenant(mode=ResponseMode.AUTHORIZE)), "isolate_endpoint")
    claim = action_claim(action.pk)
    assert claim is not None
    before = timezone.now()
    action_record_result(claim.attempt_id, Result.transient("rate limited", retry_after_seconds=120))
    action.refresh_from_db()
    assert action.status == ActionStatus.QUEUED
    assert before + timedelta(seconds=119) < action.next_attempt_at < timezone.now() + timedelta(seconds=121)


def test_a_deadline_that_reaches_the_run_timeout_fails_the_check(settings: Settings) -> None:
    settings.CONNECTOR_TIMEOUT_SECONDS = 30
    settings.ACTION_RUN_TIMEOUT_SECONDS = 30 + RUN_TIMEOUT_MARGIN_SECONDS - 1
    [error] = check_connector_deadline()
    assert error.id == "incidents.E001" and "ACTION_RUN_TIMEOUT_SECONDS" in error.msg
    settings.ACTION_RUN_TIMEOUT_SECONDS = 30 + RUN_TIMEOUT_MARGIN_SECONDS
    assert check_connector_deadline() == []


def test_manage_py_check_refuses_a_deadline_longer_than_the_run_timeout() -> None:
    env = {**os.environ, "CONNECTOR_TIMEOUT_SECONDS": "60", "ACTION_RUN_TIMEOUT_SECONDS": "60"}
    done = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert done.returncode != 0
    assert "incidents.E001" in done.stderr


def test_a_worker_refuses_to_start_with_a_deadline_longer_than_the_run_timeout(tmp_path: Path) -> None:
    env = {**os.environ, "CONNECTOR_TIMEOUT_SECONDS": "60", "ACTION_RUN_TIMEOUT_SECONDS": "60"}
    command = [sys.executable, "-m", "celery", "-A", "mdrportal", "worker", "--concurrency=1"]
    command += ["--hostname", f"refused-{os.getpid()}@%h", "--schedule", str(tmp_path / "beat")]
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode != 0
    assert "incidents.E001" in done.stderr


def _settle(action: ResponseAction) -> ResponseAction:
    action_run(action.pk)
    action.refresh_from_db()
    assert action.status == ActionStatus.SUCCEEDED
    return action


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@pytest.mark.postgres
def test_two_reverts_proposed_at_once_make_one() -> None:
    original = _settle(propose(make_incident(make_tenant(mode=ResponseMode.AUTHORIZE)), "isolate_endpoint"))
    first_holds, release = threading.Event(), threading.Event()
    outcomes: dict[str, object] = {}

    @retried_atomic
    def held_open() -> None:
        outcomes["first"] = action_propose_revert(action=original, by=None)
        first_holds.set()
        release.wait(10)

    def first() -> None:
        try:
            held_open()
        finally:
            connection.close()

    def second() -> None:
        try:
            outcomes["second"] = action_propose_revert(action=original, by=None)
        except ValidationError as error:
            outcomes["second"] = error
        finally:
            connection.close()

    one = threading.Thread(target=first)
    one.start()
    assert first_holds.wait(10)
    two = threading.Thread(target=second)
    two.start()
    time.sleep(0.5)  # the second is now waiting for the original action's lock
    release.set()
    one.join(10)
    two.join(10)
    assert isinstance(outcomes["first"], ResponseAction)
    assert isinstance(outcomes["second"], ValidationError)
    assert outcomes["second"].code == "revert_exists"
    assert original.reverted_by.count() == 1


@pytest.mark.django_db
def test_a_revert_is_checked_against_the_stored_action_not_a_stale_copy() -> None:
    original = _settle(propose(make_incident(make_tenant(mode=ResponseMode.AUTHORIZE)), "isolate_endpoint"))
    stale = ResponseAction.objects.get(pk=original.pk)
    ResponseAction.objects.filter(pk=original.pk).update(status=ActionStatus.REVERTED)
    with pytest.raises(ValidationError, match="Only a succeeded action"):
        action_propose_revert(action=stale, by=None)
