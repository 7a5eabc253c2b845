"""Logs are JSON lines with the ids of what they are about; phone numbers and statements never appear whole.
Errors go to Sentry when SENTRY_DSN is set, without personal data."""

from __future__ import annotations

import gzip
import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from mdrportal import logs
from mdrportal.logs import JsonFormatter, redact
from tests.fakes.http_server import FakeHTTPServer, Reply

ROOT = Path(__file__).resolve().parent.parent


def record(message: str, *args: object, **extra: object) -> dict:
    entry = logging.getLogger("mdr.test").makeRecord(
        "mdr.test", logging.WARNING, __file__, 1, message, args, None, extra=extra
    )
    return json.loads(JsonFormatter().format(entry))


def test_a_line_is_json_with_the_ids_bound_where_it_was_logged() -> None:
    with logs.bound(request_id="req-1", incident_id=42), logs.bound(run_id=7, action_id=None):
        line = record("Calling %s", "Dana")
    assert line["message"] == "Calling Dana" and line["level"] == "WARNING" and line["logger"] == "mdr.test"
    assert (line["request_id"], line["incident_id"], line["run_id"]) == ("req-1", 42, 7)
    assert "action_id" not in line
    assert "request_id" not in record("outside")


def test_phone_numbers_are_masked_and_statements_left_out() -> None:
    line = record(
        "Calling Dana at %s", "+12025550100", statement="Yes, isolate WS-0142.", to="+1 202 555 0101"
    )
    assert line["message"] == "Calling Dana at ***100"
    assert line["statement"] == "[redacted]" and line["to"] == "***101"
    assert "2025550100" not in json.dumps(line)
    assert redact("incident 2026-11-30 10:00, call 12345") == "incident 2026-11-30 10:00, call 12345"


@pytest.mark.django_db
def test_a_request_gets_an_id_in_its_log_lines_and_its_response(client, caplog) -> None:
    caplog.set_level(logging.WARNING)
    response = client.get("/no-such-page/", HTTP_X_REQUEST_ID="lb-1234")
    assert response["X-Request-ID"] == "lb-1234"
    assert any(r.message.startswith("Not Found") for r in caplog.records)
    fresh = client.get("/no-such-page/", HTTP_X_REQUEST_ID="bad id\n")
    assert fresh["X-Request-ID"] != "bad id\n" and len(fresh["X-Request-ID"]) == 32


def test_errors_go_to_sentry_without_personal_data() -> None:
    script = (
        "import django, sentry_sdk; django.setup()\n"
        "phone = '+12025550100'\n"
        "try:\n"
        "    raise RuntimeError(f'could not call {phone}')\n"
        "except RuntimeError:\n"
        "    sentry_sdk.capture_exception()\n"
        "sentry_sdk.flush(5)\n"
        "print(sentry_sdk.get_client().options['send_default_pii'])\n"
    )
    with FakeHTTPServer(fallback=lambda received: Reply(200, {})) as sentry:
        port = sentry.url.rsplit(":", 1)[1]
        env = {**os.environ, "SENTRY_DSN": f"http://public@127.0.0.1:{port}/1"}
        result = subprocess.run(
            [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
        )
        bodies = [
            gzip.decompress(r.body) if r.headers.get("Content-Encoding") == "gzip" else r.body
            for r in sentry.received
        ]
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"
    envelope = b"\n".join(bodies)
    assert b"could not call ***100" in envelope
    assert b"2025550100" not in envelope
