"""A fake Sophos Central: token endpoint, endpoint isolation, blocked items and scans, with its checks."""

from __future__ import annotations

import itertools
import re
import uuid
from collections.abc import Iterable
from typing import TYPE_CHECKING

from tests.fakes.http_server import FakeHTTPServer, Received, Reply

if TYPE_CHECKING:
    from tenants.models import Tenant

TOKEN_PATH = "/api/v2/oauth2/token"
_SCANS = re.compile(r"/endpoint/v1/endpoints/([^/]+)/scans")


class FakeSophosCentral:
    """Serves both the identity host and the data-region API host from one local server."""

    def __init__(
        self,
        server: FakeHTTPServer,
        *,
        client_id: str,
        client_secret: str,
        tenant_id: str,
        endpoints: Iterable[str],
        expires_in: int = 3600,
    ) -> None:
        self.server = server
        self.client_id, self.client_secret, self.tenant_id = client_id, client_secret, tenant_id
        self.endpoints = set(endpoints)
        self.expires_in = expires_in
        self.issued: list[str] = []
        self.valid: set[str] = set()
        self.isolated: dict[str, bool] = {}
        self.blocked: list[dict[str, object]] = []
        self.scanned: list[str] = []
        self._serial = itertools.count(1)
        server.fallback = self.answer

    @property
    def token_url(self) -> str:
        return self.server.url + TOKEN_PATH

    def connect(self, tenant: Tenant) -> None:
        """Set the tenant's connector to this platform, with the credentials it accepts."""
        from incidents.connector_settings import connector_configure

        connector_configure(
            tenant=tenant,
            by=None,
            kind="sophos_central",
            url=self.server.url,
            client_id=self.client_id,
            external_tenant_id=self.tenant_id,
            secret=self.client_secret,
        )

    def expire_tokens(self) -> None:
        self.valid.clear()

    def answer(self, received: Received) -> Reply:
        if received.path == TOKEN_PATH:
            return self._token(received)
        if received.headers.get("Authorization", "").removeprefix("Bearer ") not in self.valid:
            return Reply(401, {"error": "unauthorized", "message": "Invalid or expired token"})
        if received.headers.get("X-Tenant-ID") != self.tenant_id:
            return Reply(403, {"error": "forbidden", "message": "Tenant not accessible with this token"})
        if received.method == "POST" and received.path == "/endpoint/v1/endpoints/isolation":
            return self._isolation(received.json())
        if received.method == "POST" and received.path == "/endpoint/v1/settings/blocked-items":
            item = {"id": str(uuid.uuid4()), **received.json()}
            self.blocked.append(item)
            return Reply(201, item)
        match = _SCANS.fullmatch(received.path)
        if received.method == "POST" and match:
            if match[1] not in self.endpoints:
                return Reply(404, {"error": "resourceNotFound", "message": f"Endpoint {match[1]} not found"})
            self.scanned.append(match[1])
            return Reply(202, {"id": str(uuid.uuid4()), "status": "requested"})
        return Reply(404, {"error": "notFound", "message": "No such API path"})

    def _token(self, received: Received) -> Reply:
        form = received.form()
        if form.get("grant_type") != "client_credentials" or form.get("scope") != "token":
            return Reply(400, {"errorCode": "oauth.invalid_request", "message": "Bad grant type or scope"})
        if (form.get("client_id"), form.get("client_secret")) != (self.client_id, self.client_secret):
            return Reply(401, {"errorCode": "oauth.invalid_client_secret", "message": "Invalid client"})
        token = f"fake-token-{next(self._serial)}-{uuid.uuid4().hex}"
        self.issued.append(token)
        self.valid.add(token)
        return Reply(200, {"access_token": token, "token_type": "bearer", "expires_in": self.expires_in})

    def _isolation(self, body: dict[str, object]) -> Reply:
        ids = body.get("ids")
        if not isinstance(ids, list) or not isinstance(body.get("enabled"), bool):
            return Reply(400, {"error": "badRequest", "message": "ids and enabled are required"})
        unknown = sorted(set(ids) - self.endpoints)
        if unknown:
            return Reply(
                400, {"error": "badRequest", "message": f"Unknown endpoint ids: {', '.join(unknown)}"}
            )
        for endpoint in ids:
            self.isolated[endpoint] = bool(body["enabled"])
        return Reply(201, {"items": [{"id": e, "isolation": {"enabled": body["enabled"]}} for e in ids]})
