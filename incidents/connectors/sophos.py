"""Sophos Central: endpoint isolation, blocked items and scans through its public API."""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time
import uuid
from typing import Any

from django.conf import settings

from incidents.connectors.base import ActionRequest, ConnectorSpec, Result
from incidents.connectors.http import Answer, Deadline, connector_deadline, post, read_answer

PLATFORM = "Sophos Central"
TOKEN_PLATFORM = "Sophos Central token endpoint"
REFUSED = "Sophos Central refused the credentials"
# Renew a little before expiry, so a token never dies between being read from the cache and being used.
TOKEN_MARGIN_SECONDS = 60
# Sophos does not promise a comment length; a long incident title must never get a containment refused.
MAX_COMMENT_CHARS = 200

_SHA256 = re.compile(r"[0-9a-fA-F]{64}")

# What the catalog holds but the API cannot do, in words for the message the analyst reads.
_CANNOT = {
    "unblock_sha256": "unblock a SHA-256 hash",
    "block_ip": "block an IP address",
    "unblock_ip": "unblock an IP address",
    "block_domain": "block a domain",
    "unblock_domain": "unblock a domain",
    "disable_user": "disable a user account",
    "enable_user": "enable a user account",
    "terminate_process": "terminate a process",
    "quarantine_file": "quarantine a file",
    "restore_file": "restore a file from quarantine",
    "remove_persistence": "remove persistence",
    "restore_from_backup": "restore from backup",
}

# (token URL, client id, secret fingerprint) -> (access token, monotonic time after which it is stale).
# The fingerprint keeps a spec with the right client id but a wrong secret from riding on a cached token.
_tokens: dict[tuple[str, str, str], tuple[str, float]] = {}
_tokens_lock = threading.Lock()


def clear_token_cache() -> None:
    with _tokens_lock:
        _tokens.clear()


class SophosCentralConnector:
    kind = "sophos_central"

    def __init__(self, spec: ConnectorSpec) -> None:
        self._spec = spec

    def run(self, request: ActionRequest) -> Result:
        call = _call_for(request)
        if isinstance(call, Result):
            return call
        spec = self._spec
        missing = [
            name
            for name, value in (
                ("API URL", spec.url),
                ("client id", spec.client_id),
                ("client secret", spec.secret),
                ("tenant id", spec.external_tenant_id),
            )
            if not value
        ]
        if missing:
            return Result.permanent(f"{PLATFORM}: the connector has no {', '.join(missing)}")
        path, payload = call
        # One deadline for the whole sequence (token, call, fresh token, call again): the attempt must end
        # before the sweeper could take it as lost.
        deadline = connector_deadline()
        return self._post_api(path=path, body=json.dumps(payload).encode(), deadline=deadline)

    def _post_api(self, *, path: str, body: bytes, deadline: Deadline) -> Result:
        token = self._token(deadline)
        if isinstance(token, Result):
            return token
        answer = self._send(path=path, body=body, token=token, deadline=deadline)
        used = [token]
        if isinstance(answer, Answer) and answer.status == 401:
            # The token may have been revoked or expired early: one fresh token, one more try, no loop.
            self._forget(token)
            token = self._token(deadline)
            if isinstance(token, Result):
                return token
            used.append(token)
            answer = self._send(path=path, body=body, token=token, deadline=deadline)
            if isinstance(answer, Answer) and answer.status == 401:
                self._forget(token)
                return Result.permanent(REFUSED, status=401)
        if isinstance(answer, Result):
            return answer
        return read_answer(platform=PLATFORM, answer=answer, secrets=[self._spec.secret, *used])

    def _send(self, *, path: str, body: bytes, token: str, deadline: Deadline) -> Answer | Result:
        headers = {
            "Authorization": f"Bearer {token}",
            "X-Tenant-ID": self._spec.external_tenant_id,
            "Accept": "application/json",
            "Content-Type": "application/json",
        }
        url = self._spec.url.rstrip("/") + path
        return post(platform=PLATFORM, url=url, headers=headers, data=body, deadline=deadline)

    def _key(self) -> tuple[str, str, str]:
        fingerprint = hashlib.sha256(self._spec.secret.encode()).hexdigest()
        return (settings.SOPHOS_TOKEN_URL, self._spec.client_id, fingerprint)

    def _forget(self, token: str) -> None:
        with _tokens_lock:
            # Another thread may already have stored a newer token; keep that one.
            if _tokens.get(self._key(), ("", 0.0))[0] == token:
                del _tokens[self._key()]

    def _token(self, deadline: Deadline) -> str | Result:
        key = self._key()
        with _tokens_lock:
            cached = _tokens.get(key)
        if cached and time.monotonic() < cached[1]:
            return cached[0]
        # Fetched outside the lock: a slow token endpoint must not stall every other tenant's action.
        # Two threads missing at once both fetch; both tokens are valid, the last one stays cached.
        fetched = self._fetch_token(deadline)
        if isinstance(fetched, Result):
            return fetched
        token, expires_in = fetched
        with _tokens_lock:
            _tokens[key] = (token, time.monotonic() + expires_in - TOKEN_MARGIN_SECONDS)
        return token

    def _fetch_token(self, deadline: Deadline) -> tuple[str, float] | Result:
        form = {
            "grant_type": "client_credentials",
            "client_id": self._spec.client_id,
            "client_secret": self._spec.secret,
            "scope": "token",
        }
        headers = {"Accept": "application/json"}
        answer = post(
            platform=TOKEN_PLATFORM,
            url=settings.SOPHOS_TOKEN_URL,
            headers=headers,
            data=form,
            deadline=deadline,
        )
        if isinstance(answer, Result):
            return answer
        if answer.status in (400, 401):
            return Result.permanent(REFUSED, status=answer.status)
        if not 200 <= answer.status < 300:
            return read_answer(platform=TOKEN_PLATFORM, answer=answer, secrets=[self._spec.secret])
        try:
            data = answer.json()
            token, expires_in = data["access_token"], float(data["expires_in"])
        except (ValueError, KeyError, TypeError):
            return Result.permanent(
                f"{TOKEN_PLATFORM}: the answer holds no usable token", status=answer.status
            )
        if not isinstance(token, str) or not token:
            return Result.permanent(
                f"{TOKEN_PLATFORM}: the answer holds no usable token", status=answer.status
            )
        return token, expires_in


def _call_for(request: ActionRequest) -> tuple[str, dict[str, Any]] | Result:
    """The API path and body for an action, or why it cannot be done; decided before any HTTP call."""
    code, target = request.action_code, request.target.strip()
    comment = f"MDR Ops: incident #{request.incident_id} {request.incident_title}"[:MAX_COMMENT_CHARS]
    if code in ("isolate_endpoint", "release_endpoint", "clean_malware") and not _is_uuid(target):
        return Result.permanent(f"{PLATFORM}: {target[:80]!r} is not an endpoint id (a UUID)")
    if code in ("isolate_endpoint", "release_endpoint"):
        enabled = code == "isolate_endpoint"
        return "/endpoint/v1/endpoints/isolation", {"enabled": enabled, "ids": [target], "comment": comment}
    if code == "block_sha256":
        if not _SHA256.fullmatch(target):
            return Result.permanent(f"{PLATFORM}: {target[:80]!r} is not a SHA-256 hash (64 hex characters)")
        item = {"type": "sha256", "properties": {"sha256": target.lower()}, "comment": comment}
        return "/endpoint/v1/settings/blocked-items", item
    if code == "clean_malware":
        # A scan started through the API cleans up what it detects.
        return f"/endpoint/v1/endpoints/{target}/scans", {}
    what = _CANNOT.get(code, f"perform the action {code!r}")
    return Result.permanent(
        f"Sophos Central's API cannot {what}; perform it in the console or use the webhook connector"
    )


def _is_uuid(value: str) -> bool:
    try:
        return str(uuid.UUID(value)) == value.lower()
    except ValueError:
        return False
