"""In a real browser: an MSP's admin sets a default on its partner page, then sees it on its customer's
settings page as coming from the partner's defaults."""

from __future__ import annotations

from typing import Any

import pytest

from tenants.models import Role, SettingsChange, Tenant
from tenants.services import tenant_delegation_set
from tests.browser import Chromium, screenshots
from tests.factories import make_partner, make_partner_user, make_tenant

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def test_an_msp_sets_a_default_and_sees_it_on_its_customers_settings_page(live_server: Any) -> None:
    from playwright.sync_api import expect  # a test extra; the marker skips without it

    partner = make_partner("acme")
    tenant = make_tenant(partner=partner)
    tenant_delegation_set(tenant=tenant, by=None, partner_decides=False, partner_manages_settings=True)
    admin = make_partner_user(partner, Role.ADMIN)

    with Chromium(live_server.url) as browser:
        page = browser.sign_in(admin.username)
        page.goto("/partners/acme/defaults/")
        page.fill("input[name=reminder_minutes]", "25")
        page.get_by_role("button", name="Save defaults").click()
        expect(page.locator(".messages")).to_contain_text("1 customers reached")

        page.goto("/settings/")
        row = page.locator('#partner-defaults tr[data-field="reminder_minutes"]')
        expect(row).to_contain_text("from Acme's defaults")
        expect(row).to_contain_text("25")
        page.screenshot(path=str(screenshots() / "settings-partner-defaults.png"), full_page=True)

    assert browser.errors == []
    assert Tenant.objects.get(pk=tenant.pk).reminder_minutes == 25
    assert SettingsChange.objects.filter(tenant=tenant, subject="from Acme's defaults", actor=admin).exists()
