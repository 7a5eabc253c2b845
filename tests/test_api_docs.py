"""The API docs page works under the site's Content-Security-Policy: no inline script, no CDN."""

from __future__ import annotations

import re

import pytest

from tests.factories import login_verified, make_user

pytestmark = pytest.mark.django_db


def test_the_docs_page_loads_swagger_ui_from_this_site_without_inline_script(client) -> None:
    login_verified(client, make_user(staff=True))
    page = client.get("/api/docs/")
    assert page.status_code == 200
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    html = page.content.decode()
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", html, flags=re.S)
    assert scripts and all('src="' in attrs and not body.strip() for attrs, body in scripts)
    for src in re.findall(r'(?:src|href)="(/[^"]+)"', html):
        assert client.get(src).status_code == 200, src
    assert "cdn" not in html.lower()


@pytest.mark.parametrize("method", ["options", "post", "put", "delete"])
def test_the_docs_page_answers_other_methods_with_405_not_a_server_error(client, method: str) -> None:
    login_verified(client, make_user(staff=True))
    response = getattr(client, method)("/api/docs/")
    assert response.status_code == 405
    assert response.headers["Allow"] == "GET, HEAD"
