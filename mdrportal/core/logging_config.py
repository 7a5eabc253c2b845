"""The LOGGING dict the settings hand Django: one console handler in the chosen format (mdrportal/logs.py),
and the libraries that say too much turned down."""

from __future__ import annotations

from typing import Any


def logging_config(*, log_format: str, level: str) -> dict[str, Any]:
    """Django's logging configuration, as settings.LOGGING names it; log_format is "json" or "plain"."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "json": {"()": "mdrportal.logs.JsonFormatter"},
            "plain": {
                "()": "mdrportal.logs.PlainFormatter",
                "format": "%(asctime)s %(levelname)s %(name)s %(message)s",
            },
        },
        "handlers": {"console": {"class": "logging.StreamHandler", "formatter": log_format}},
        "root": {"handlers": ["console"], "level": level},
        # Twilio's SDK logs every request and response at INFO, about 12 lines a call, written on the call's
        # way to Twilio: its failures reach the phone backend as exceptions, which say what happened.
        "loggers": {
            "twilio.http_client": {"level": "WARNING"},
            # PDF layout logs every step and font table at INFO.
            "weasyprint": {"level": "WARNING"},
            "fontTools": {"level": "WARNING"},
            # Django's loggers write through the handler above only (one format, redacted: a 404's path may be
            # an emailed link's token), not through the console and admin-email handlers Django set up before.
            "django": {"handlers": [], "level": "INFO", "propagate": True},
            "django.server": {"handlers": [], "level": "INFO", "propagate": True},
        },
    }
