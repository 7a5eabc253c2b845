"""The executor in a real Celery worker (beat embedded for the sweeper), against a fake Sophos Central.

Runs on whatever DATABASE_URL and CELERY_BROKER_URL say: SQLite and the filesystem broker by default,
PostgreSQL and Redis in CI.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from incidents.models import ActionStatus, EventKind, ResponseAction
from incidents.tasks import action_run
from tenants.models import ResponseMode, Tenant
from tests.factories import make_incident, make_tenant, propose
from tests.fakes.http_server import HANG, FakeHTTPServer, Reply
from tests.fakes.sophos import FakeSophosCentral
from tests.worker import WORKER_ENV, Worker, purge_broker, wait_for

ISOLATION = "/endpoint/v1/endpoints/isolation"
ENDPOINTS = [str(uuid.UUID(int=n)) for n in range(10)]

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


@pytest.fixture(scope="module")
def platform() -> Iterator[FakeSophosCentral]:
    with FakeHTTPServer(hang_seconds=60) as server:
        yield FakeSophosCentral(
            server,
            client_id="mdr-client",
            client_secret="s3cret-value",
            tenant_id="t-123",
            endpoints=ENDPOINTS,
        )


@pytest.fixture
def worker(platform: FakeSophosCentral, transactional_db: None, tmp_path: Path) -> Iterator[Worker]:
    """A worker per test, stopped before the test database is emptied (it would otherwise hold locks)."""
    purge_broker()
    worker = Worker(tmp_path, SOPHOS_TOKEN_URL=platform.token_url)
    worker.start()
    yield worker
    worker.stop()


@pytest.fixture(autouse=True)
def fresh_script(platform: FakeSophosCentral) -> None:
    platform.server.script(ISOLATION)  # no script: the fake platform answers normally


def sophos_tenant(platform: FakeSophosCentral, mode: str = ResponseMode.AUTHORIZE) -> Tenant:
    tenant = make_tenant(mode=mode)
    platform.connect(tenant)
    return tenant


def isolation_calls(platform: FakeSophosCentral, endpoint: str) -> int:
    return sum(1 for r in platform.server.received_at(ISOLATION) if endpoint in r.json().get("ids", []))


def status_of(action: ResponseAction) -> str:
    return ResponseAction.objects.values_list("status", flat=True).get(pk=action.pk)


def wait_for_status(action: ResponseAction, status: str, timeout: float = 45) -> None:
    try:
        wait_for(
            lambda: status_of(action) == status, timeout=timeout, what=f"action #{action.pk} to be {status}"
        )
    except AssertionError as error:
        story = "\n".join(f"  {e.kind}: {e.summary}" for e in action.incident.events.order_by("id"))
        raise AssertionError(f"{error}; it is {status_of(action)}. Timeline:\n{story}") from None


def test_an_authorize_mode_containment_reaches_the_platform_exactly_once(worker, platform) -> None:
    action = propose(make_incident(sophos_tenant(platform)), "isolate_endpoint", target=ENDPOINTS[1])
    wait_for_status(action, ActionStatus.SUCCEEDED)
    time.sleep(2)  # room for any duplicate to show itself
    assert isolation_calls(platform, ENDPOINTS[1]) == 1
    assert platform.isolated[ENDPOINTS[1]] is True
    succeeded = action.incident.events.get(kind=EventKind.ACTION_SUCCEEDED)
    assert succeeded.data["details"]["response"]["items"][0]["id"] == ENDPOINTS[1]
    assert b"s3cret-value" not in worker.log() and b"fake-token-" not in worker.log()


def test_duplicate_deliveries_reach_the_platform_once(worker, platform) -> None:
    platform.server.script(ISOLATION, Reply(503, {"message": "slow down"}), platform.answer)
    action = propose(make_incident(sophos_tenant(platform)), "isolate_endpoint", target=ENDPOINTS[2])
    for _ in range(5):
        action_run.delay(action.pk)
    wait_for_status(action, ActionStatus.SUCCEEDED)
    time.sleep(2)
    # One call for the first attempt (503), one for the retry the sweeper started: one per attempt.
    assert isolation_calls(platform, ENDPOINTS[2]) == 2
    assert list(action.attempts.values_list("number", "outcome")) == [(1, "transient"), (2, "succeeded")]


def test_a_collaborate_action_without_authorization_never_reaches_the_platform(worker, platform) -> None:
    tenant = sophos_tenant(platform, mode=ResponseMode.COLLABORATE)
    waiting = propose(make_incident(tenant), "isolate_endpoint", target=ENDPOINTS[3])
    for _ in range(3):
        action_run.delay(waiting.pk)
    ResponseAction.objects.filter(pk=waiting.pk).update(status=ActionStatus.QUEUED, basis="authorize_mode")
    action_run.delay(waiting.pk)
    # A later action that does run shows the worker got past the ones sent before it.
    marker = propose(make_incident(sophos_tenant(platform)), "isolate_endpoint", target=ENDPOINTS[4])
    wait_for_status(marker, ActionStatus.SUCCEEDED)
    wait_for_status(waiting, ActionStatus.AWAITING_AUTHORIZATION)
    time.sleep(2)
    assert isolation_calls(platform, ENDPOINTS[3]) == 0
    assert not waiting.attempts.exists()


def test_a_worker_killed_mid_call_finishes_with_one_call_per_attempt(worker, platform) -> None:
    platform.server.script(ISOLATION, HANG, platform.answer)
    action = propose(make_incident(sophos_tenant(platform)), "isolate_endpoint", target=ENDPOINTS[5])
    wait_for(
        lambda: isolation_calls(platform, ENDPOINTS[5]) == 1, what="the first call to reach the platform"
    )
    worker.kill()
    assert status_of(action) == ActionStatus.RUNNING
    worker.start()
    wait_for_status(action, ActionStatus.SUCCEEDED, timeout=60)
    assert isolation_calls(platform, ENDPOINTS[5]) == 2
    assert list(action.attempts.values_list("number", "outcome")) == [(1, "lost"), (2, "succeeded")]
    lost = action.incident.events.get(kind=EventKind.ACTION_ATTEMPT_FAILED)
    assert "worker stopped" in lost.summary


def test_a_platform_that_drips_its_answer_is_cut_at_the_deadline_and_never_called_twice_at_once(
    worker, platform
) -> None:
    # A byte a second: every socket read gets something, and the status line alone outlasts
    # ACTION_RUN_TIMEOUT_SECONDS, so only a deadline over the whole call ends this attempt in time.
    platform.server.script(ISOLATION, Reply(200, {"items": []}, drip_seconds=1.0), platform.answer)
    action = propose(make_incident(sophos_tenant(platform)), "isolate_endpoint", target=ENDPOINTS[6])
    wait_for_status(action, ActionStatus.SUCCEEDED, timeout=60)
    time.sleep(int(WORKER_ENV["ACTION_RUN_TIMEOUT_SECONDS"]) + 2)  # past where a sweeper would give up
    attempts = list(action.attempts.order_by("number"))
    assert [(a.number, a.outcome) for a in attempts] == [(1, "transient"), (2, "succeeded")]
    assert "timeout" in attempts[0].message
    # The first attempt had given up on its connection before the second one was claimed.
    assert attempts[0].finished_at <= attempts[1].started_at
    assert isolation_calls(platform, ENDPOINTS[6]) == len(attempts)
    assert action.incident.events.filter(kind=EventKind.ACTION_SUCCEEDED).count() == 1
    assert status_of(action) == ActionStatus.SUCCEEDED
