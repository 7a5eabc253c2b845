"""Counters that events increment as they happen; everything else is read from the database at scrape time
(operations/metrics.py). Under gunicorn, PROMETHEUS_MULTIPROC_DIR makes every process count into one place."""

from __future__ import annotations

from prometheus_client import Counter

WEBHOOK_SIGNATURE_FAILURES = Counter(
    "mdr_webhook_signature_failures",
    "Webhook requests refused because their signature was missing or wrong.",
    ["provider"],
)
# Incremented where a login gets locked out (mdrportal/web/login_guard.py).
LOGIN_LOCKOUTS = Counter("mdr_login_lockouts", "Logins locked out after too many failed sign-ins.")
