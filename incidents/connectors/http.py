"""One POST to a platform, and its answer read as a Result: shared by the connectors that speak HTTP."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests
from django.conf import settings

from incidents.connectors.base import Result

logger = logging.getLogger(__name__)

# An answer is kept on the action's record: enough to read an error, never a whole page.
MAX_BODY_BYTES = 64 * 1024
MAX_TEXT_CHARS = 500
MAX_JSON_CHARS = 4000
REDACTED = "[redacted]"

# The request could not even be built: a bad URL or header value in the settings, so retrying cannot help.
_SETTINGS_ERRORS = (
    requests.exceptions.InvalidURL,
    requests.exceptions.MissingSchema,
    requests.exceptions.InvalidSchema,
    requests.exceptions.InvalidHeader,
    requests.exceptions.URLRequired,
    UnicodeError,
)


@dataclass(frozen=True)
class Answer:
    """What a platform answered, already read (and size-limited) so the connection is closed."""

    status: int
    text: str
    retry_after: str = ""

    def json(self) -> Any:
        return json.loads(self.text)


def post(
    *, platform: str, url: str, headers: Mapping[str, str], data: bytes | Mapping[str, str]
) -> Answer | Result:
    """POST once with the configured timeout; a network failure comes back as a Result, never raised.

    Exception texts are left out of the message: they quote the URL, and a webhook URL may carry a token.
    """
    timeout = settings.CONNECTOR_TIMEOUT_SECONDS
    try:
        # No redirects: a signed or authenticated request must not be replayed to another address.
        with requests.post(
            url, data=data, headers=dict(headers), timeout=timeout, allow_redirects=False, stream=True
        ) as response:
            answer = Answer(
                status=response.status_code,
                text=_decode(_read_limited(response), response.encoding),
                retry_after=response.headers.get("Retry-After", "")[:40],
            )
    except requests.Timeout:
        result = Result.transient(f"{platform}: no answer within {timeout} s (timeout)", error="timeout")
    except _SETTINGS_ERRORS as exc:
        result = Result.permanent(f"{platform}: the URL or a header is not usable ({type(exc).__name__})")
    except requests.ConnectionError as exc:
        result = Result.transient(f"{platform}: could not connect ({type(exc).__name__})", error="connection")
    except requests.RequestException as exc:
        result = Result.transient(
            f"{platform}: the answer broke off ({type(exc).__name__})", error="transport"
        )
    else:
        logger.info("%s (%s) answered HTTP %s", platform, _host(url), answer.status)
        return answer
    logger.warning("%s (%s) failed: %s", platform, _host(url), result.message)
    return result


def read_answer(*, platform: str, answer: Answer, secrets: Iterable[str] = ()) -> Result:
    """Map an HTTP answer: 2xx succeeded; 429 and 5xx are worth retrying; anything else is refused."""
    status = answer.status
    payload = _payload(answer.text, secrets=secrets)
    if 200 <= status < 300:
        return Result.ok(f"{platform}: done (HTTP {status})", status=status, response=payload)
    if status == 429 or status >= 500:
        why = "rate limited" if status == 429 else "server error"
        details: dict[str, Any] = {"status": status, "response": payload}
        wait = ""
        if answer.retry_after:
            details["retry_after"] = answer.retry_after
            wait = f"; retry after {answer.retry_after}"
        return Result.transient(f"{platform}: {why} (HTTP {status}{wait})", **details)
    return Result.permanent(
        f"{platform}: refused (HTTP {status}): {error_text(payload)}", status=status, response=payload
    )


def error_text(payload: Any) -> str:
    """The platform's own words about an error, from the usual JSON fields, else the text itself."""
    if isinstance(payload, dict):
        for key in ("message", "error_description", "error", "detail", "title"):
            value = payload.get(key)
            if isinstance(value, str) and value:
                return truncate(value)
    if isinstance(payload, str) and payload:
        return payload
    return "no reason given"


def truncate(text: str, limit: int = MAX_TEXT_CHARS) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _payload(text: str, *, secrets: Iterable[str]) -> Any:
    # Scrubbed before parsing, so a platform that echoes a credential back cannot put it in a Result.
    for secret in secrets:
        if secret:
            text = text.replace(secret, REDACTED)
    if len(text) <= MAX_JSON_CHARS:
        try:
            return json.loads(text)
        except ValueError:
            pass
    return truncate(text.strip())


def _read_limited(response: requests.Response) -> bytes:
    # A misbehaving server could stream without end; stop reading once the kept part is full.
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_content(chunk_size=8192):
        chunks.append(chunk)
        size += len(chunk)
        if size >= MAX_BODY_BYTES:
            break
    return b"".join(chunks)[:MAX_BODY_BYTES]


def _decode(body: bytes, encoding: str | None) -> str:
    try:
        return body.decode(encoding or "utf-8", errors="replace")
    except LookupError:  # a charset name no codec knows
        return body.decode("utf-8", errors="replace")


def _host(url: str) -> str:
    # Only the host: a path or query string may hold a token.
    try:
        return urlsplit(url).hostname or "?"
    except ValueError:
        return "?"
