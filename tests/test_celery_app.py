"""The Celery app reads the broker from the settings and can reach it."""

from __future__ import annotations

import pytest

from mdrportal.celery import app


def test_tasks_are_acknowledged_only_after_they_ran() -> None:
    # A worker killed mid-task leaves the message to be redelivered; the database decides what is left to do.
    assert app.conf.task_acks_late is True
    assert app.conf.task_reject_on_worker_lost is True
    assert app.conf.worker_prefetch_multiplier == 1


@pytest.mark.redis
def test_the_redis_broker_is_reachable() -> None:
    with app.connection_for_write() as connection:
        connection.ensure_connection(max_retries=2)
        assert connection.transport_cls == "redis" or "redis" in connection.as_uri()
