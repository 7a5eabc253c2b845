"""The admin's partner page edits each partner contact's hours and away dates, in the partner's time zone,
through the availability service; bad lines are form errors that change nothing."""

from __future__ import annotations

from datetime import time

import pytest
from django.test import Client
from django.urls import reverse

from tenants.availability import Availability
from tenants.models import AvailabilityWindow, AwayPeriod
from tenants.services import contact_create
from tests.admin_pages import page_data, page_errors
from tests.factories import make_partner

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_passwords")]


def test_a_lead_sets_a_partner_contact_s_hours_and_away_dates_on_the_partner_page(
    lead_client: Client,
) -> None:
    partner = make_partner()
    partner.timezone = "Europe/Paris"
    partner.save(update_fields=["timezone"])
    desk = contact_create(partner=partner, by=None, name="Desk", phone="+12025550150")
    url = reverse("admin:tenants_partner_change", args=[partner.pk])
    page = lead_client.get(url)
    assert b"Europe/Paris" in page.content  # the hours are read on the partner's clock
    data = page_data(page)
    data["contacts-0-windows"] = "Mon-Fri 08:00-18:00"
    data["contacts-0-away"] = "2026-12-21 until 2027-01-03 Holiday"

    response = lead_client.post(url, data)

    assert response.status_code == 302, page_errors(response)
    shown = Availability.of(desk)
    assert [(w.weekday, w.starts, w.ends) for w in shown.windows] == [
        (day, time(8), time(18)) for day in range(5)
    ]
    (away,) = shown.away
    assert away.note == "Holiday"
    assert away.starts_at.isoformat().startswith("2026-12-20T23:00")  # midnight in Paris
    assert page_data(lead_client.get(url))["contacts-0-windows"].startswith("Mon")


def test_a_bad_hours_line_is_a_form_error_and_changes_nothing(lead_client: Client) -> None:
    partner = make_partner()
    contact_create(partner=partner, by=None, name="Desk", phone="+12025550150")
    url = reverse("admin:tenants_partner_change", args=[partner.pk])
    data = page_data(lead_client.get(url))
    data["contacts-0-windows"] = "Someday 25:00-26:00"

    response = lead_client.post(url, data)

    assert response.status_code == 200 and page_errors(response)
    assert not AvailabilityWindow.objects.exists() and not AwayPeriod.objects.exists()
