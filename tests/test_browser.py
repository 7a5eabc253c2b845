"""The pages in a real browser: Debian's Chromium driven by Playwright against the live test server.

Each person sets up the second factor at first sign-in. A customer admin ticks the fallback checkbox (the explanation changes as it is ticked), saves, and finds it
kept and in the history; an approver acknowledges and then authorizes a pending action in writing; a manager
(viewer) opens the incident's timeline. Screenshots of the settings and timeline pages go to
var/screenshots/. No page may log a console error: a Content-Security-Policy violation would be one.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from incidents.models import ActionStatus, Authorization, Channel
from tenants.models import Role, SettingsChange, Tier
from tests.browser import Chromium, screenshots
from tests.factories import make_incident, make_member, make_tenant, propose

pytestmark = [
    pytest.mark.browser,
    # Live server: a real transaction per request. The catalog and groups come from migrations, so the
    # test database is restored afterwards rather than emptied.
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def test_admin_sets_the_fallback_approver_authorizes_manager_reads_the_timeline(live_server: Any) -> None:
    from playwright.sync_api import expect  # a test extra; the marker skips without it

    # Every row is written before the browser starts: Playwright's sync API runs an event loop in this
    # thread, where Django refuses database calls.
    tenant = make_tenant(tier=Tier.COMPLETE, phones=2)
    admin = make_member(tenant, Role.ADMIN)
    approver = make_member(tenant, Role.APPROVER)
    viewer = make_member(tenant, Role.VIEWER)
    incident = make_incident(tenant)
    isolate = propose(incident, "isolate_endpoint")
    propose(incident, "block_ip", target="203.0.113.9")
    folder = screenshots()

    with Chromium(live_server.url) as browser:
        # The customer admin ticks the fallback; the explanation follows the checkbox before saving.
        page = browser.sign_in(admin.username)
        page.goto("/settings/")
        fallback_text = page.locator('[data-scenario="collaborate-fallback"]')
        expect(fallback_text).to_be_hidden()
        page.check("#id_authorize_on_no_ack")
        expect(fallback_text).to_be_visible()
        expect(fallback_text).to_contain_text("Isolate endpoint")
        expect(page.locator('[data-scenario="collaborate"]')).to_be_hidden()
        page.click("#save-settings")
        expect(page.locator(".messages")).to_contain_text("Settings saved")
        page.reload()
        expect(page.locator("#id_authorize_on_no_ack")).to_be_checked()
        expect(fallback_text).to_be_visible()
        history = page.locator("#settings-history tbody tr").first
        expect(history).to_contain_text("No-acknowledgment fallback")
        expect(history).to_contain_text(admin.username)
        expect(history.locator("td").nth(4)).to_have_text("on")
        page.screenshot(path=str(folder / "settings.png"), full_page=True)

        # The approver acknowledges, then authorizes one of the two pending actions in writing.
        page = browser.sign_in(approver.username)
        page.goto("/approvals/")
        page.get_by_role("button", name="Acknowledge").click()
        expect(page.locator(".messages")).to_contain_text("This is not an authorization")
        page.goto("/approvals/")
        form = page.locator(f"#approval-{incident.pk}")
        expect(form).to_contain_text(f"Isolate endpoint on WS-0142 (action #{isolate.pk})")
        form.locator("input[name=actions]").nth(1).uncheck()  # only the isolation
        form.locator("textarea[name=statement]").fill("Approved: isolate WS-0142 now.")
        form.get_by_role("button", name="Authorize the ticked actions").click()
        expect(page.locator(".messages")).to_contain_text("You authorized in writing 1 action")

        # The manager reads what happened, and how fast.
        page = browser.sign_in(viewer.username)
        page.goto("/incidents/")
        page.get_by_role("link", name=incident.title).first.click()
        expect(page.locator("h1")).to_contain_text(incident.title)
        expect(page.locator("#events")).to_contain_text("Approved: isolate WS-0142 now.")
        expect(page.locator("#durations")).to_contain_text("Acknowledgment")
        # The chart summarizes: events close in time on one lane share a dot; its label counts them all.
        rows = page.locator("#events tbody tr").count()
        expect(page.locator("#timeline-chart")).to_have_attribute(
            "aria-label", re.compile(rf": {rows} events ")
        )
        expect(page.get_by_role("button", name="Acknowledge: we have it")).to_have_count(0)  # a viewer
        page.screenshot(path=str(folder / "timeline.png"), full_page=True)
        page.emulate_media(media="print")
        expect(page.locator("header.top")).to_be_hidden()

    assert browser.errors == []
    tenant.refresh_from_db()
    assert tenant.authorize_on_no_ack is True
    assert SettingsChange.objects.filter(tenant=tenant, field="authorize_on_no_ack", actor=admin).exists()
    authorization = Authorization.objects.get()
    assert (authorization.channel, authorization.user, authorization.statement) == (
        Channel.PORTAL,
        approver,
        "Approved: isolate WS-0142 now.",
    )
    isolate.refresh_from_db()
    assert isolate.status == ActionStatus.QUEUED
    assert (folder / "settings.png").stat().st_size > 10_000
    assert (folder / "timeline.png").stat().st_size > 10_000
