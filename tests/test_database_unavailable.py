"""While the database is out of reach, pages and the API answer 503 with a plain message, never a traceback."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from django.db import OperationalError, connection
from django.test import Client

from mdrportal.web.database_unavailable import MESSAGE, database_unreachable
from tests.fakes.http_server import closed_port_url

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


@pytest.fixture
def database_away(tmp_path: Path) -> Iterator[None]:
    """The database server gone: every new connection is refused (SQLite: the file cannot be opened)."""
    connection.close()
    saved = dict(connection.settings_dict)
    if connection.vendor == "sqlite":
        connection.settings_dict["NAME"] = str(tmp_path / "gone" / "db.sqlite3")
    else:
        connection.settings_dict["PORT"] = closed_port_url().rsplit(":", 1)[1]
    try:
        yield
    finally:
        connection.close()
        connection.settings_dict.clear()
        connection.settings_dict.update(saved)


def client() -> Client:
    # As a browser sees it: Django's answer, not the exception the test client would raise instead.
    return Client(raise_request_exception=False)


def test_an_api_call_answers_503_in_json_while_the_database_is_away(database_away: None) -> None:
    response = client().get("/api/v1/tenants/", HTTP_AUTHORIZATION="Token " + "a" * 40)
    assert response.status_code == 503
    assert response.json() == {"detail": MESSAGE}
    assert response["Retry-After"] == "5"


def test_a_page_answers_503_in_plain_text_while_the_database_is_away(database_away: None) -> None:
    browser = client()
    browser.cookies["sessionid"] = "s" * 32
    response = browser.get("/admin/")
    assert response.status_code == 503
    assert response["Content-Type"].startswith("text/plain")
    assert MESSAGE in response.content.decode()
    assert "Traceback" not in response.content.decode()


def test_the_same_call_with_the_database_back_is_answered_as_usual() -> None:
    response = client().get("/api/v1/tenants/", HTTP_AUTHORIZATION="Token " + "a" * 40)
    assert response.status_code == 401


def test_an_operational_error_on_a_working_connection_is_no_outage() -> None:
    connection.ensure_connection()
    assert not database_unreachable(OperationalError("deadlock detected"))
    assert not database_unreachable(ValueError("not a database error"))
