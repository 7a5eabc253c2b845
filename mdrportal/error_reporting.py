"""Error reporting to Sentry when SENTRY_DSN is set, with personal data kept out of every event."""

from __future__ import annotations

from typing import Any

from mdrportal.logs import redact


def _scrub(event: dict[str, Any], hint: dict[str, Any]) -> dict[str, Any]:
    # Messages and exception texts may quote a phone number; request bodies and locals are never sent at all.
    for entry in (event.get("logentry"), event.get("message")):
        if isinstance(entry, dict):
            for key in ("message", "formatted"):
                if isinstance(entry.get(key), str):
                    entry[key] = redact(entry[key])
            entry.pop("params", None)
    if isinstance(event.get("message"), str):
        event["message"] = redact(event["message"])
    for exception in (event.get("exception") or {}).get("values", []):
        if isinstance(exception.get("value"), str):
            exception["value"] = redact(exception["value"])
    event.pop("user", None)
    return event


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
    )
