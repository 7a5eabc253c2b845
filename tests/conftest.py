from __future__ import annotations

import importlib.util
import os
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.db import connection

from mdrportal.core.http import addresses
from tests.factories import UNPACED, call_pacer_forget
from tests.fakes.dns import FakeResolver
from tests.fakes.http_server import FakeHTTPServer
from tests.fakes.smtp import SMTPSink
from tests.fakes.twilio import FakeTwilioAPI
from tests.incident_admin import awaiting, collaborate  # noqa: F401 (fixtures of the incidents admin's tests)
from tests.live_worker import phone, worker  # noqa: F401 (fixtures of the end-to-end suites)
from tests.personas import (  # noqa: F401 (fixtures every test file may use)
    analyst,
    analyst_client,
    approver,
    customer_admin,
    fast_passwords,
    lead,
    lead_client,
    partner,
    partner_user,
    superuser,
    superuser_client,
    tenant,
    viewer,
)

REQUIRE_SERVICES = os.environ.get("MDR_REQUIRE_SERVICES") == "1"
CHROMIUM = "/usr/bin/chromium"


def _missing(marker: str) -> str | None:
    if marker == "postgres" and connection.vendor != "postgresql":
        return "needs PostgreSQL: set DATABASE_URL=postgres://..."
    if marker == "redis" and not settings.CELERY_BROKER_URL.startswith(("redis://", "rediss://")):
        return "needs Redis: set CELERY_BROKER_URL=redis://..."
    if marker == "browser" and not Path(CHROMIUM).exists():
        return f"needs Chromium at {CHROMIUM}: apt-get install chromium"
    if marker == "browser" and importlib.util.find_spec("playwright") is None:
        return "needs playwright: install the test extras"
    return None


def pytest_runtest_setup(item: pytest.Item) -> None:
    for marker in ("postgres", "redis", "browser"):
        if item.get_closest_marker(marker) is None:
            continue
        reason = _missing(marker)
        if reason and REQUIRE_SERVICES:
            pytest.fail(f"MDR_REQUIRE_SERVICES=1 but this test {reason}", pytrace=False)
        if reason:
            pytest.skip(reason)


@pytest.fixture(autouse=True)
def no_thread_left_running() -> Iterator[None]:
    """A test joins every non-daemon thread it starts: one left looping keeps the whole run from ever exiting."""
    before = set(threading.enumerate())
    yield
    left = [t for t in threading.enumerate() if t not in before and t.is_alive() and not t.daemon]
    for thread in left:
        thread.join(timeout=5)
    still = [thread.name for thread in left if thread.is_alive()]
    assert still == [], f"threads started by this test are still running: {still}"


@pytest.fixture(autouse=True)
def fake_dns(monkeypatch: pytest.MonkeyPatch) -> FakeResolver:
    """Connector host names resolve from a table the test fills, never through the network."""
    resolver = FakeResolver()
    monkeypatch.setattr(addresses, "resolve", resolver)
    return resolver


@pytest.fixture(scope="module")
def twilio() -> Iterator[FakeTwilioAPI]:
    """Twilio's REST API, faked on 127.0.0.1, for the suites that run a real worker."""
    with FakeHTTPServer() as server:
        yield FakeTwilioAPI(server)


@pytest.fixture(scope="module")
def smtp() -> Iterator[SMTPSink]:
    with SMTPSink() as sink:
        yield sink


@pytest.fixture
def unpaced_calls(settings: Any) -> None:
    """Every dispatch finds its call slot free, for the tests that are not about pacing (the pacer is tested
    on its own in tests/test_call_pacer.py)."""
    settings.TWILIO_CPS = UNPACED


@pytest.fixture(autouse=True)
def fresh_call_pacer(settings: Any) -> None:
    """Each test starts with the next call slot free: the pacer's Redis keys outlive the test's transaction
    (its database row does not)."""
    call_pacer_forget(database=False)


@pytest.fixture(autouse=True)
def own_cache_namespace(settings: Any) -> None:
    """Each test counts throttles in a namespace of its own: the shared cache (Redis, when the broker is)
    outlives the test's transaction, and it is never flushed (other processes use the same Redis)."""
    settings.CACHES = {
        alias: {**config, "KEY_PREFIX": f"test-{uuid.uuid4().hex}"}
        for alias, config in settings.CACHES.items()
    }
