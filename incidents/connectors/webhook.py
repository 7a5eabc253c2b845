"""A signed JSON POST to a URL the tenant or its partner gives: their own automation performs the action."""

from __future__ import annotations

import hashlib
import hmac
import json
import time

from incidents.connectors.base import ActionRequest, ConnectorSpec, Result
from incidents.connectors.http import connector_deadline, post, read_answer

PLATFORM = "Webhook"


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The X-MDR-Signature value; a receiver recomputes it and compares with hmac.compare_digest.

    The timestamp is signed with the body so that a captured request cannot be replayed later with a new one.
    """
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


class WebhookConnector:
    kind = "webhook"

    def __init__(self, spec: ConnectorSpec) -> None:
        self._spec = spec

    def run(self, request: ActionRequest) -> Result:
        if not self._spec.url or not self._spec.secret:
            return Result.permanent(f"{PLATFORM}: the connector has no URL or no signing secret")
        payload = {
            "action_id": request.action_id,
            "idempotency_key": request.idempotency_key,
            "attempt": request.attempt,
            "incident": {"id": request.incident_id, "title": request.incident_title},
            "tenant": request.tenant_slug,
            "action_type": request.action_code,
            "category": request.category,
            "target": request.target,
        }
        # Serialized once: the bytes signed are the bytes sent.
        body = json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()
        timestamp = str(int(time.time()))
        headers = {
            "Content-Type": "application/json",
            "Idempotency-Key": request.idempotency_key,
            "X-MDR-Timestamp": timestamp,
            "X-MDR-Signature": sign(self._spec.secret, timestamp, body),
        }
        answer = post(
            platform=PLATFORM, url=self._spec.url, headers=headers, data=body, deadline=connector_deadline()
        )
        if isinstance(answer, Result):
            return answer
        return read_answer(platform=PLATFORM, answer=answer, secrets=[self._spec.secret])
