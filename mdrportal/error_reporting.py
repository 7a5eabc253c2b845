"""Error reporting to Sentry when SENTRY_DSN is set, with personal data kept out of every event."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mdrportal.logs import redact

if TYPE_CHECKING:
    from sentry_sdk._types import Event, Hint


def _scrub(event: Event, hint: Hint) -> Event:
    # Messages and exception texts may quote a phone number; request bodies and locals are never sent at all.
    for entry in (event.get("logentry"), event.get("message")):
        if isinstance(entry, dict):
            entry.pop("params", None)
    event.pop("user", None)
    # Every text left is redacted as the logs are: besides messages, the request's URL, query string and
    # headers (a Referer), the transaction's name and the breadcrumbs may hold an emailed link's token.
    scrubbed: Event = _redacted(event)  # the same event, its texts redacted
    return scrubbed


def _redacted(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {key: _redacted(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_redacted(item) for item in value]
    return value


def error_reporting_init(*, dsn: str, environment: str, release: str | None) -> None:
    import sentry_sdk
    from sentry_sdk.integrations.celery import CeleryIntegration
    from sentry_sdk.integrations.django import DjangoIntegration

    sentry_sdk.init(
        dsn=dsn,
        environment=environment,
        release=release,
        integrations=[DjangoIntegration(), CeleryIntegration()],
        send_default_pii=False,
        include_local_variables=False,
        max_request_body_size="never",
        traces_sample_rate=0.0,
        before_send=_scrub,
        before_send_transaction=_scrub,
    )
