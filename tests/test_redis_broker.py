"""The Redis transport: a channel that outlived its connection fails as a lost connection when closed, which
Celery's consumer ignores while it reconnects, instead of an AttributeError that stopped the worker."""

from __future__ import annotations

import uuid

import pytest
from django.conf import settings
from kombu import Connection

pytestmark = pytest.mark.redis


def test_the_production_broker_uses_this_transport() -> None:
    assert settings.CELERY_BROKER_TRANSPORT == "mdrportal.redis_broker:Transport"


def test_closing_a_connection_whose_transport_was_let_go_raises_nothing() -> None:
    conn = Connection(settings.CELERY_BROKER_URL, transport=settings.CELERY_BROKER_TRANSPORT)
    channel = conn.default_channel
    queue = conn.SimpleQueue(f"test-redis-broker-{uuid.uuid4().hex}")
    queue.put({"nudge": 1})
    queue.get(timeout=5)  # delivered, not acknowledged yet: a task in hand when Redis went away
    # What a lost connection leaves behind in a worker: the channel's pools dropped (Redis went away) and the
    # transport's link to its connection cleared, while the connection still holds its default channel.
    channel._disconnect_pools()
    conn._do_close_transport()
    conn.release()  # the consumer's close when it next loses the broker
    assert channel.closed
