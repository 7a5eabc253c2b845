"""Debian's Chromium driven by Playwright against the live test server, for the browser suites."""

from __future__ import annotations

import base64
from pathlib import Path
from types import TracebackType
from typing import Any

from django.conf import settings
from django_otp.oath import totp

from tests.conftest import CHROMIUM
from tests.factories import PASSWORD

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def screenshots() -> Path:
    folder = Path(settings.VAR_DIR) / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


class Chromium:
    """The browser, one signed-in user at a time, and every console error any page logged.

    Open it once every row the test needs is written: Playwright's sync API runs an event loop in this thread,
    where Django refuses database calls.
    """

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.errors: list[str] = []
        self.context: Any = None

    def __enter__(self) -> Chromium:
        from playwright.sync_api import sync_playwright  # a test extra; the browser marker skips without it

        self.playwright = sync_playwright().start()
        self.browser = self.playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.sign_out()
        self.browser.close()
        self.playwright.stop()

    def sign_in(self, username: str) -> Any:
        """A page in a browser context of its own (its own cookies) signed in as the user, after the one before
        is closed. At first sign-in the user sets up the authenticator from the secret shown, as an app would,
        and continues past the recovery codes."""
        self.sign_out()
        self.context = self.browser.new_context(
            base_url=self.base_url, viewport={"width": 1280, "height": 900}
        )
        page = self.context.new_page()
        page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: self.errors.append(str(e)))
        page.goto("/login/")
        page.fill("input[name=username]", username)
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url("**/account/second-factor/**")
        secret = page.inner_text("#totp-secret")
        page.fill("input[name=code]", f"{totp(base64.b32decode(secret)):06d}")
        page.press("input[name=code]", "Enter")
        page.wait_for_selector("#recovery-codes")
        page.click("text=Continue")
        page.wait_for_url("**/")
        return page

    def sign_out(self) -> None:
        if self.context is not None:
            self.context.close()
            self.context = None
