"""Logs: one JSON object a line, with the request, incident, run and action they are about, and never a phone
number, an emailed link's token or a written statement in full."""

from __future__ import annotations

import contextvars
import json
import logging
import re
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from django.http import HttpRequest, HttpResponse

CONTEXT_KEYS = ("request_id", "incident_id", "run_id", "action_id")
_context: contextvars.ContextVar[dict[str, Any]] = contextvars.ContextVar("mdr_log_context", default={})  # noqa: B039 - never mutated

# International numbers (E.164, as stored, or spaced as people type them); the last three digits stay so a
# call can still be told apart.
_PHONE = re.compile(r"\+\d[\d \-().]{5,20}\d")
# An emailed link's path (/l/<token>/, escalation/links) is the credential itself: whoever reads it may decide
# as the contact until it is used or expires. It shows in request lines, URLs, Referer headers and 404s.
_LINK_PATH = re.compile(r"/l/[^/\s?#\"'<>\\]+")
LINK_REDACTED = "/l/[redacted]"
# Fields whose value is never logged at all: what a customer wrote, secrets.
_SECRET_FIELDS = {"statement", "password", "secret", "token", "authorization"}
_RESERVED = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


def redact(text: str) -> str:
    def mask(match: re.Match[str]) -> str:
        digits = re.sub(r"\D", "", match.group())
        return match.group() if len(digits) < 7 else f"***{digits[-3:]}"

    return _LINK_PATH.sub(LINK_REDACTED, _PHONE.sub(mask, text))


def log_context() -> dict[str, Any]:
    return dict(_context.get())


@contextmanager
def bound(**values: Any) -> Iterator[None]:
    """Within the block, every log line carries these ids (None values are left out)."""
    token = _context.set({**_context.get(), **{k: v for k, v in values.items() if v is not None}})
    try:
        yield
    finally:
        _context.reset(token)


def bind(**values: Any) -> None:
    _context.set({**_context.get(), **{k: v for k, v in values.items() if v is not None}})


def clear() -> None:
    _context.set({})


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, tz=UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": redact(record.getMessage()),
            **log_context(),
        }
        for key, value in vars(record).items():
            if key in _RESERVED or key.startswith("_"):
                continue
            entry[key] = "[redacted]" if key.lower() in _SECRET_FIELDS else _safe(value)
        if record.exc_info:
            entry["exception"] = redact(self.formatException(record.exc_info))
        return json.dumps(entry, default=str)


class PlainFormatter(logging.Formatter):
    """The development format, with the same redaction and ids."""

    def format(self, record: logging.LogRecord) -> str:
        ids = " ".join(f"{k}={v}" for k, v in log_context().items())
        return redact(super().format(record)) + (f" [{ids}]" if ids else "")


def _safe(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, int | float | bool) or value is None:
        return value
    return redact(str(value))


_REQUEST_ID = re.compile(r"^[A-Za-z0-9._\-]{1,128}$")


class RequestIdMiddleware:
    """Takes the proxy's X-Request-ID (or makes one), puts it on every log line of the request and returns it."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        offered = request.headers.get("X-Request-ID", "")
        request_id = offered if _REQUEST_ID.match(offered) else uuid.uuid4().hex
        with bound(request_id=request_id):
            response = self.get_response(request)
        response["X-Request-ID"] = request_id
        return response

    def process_view(self, request: HttpRequest, view: Any, args: Any, kwargs: dict[str, Any]) -> None:
        match = request.resolver_match
        incident = kwargs.get("incident_id")
        if incident is None and match and (match.url_name or "").startswith("incident"):
            incident = kwargs.get("pk")
        bind(incident_id=incident)
