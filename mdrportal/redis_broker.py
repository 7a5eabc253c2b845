"""The production broker: kombu's Redis transport, with a channel of a closed connection failing as a lost
connection (which Celery handles: it reconnects) instead of an AttributeError (which stops the worker).

When Redis goes away, Celery's consumer closes its broker connection; kombu clears the transport's link to
that connection (`transport.client = None`) but a channel can outlive it (the connection keeps its default
channel). Closing that channel again, on a later loss, restores its unacknowledged messages through a new
Redis client, made from the connection's parameters: `self.connection.client.hostname` on None, and the worker
exited with "Unrecoverable error: AttributeError: 'NoneType' object has no attribute 'hostname'" (kombu 5.7.0,
kombu/transport/redis.py, Channel._connparams). Here that client cannot be made and says so as a connection
error, which every caller already ignores or retries; the messages it would have restored stay in Redis's
unacked set and are restored after the visibility timeout, as for a worker killed outright.
"""

from __future__ import annotations

from typing import Any

from kombu.transport import redis as kombu_redis
from redis.exceptions import ConnectionError as RedisConnectionError


class Channel(kombu_redis.Channel):
    def close(self) -> None:
        if (self.connection is None or self.connection.client is None) and self._qos is not None:
            # Restoring would need a client for a connection that is gone: without this, the close stopped
            # half-way (its consumers and poller left as they were). Redis restores them after the visibility
            # timeout instead.
            self._qos.restore_at_shutdown = False
        super().close()

    def _connparams(self, asynchronous: bool = False) -> dict[str, Any]:
        if self.connection is None or self.connection.client is None:
            raise RedisConnectionError("this channel's broker connection was closed")
        params: dict[str, Any] = super()._connparams(asynchronous=asynchronous)  # type: ignore[misc]  # kombu's, not in its stubs
        return params


class Transport(kombu_redis.Transport):
    Channel = Channel
