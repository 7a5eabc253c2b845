"""A receiver of MDR webhooks, as a tenant's automation would write one: checks the signature first."""

from __future__ import annotations

import hmac
import time

from incidents.connectors.webhook import sign
from tests.fakes.http_server import FakeHTTPServer, Received, Reply

PATH = "/hooks/mdr"
MAX_SKEW_SECONDS = 300


class WebhookReceiver:
    def __init__(self, server: FakeHTTPServer, *, secret: str) -> None:
        self.server, self.secret = server, secret
        self.accepted: list[dict[str, object]] = []
        self._seen_keys: set[str] = set()
        server.script(PATH, self.answer)

    @property
    def url(self) -> str:
        return self.server.url + PATH

    def answer(self, received: Received) -> Reply:
        timestamp = received.headers.get("X-MDR-Timestamp", "")
        expected = sign(self.secret, timestamp, received.body)
        if not hmac.compare_digest(received.headers.get("X-MDR-Signature", ""), expected):
            return Reply(401, {"error": "invalid signature"})
        if not timestamp.isdigit() or abs(time.time() - int(timestamp)) > MAX_SKEW_SECONDS:
            return Reply(401, {"error": "stale timestamp"})
        key = received.headers.get("Idempotency-Key", "")
        if key in self._seen_keys:
            return Reply(200, {"accepted": True, "duplicate": True})
        self._seen_keys.add(key)
        self.accepted.append(received.json())
        return Reply(202, {"accepted": True, "duplicate": False})
