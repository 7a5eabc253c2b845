"""One POST to a platform, and its answer read as a Result: shared by the connectors that speak HTTP."""

from __future__ import annotations

import http.client
import json
import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlencode, urlsplit

from django.conf import settings

from incidents.connectors.base import Result
from mdrportal.core.http import addresses
from mdrportal.core.http.transport import (
    MAX_BODY_BYTES,
    Deadline,
    DeadlineExceeded,
    NotSent,
    Unusable,
    send,
)

logger = logging.getLogger(__name__)

__all__ = ["MAX_BODY_BYTES", "Answer", "Deadline", "post", "read_answer", "retry_after_seconds"]

MAX_TEXT_CHARS = 500
# The platform's reason, as quoted in a message that customer users read.
MAX_REASON_CHARS = 160
_TERMINAL_CODES = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")
_PRINTABLE = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_MARKUP = re.compile(r"<[a-zA-Z!/?][^>]*>")
MAX_JSON_CHARS = 4000
REDACTED = "[redacted]"


@dataclass(frozen=True)
class Answer:
    """What a platform answered, already read (and size-limited) so the connection is closed."""

    status: int
    text: str
    retry_after: str = ""

    def json(self) -> Any:
        return json.loads(self.text)


def connector_deadline() -> Deadline:
    """The total time one connector call may take, every request of it included; starts now."""
    return Deadline(settings.CONNECTOR_TIMEOUT_SECONDS)


def post(
    *,
    platform: str,
    url: str,
    headers: Mapping[str, str],
    data: bytes | Mapping[str, str],
    deadline: Deadline,
) -> Answer | Result:
    """POST once within what is left of the deadline; a network failure comes back as a Result, never raised.

    Exception texts are left out of the message: they quote the URL, and a webhook URL may carry a token.
    """
    headers = dict(headers)
    if isinstance(data, Mapping):
        body = urlencode(data).encode()
        headers.setdefault("Content-Type", "application/x-www-form-urlencoded")
    else:
        body = data
    try:
        raw = send(
            url=url,
            headers=headers,
            body=body,
            deadline=deadline,
            allow_local=settings.CONNECTOR_ALLOW_LOCAL_URLS,
        )
    except DeadlineExceeded:
        result = Result.transient(
            f"{platform}: no complete answer within {deadline.seconds:g} s (timeout)", error="timeout"
        )
    except addresses.AddressRefused as refused:
        result = Result.permanent(f"{platform}: address refused. {refused}", error="address_refused")
    except addresses.NotResolved:
        result = Result.transient(f"{platform}: the host name did not resolve", error="dns")
    except Unusable as unusable:
        result = Result.permanent(f"{platform}: the URL or a header is not usable ({unusable})")
    except NotSent as exc:
        result = Result.transient(f"{platform}: could not connect ({exc.reason})", error="connection")
    except TimeoutError:
        result = Result.transient(f"{platform}: no answer in time (timeout)", error="timeout")
    except OSError as exc:
        result = Result.transient(f"{platform}: could not connect ({type(exc).__name__})", error="connection")
    except http.client.HTTPException as exc:
        result = Result.transient(
            f"{platform}: the answer broke off ({type(exc).__name__})", error="transport"
        )
    else:
        answer = Answer(
            status=raw.status,
            text=_decode(raw.body, raw.headers.get_content_charset()),
            retry_after=(raw.headers.get("Retry-After") or "")[:40],
        )
        logger.info("%s (%s) answered HTTP %s", platform, _host(url), answer.status)
        return answer
    logger.warning("%s (%s) failed: %s", platform, _host(url), result.message)
    return result


def retry_after_seconds(value: str, *, now: datetime | None = None) -> float | None:
    """A Retry-After header as seconds from now: delta-seconds or an HTTP date; None when unreadable."""
    value = value.strip()
    if not value:
        return None
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


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
        # Only 429 and 503 say when to come back; any other 5xx gets the usual backoff.
        wait_seconds = retry_after_seconds(answer.retry_after) if status in (429, 503) else None
        return Result.transient(
            f"{platform}: {why} (HTTP {status}{wait})", retry_after_seconds=wait_seconds, **details
        )
    return Result.permanent(
        f"{platform}: refused (HTTP {status}): {error_text(payload)}", status=status, response=payload
    )


def error_text(payload: object) -> str:
    """The platform's own words about an error, short and plain, from the usual JSON fields or the text.

    This goes into the action's message, which customer users read on the timeline: never markup, never
    a page; the whole answer stays in the details, for MDR staff.
    """
    text = ""
    if isinstance(payload, dict):
        for key in ("message", "error_description", "error", "detail", "title"):
            value = payload.get(key)
            if isinstance(value, str) and value:
                text = value
                break
    elif isinstance(payload, str):
        text = payload
    text = " ".join(_PRINTABLE.sub(" ", _TERMINAL_CODES.sub("", text)).split())
    if _MARKUP.search(text):
        return "no readable reason given"
    return truncate(text, MAX_REASON_CHARS) if text else "no reason given"


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
