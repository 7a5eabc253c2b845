"""The analyst's path in a real browser (Debian's Chromium driven by Playwright against the live test server):
take the "Needs attention" incident from the queue, raise its severity, add two hosts as observables and
isolate both in one form, write an internal and a customer-visible note, and read the customer's reply in the
thread. Screenshots of the queue and the case page go to var/screenshots/."""

from __future__ import annotations

from typing import Any

import pytest

from incidents.attention import incident_flag
from incidents.models import Incident, Note, Observable, ResponseAction
from incidents.thread import message_post
from tenants.models import Role
from tests.browser import Chromium, screenshots
from tests.factories import make_analyst, make_incident, make_member, make_tenant

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def test_an_analyst_works_the_needs_attention_incident(live_server: Any) -> None:
    from playwright.sync_api import expect  # a test extra; the marker skips without it

    tenant = make_tenant()
    analyst = make_analyst("night-analyst")
    incident = make_incident(tenant, severity="medium")
    make_incident(tenant)  # a quiet one, not in the view
    incident_flag(incident=incident, reason="Could not notify: every call failed on our side")
    viewer = make_member(tenant, Role.VIEWER)
    message_post(incident=incident, body="We saw KIOSK-01 rebooting on its own.", side="customer", by=viewer)
    folder = screenshots()

    with Chromium(live_server.url) as browser:
        page = browser.sign_in(analyst.username)
        # The admin's pages name no icon, so Chromium asks for /favicon.ico, which no page of the project is.
        browser.context.route("**/favicon.ico", lambda route: route.fulfill(status=204))
        page.goto("/admin/incidents/incident/")
        page.get_by_role("link", name="Needs attention (1)").click()
        expect(page.locator("#result_list")).to_contain_text("Could not notify")
        page.screenshot(path=str(folder / "queue.png"), full_page=True)
        page.locator("#result_list input.action-select").first.check()
        page.select_option("select[name=action]", "assign_to_me")
        page.locator("button[name=index]").click()
        expect(page.locator(".messagelist")).to_contain_text("1 incident(s) assigned to you")

        page.goto(f"/admin/incidents/incident/{incident.pk}/change/")
        page.select_option("#id_severity", "critical")
        page.locator("input[name=_continue]").click()
        expect(page.locator("#id_severity")).to_have_value("critical")

        for host in ["KIOSK-01", "KIOSK-02"]:
            page.get_by_role("link", name="Add observable").click()
            page.select_option("#id_kind", "host")
            page.fill("#id_value", host)
            page.locator("input[name=_save]").click()
        page.get_by_role("link", name="Propose for many targets").click()
        page.select_option("#id_action_type", label="Isolate endpoint")
        page.select_option("#id_observables", "host")
        page.locator("input[type=submit]").click()
        expect(page.locator("#bulk-outcomes tbody tr")).to_have_count(2)
        page.get_by_role("link", name="Back to the incident").click()
        # Each isolation names the host it uses, and each host the isolation that uses it.
        expect(page.locator("body")).to_contain_text("Host kiosk-02")
        expect(page.locator("body")).to_contain_text("Isolate endpoint on kiosk-01")

        for visibility, body in [
            ("internal", "Same affiliate as last week."),
            ("customer", "Both kiosks await your go."),
        ]:
            page.get_by_role("link", name="Add note").click()
            page.select_option("#id_visibility", visibility)
            page.fill("#id_body", body)
            page.locator("input[name=_save]").click()
        expect(page.locator("body")).to_contain_text("We saw KIOSK-01 rebooting on its own.")
        page.screenshot(path=str(folder / "case.png"), full_page=True)

    assert browser.errors == []
    stored = Incident.objects.get(pk=incident.pk)
    assert (stored.owner, stored.severity) == (analyst, "critical")
    assert sorted(Observable.objects.filter(incident=incident).values_list("value", flat=True)) == [
        "kiosk-01",
        "kiosk-02",
    ]
    assert sorted(ResponseAction.objects.filter(incident=incident).values_list("target", flat=True)) == [
        "kiosk-01",
        "kiosk-02",
    ]
    for action in ResponseAction.objects.filter(incident=incident):
        assert [o.value for o in action.observables.all()] == [action.target]
    assert sorted(Note.objects.filter(incident=incident).values_list("visibility", flat=True)) == [
        "customer",
        "internal",
    ]
    assert (folder / "queue.png").stat().st_size > 10_000
    assert (folder / "case.png").stat().st_size > 10_000
