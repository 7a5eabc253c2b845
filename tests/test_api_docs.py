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
