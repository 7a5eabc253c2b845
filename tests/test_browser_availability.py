"""In a real browser: a customer admin limits a contact's phone hours to weekdays on the contacts page, and
the settings page's 3 a.m. explanation then says that contact is not phoned on a Saturday night."""

from __future__ import annotations

from typing import Any

import pytest

from tenants.models import AvailabilityWindow, Role, SettingsChange
from tests.browser import Chromium, screenshots
from tests.factories import make_member, make_tenant

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def test_an_admin_limits_a_contacts_hours_and_the_3_am_explanation_changes(live_server: Any) -> None:
    from playwright.sync_api import expect  # a test extra; the marker skips without it

    tenant = make_tenant(phones=2, fallback=True)
    first, second = tenant.contacts.order_by("call_order")
    admin = make_member(tenant, Role.ADMIN)

    with Chromium(live_server.url) as browser:
        page = browser.sign_in(admin.username)
        page.goto("/settings/")
        night = page.locator('#who-is-phoned [data-when="saturday-night"]')
        expect(night).to_contain_text(f"{first.name}, {second.name}")
        expect(night).not_to_contain_text("Not phoned")
        fallback = page.locator('[data-scenario="collaborate-fallback"]')
        expect(fallback).to_contain_text("each of your 2 contacts with a phone number")

        page.goto("/contacts/")
        row = page.locator("#contacts tbody tr", has_text=second.name)
        expect(row.locator(".availability")).to_contain_text("any time")
        row.get_by_role("link", name="Edit").click()
        page.fill("textarea[name=windows]", "Mon-Fri 08:00-18:00")
        page.get_by_role("button", name="Save").click()
        expect(page.locator(".messages")).to_contain_text(f"{second.name} saved")
        expect(row.locator(".availability")).to_contain_text("Mon-Fri 08:00-18:00")

        page.goto("/settings/")
        expect(night).to_contain_text(f"{first.name}.")
        expect(night).to_contain_text(f"Not phoned: {second.name} (outside their hours (Mon 08:00-18:00")
        expect(fallback).to_contain_text(f"after we have phoned {first.name}, the contacts available then")
        page.screenshot(path=str(screenshots() / "settings-availability.png"), full_page=True)

    assert browser.errors == []
    assert AvailabilityWindow.objects.filter(contact=second).count() == 5
    assert SettingsChange.objects.filter(tenant=tenant, field="availability", actor=admin).exists()
