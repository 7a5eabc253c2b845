"""API throttles: token creation per client address, writes per user, writes per integration key; all in the
shared cache."""

from __future__ import annotations

from typing import Any

import pytest
import redis
from rest_framework.test import APIClient
from rest_framework.throttling import SimpleRateThrottle

from incidents.models import Incident, ResponseAction
from tenants.models import SharedCacheEntry
from tests.factories import (
    PASSWORD,
    api_token,
    as_key,
    as_user,
    make_analyst,
    make_integration_key,
    make_relaxed_viewer,
    make_tenant,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_passwords")]
TOKEN_URL = "/api/v1/auth/token/"


def token_request(username: str, address: str, password: str = PASSWORD) -> Any:
    return APIClient().post(TOKEN_URL, {"username": username, "password": password}, REMOTE_ADDR=address)


def test_token_creation_is_throttled_per_client_address(settings: Any) -> None:
    settings.API_TOKEN_RATE = "3/min"
    make_relaxed_viewer("integrator")
    make_relaxed_viewer("other")
    statuses = [token_request("integrator", "198.51.100.4", "wrong").status_code for _ in range(3)]

    refused = token_request("other", "198.51.100.4")

    assert statuses == [400, 400, 400]
    assert refused.status_code == 429 and int(refused["Retry-After"]) > 0
    assert token_request("other", "198.51.100.5").status_code == 200


def test_writes_are_throttled_per_user_and_reads_are_not(settings: Any) -> None:
    settings.API_WRITE_RATE = "2/min"
    tenant = make_tenant()
    analyst, other = make_analyst(), make_analyst("analyst2")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {api_token(analyst)}")
    body = {"tenant": tenant.pk, "title": "Ransomware", "severity": "high"}
    assert [client.post("/api/v1/incidents/", body, format="json").status_code for _ in range(2)] == [
        201,
        201,
    ]

    refused = client.post("/api/v1/incidents/", body, format="json")

    assert refused.status_code == 429
    assert client.get("/api/v1/incidents/").status_code == 200
    fresh = APIClient()
    fresh.credentials(HTTP_AUTHORIZATION=f"Token {api_token(other)}")
    assert fresh.post("/api/v1/incidents/", body, format="json").status_code == 201


def test_without_redis_the_counts_live_in_the_database(settings: Any) -> None:
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.db.DatabaseCache", "LOCATION": "mdr_cache"}
    }
    make_relaxed_viewer("integrator")

    token_request("integrator", "198.51.100.4")

    assert SharedCacheEntry.objects.filter(cache_key__contains="throttle_token").exists()


@pytest.mark.redis
def test_with_redis_the_counts_are_seen_by_every_process(settings: Any) -> None:
    assert settings.CACHES["default"]["BACKEND"].endswith("RedisCache")
    prefix = settings.CACHES["default"]["KEY_PREFIX"]
    make_relaxed_viewer("integrator")

    token_request("integrator", "198.51.100.77")

    # Another client of the same Redis (another web process) sees the count.
    keys = redis.Redis.from_url(settings.CACHE_URL).keys(f"{prefix}:*throttle_token_198.51.100.77")
    assert len(keys) == 1


class Clock:
    """The throttles' clock (SimpleRateThrottle.timer), moved by the test instead of sleeping."""

    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def test_a_key_opens_a_thousand_incidents_with_their_actions_in_a_minute_and_persons_stay_throttled(
    settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert settings.API_INTEGRATION_KEY_RATE == "6000/min"  # the default, as deployed
    settings.API_WRITE_RATE = "120/min"
    clock = Clock()
    monkeypatch.setattr(SimpleRateThrottle, "timer", clock)
    tenants = [make_tenant(mode="authorize", phones=1) for _ in range(5)]
    _, presented = make_integration_key(*tenants)
    pipeline = as_key(presented)
    statuses = []
    for n in range(1000):
        clock.now += 0.025  # 2,000 writes in 50 seconds
        opened = pipeline.post(
            "/api/v1/incidents/", {"tenant": tenants[n % 5].pk, "title": f"Wiper {n}"}, format="json"
        )
        clock.now += 0.025
        proposed = pipeline.post(
            f"/api/v1/incidents/{opened.json()['id']}/actions/",
            {"action_type": "isolate_endpoint", "target": f"WS-{n}"},
            format="json",
        )
        statuses += [opened.status_code, proposed.status_code]

    assert statuses == [201] * 2000
    assert Incident.objects.count() == ResponseAction.objects.count() == 1000
    analyst = as_user(make_analyst())
    body = {"tenant": tenants[0].pk, "title": "By hand"}
    persons = [analyst.post("/api/v1/incidents/", body, format="json").status_code for _ in range(121)]
    assert persons == [201] * 120 + [429]
