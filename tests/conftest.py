from __future__ import annotations

import os

import pytest
from django.conf import settings
from django.db import connection

REQUIRE_SERVICES = os.environ.get("MDR_REQUIRE_SERVICES") == "1"


def _missing(marker: str) -> str | None:
    if marker == "postgres" and connection.vendor != "postgresql":
        return "needs PostgreSQL: set DATABASE_URL=postgres://..."
    if marker == "redis" and not settings.CELERY_BROKER_URL.startswith(("redis://", "rediss://")):
        return "needs Redis: set CELERY_BROKER_URL=redis://..."
    return None


def pytest_runtest_setup(item: pytest.Item) -> None:
    for marker in ("postgres", "redis"):
        if item.get_closest_marker(marker) is None:
            continue
        reason = _missing(marker)
        if reason and REQUIRE_SERVICES:
            pytest.fail(f"MDR_REQUIRE_SERVICES=1 but this test {reason}", pytrace=False)
        if reason:
            pytest.skip(reason)
