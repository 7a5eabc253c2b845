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


def _decoded(body: bytes, encoding: str | None) -> bytes:
    """An envelope as Sentry's SDK sent it: gzip, or brotli where the brotli package is installed."""
    if encoding == "gzip":
        return gzip.decompress(body)
    if encoding == "br":
        import brotli

        return brotli.decompress(body)
    return body


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
        bodies = [_decoded(r.body, r.headers.get("Content-Encoding")) for r in sentry.received]
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"
    envelope = b"\n".join(bodies)
    assert b"could not call ***100" in envelope
    assert b"2025550100" not in envelope


# An emailed link's token (the path under /l/) is a credential: no log or error report keeps it.
TOKEN = "eyJ0IjoxLCJjIjoyfQ:1vSECRETtoken:AbCdEf"


@pytest.mark.django_db
def test_djangos_request_log_keeps_no_link_token(client, caplog) -> None:
    caplog.set_level(logging.INFO)
    assert client.get(f"/l/{TOKEN}/").status_code == 400  # a forged token: logged as a bad request

    logged = [r for r in caplog.records if r.name == "django.request"]
    assert logged and TOKEN in logged[0].getMessage()  # the record itself, before any formatter
    # Django's loggers have no handler of their own: they write through the root's, whose formatters redact.
    assert logging.getLogger("django").handlers == [] == logging.getLogger("django.server").handlers
    for formatter in (JsonFormatter(), logs.PlainFormatter("%(message)s %(request)s")):
        line = formatter.format(logged[0])
        assert "/l/[redacted]" in line and "SECRETtoken" not in line


def test_gunicorns_access_log_keeps_no_link_token(capsys) -> None:
    from datetime import timedelta
    from types import SimpleNamespace

    from gunicorn.config import Config

    from mdrportal import gunicorn as gunicorn_settings

    config = Config()
    config.set("accesslog", "-")
    config.set("access_log_format", gunicorn_settings.access_log_format + ' "%(f)s" %(U)s')
    logger = gunicorn_settings.logger_class(config)
    environ = {
        "REQUEST_METHOD": "GET",
        "RAW_URI": f"/l/{TOKEN}/?from=mail",
        "PATH_INFO": f"/l/{TOKEN}/",
        "QUERY_STRING": "from=mail",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "203.0.113.5",
        "HTTP_REFERER": f"https://portal.example.com/l/{TOKEN}/",
    }
    response = SimpleNamespace(status="200 OK", sent=10, headers=[("X-Request-ID", "r-1")])
    request = SimpleNamespace(headers=[("REFERER", environ["HTTP_REFERER"])])

    logger.access(response, request, environ, timedelta(milliseconds=12))

    line = capsys.readouterr().out
    assert '"GET /l/[redacted]/?from=mail HTTP/1.1" 200' in line and "request_id=r-1" in line
    assert "SECRETtoken" not in line


def test_error_reports_keep_no_link_token() -> None:
    script = (
        "import django, sentry_sdk; django.setup()\n"
        "from django.test import Client\n"
        "from django.test.utils import setup_test_environment\n"
        "import escalation.links.views as views\n"
        "setup_test_environment()\n"
        "def broken(token):\n"
        "    raise RuntimeError('link broke')\n"
        "views.link_read = broken\n"
        f"response = Client(raise_request_exception=False).get('/l/{TOKEN}/?t={TOKEN}',\n"
        f"    HTTP_REFERER='https://portal.example.com/l/{TOKEN}/')\n"
        "sentry_sdk.flush(5)\n"
        "print(response.status_code)\n"
    )
    with FakeHTTPServer(fallback=lambda received: Reply(200, {})) as sentry:
        port = sentry.url.rsplit(":", 1)[1]
        env = {**os.environ, "SENTRY_DSN": f"http://public@127.0.0.1:{port}/1"}
        result = subprocess.run(
            [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
        )
        bodies = [_decoded(r.body, r.headers.get("Content-Encoding")) for r in sentry.received]
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith("500")
    envelope = b"\n".join(bodies)
    assert b"link broke" in envelope and b"/l/[redacted]" in envelope
    assert b"SECRETtoken" not in envelope
