"""Fixtures of the end-to-end suites: a real worker per test that phones and texts through the fake Twilio and
mails to the SMTP sink, and Twilio's side of the calls played from this process.

tests/conftest.py makes them available; a suite that uses them defines a fixture `worker_settings`: what its
worker runs with besides the addresses of the fakes.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.test import Client

from tests.fakes.smtp import SMTPSink
from tests.fakes.twilio import FakeTwilioAPI, TwilioWebhooks, worker_env
from tests.worker import Worker, purge_broker


@pytest.fixture
def worker(
    twilio: FakeTwilioAPI,
    smtp: SMTPSink,
    worker_settings: dict[str, str],
    transactional_db: None,
    tmp_path: Path,
) -> Iterator[Worker]:
    """A worker per test, stopped before the test database is emptied (it would otherwise hold locks). The
    fake Twilio outlives the test: it accepts calls and texts again before and after."""
    twilio.recover()
    purge_broker()
    started = Worker(tmp_path, **worker_env(twilio, smtp_port=smtp.port, **worker_settings))
    started.start()
    yield started
    started.stop()
    twilio.recover()


@pytest.fixture
def phone(worker: Worker, settings: Any) -> TwilioWebhooks:
    """Twilio's side. This process validates the webhooks: it must hold the same Twilio settings as the worker."""
    for name, value in worker.extra_env.items():
        setattr(settings, name, int(value) if value.isdigit() else value)
    settings.EMAIL_USE_TLS = False
    return TwilioWebhooks(Client())
