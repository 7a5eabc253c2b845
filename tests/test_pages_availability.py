"""A contact's availability on the customer pages: edited on the contact's form (with line-by-line errors),
shown on the contacts page and in the admin, and read by the settings page's 3 a.m. explanation."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from escalation.models import RunPurpose
from escalation.runs.availability import plan_make
from tenants.availability import NO_VOICE, Away, Window
from tenants.availability_services import contact_availability_set
from tenants.models import AvailabilityWindow, AwayPeriod, Contact, Role, SettingsChange, Tenant, Weekday
from tenants.reach import reach_now_and_saturday_night
from tenants.services import contact_update, tenant_update_settings
from tests.factories import login_verified, make_incident, make_member, make_tenant, make_user

pytestmark = pytest.mark.django_db
LIST = reverse("tenants:contacts")
SETTINGS = reverse("tenants:settings")


@pytest.fixture(autouse=True)
def fast_passwords(settings: Any) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def client_for(tenant: Tenant, role: str = Role.ADMIN) -> Client:
    client = Client()
    login_verified(client, make_member(tenant, role))
    return client


def edit(client: Client, contact: Contact, **hours: str) -> Any:
    data = {
        "name": contact.name,
        "email": contact.email,
        "phone": contact.phone.as_e164,
        "channels": contact.channels,
        **hours,
    }
    if contact.can_authorize:
        data["can_authorize"] = "on"
    return client.post(reverse("tenants:contact_edit", args=[contact.pk]), data)


def weekdays_only(contact: Contact) -> None:
    windows = [Window(weekday=d, starts=time(8), ends=time(18)) for d in range(5)]
    contact_availability_set(contact=contact, by=None, windows=windows, away=[])


def test_an_admin_sets_weekly_hours_and_a_holiday_and_finds_them_kept_listed_and_audited() -> None:
    tenant = make_tenant(phones=2)
    tenant_update_settings(tenant=tenant, by=None, timezone="Europe/Paris")
    contact = tenant.contacts.order_by("call_order").last()
    client = client_for(tenant)

    response = edit(
        client,
        contact,
        windows="Mon-Fri 08:00-18:00\nSat 22:00-06:00",
        away="2026-12-21 until 2027-01-03 Skiing",
    )

    assert response.status_code == 302, response.content.decode()
    rows = AvailabilityWindow.objects.filter(contact=contact)
    assert sorted((w.weekday, w.starts, w.ends) for w in rows)[-1] == (Weekday.SATURDAY, time(22), time(6))
    assert rows.count() == 6
    holiday = AwayPeriod.objects.get(contact=contact)
    assert holiday.starts_at == datetime(2026, 12, 20, 23, tzinfo=UTC)  # midnight in Paris
    assert holiday.ends_at == datetime(2027, 1, 3, 23, tzinfo=UTC)
    assert holiday.note == "Skiing"
    change = SettingsChange.objects.get(tenant=tenant, field="availability")
    assert change.subject == contact.name
    assert change.after == {
        "windows": "Mon-Fri 08:00-18:00\nSat 22:00-06:00",
        "away": "2026-12-21 until 2027-01-03 Skiing",
    }
    form = client.get(reverse("tenants:contact_edit", args=[contact.pk])).context["hours"]
    assert form.initial == change.after
    listing = client.get(LIST).content.decode()
    assert "Mon-Fri 08:00-18:00, Sat 22:00-06:00" in listing
    assert "away 2026-12-21 until 2027-01-03 Skiing" in listing


def test_bad_hours_and_absences_are_refused_line_by_line_and_nothing_is_saved() -> None:
    tenant = make_tenant(phones=1)
    contact = tenant.contacts.get()
    client = client_for(tenant)

    response = edit(
        client,
        contact,
        name="Renamed",
        windows="Mon-Fri 08:00-18:00\nWeekdays 9 to 5",
        away="2026-12-21 until 2026-12-01",
    )

    assert response.status_code == 400
    form = response.context["hours"]
    assert form.errors["windows"] == [
        "Line 2 ('Weekdays 9 to 5'): write the days, then the hours, for example Mon-Fri 08:00-18:00 or "
        "Sat 22:00-06:00."
    ]
    assert form.errors["away"] == [
        "Line 1 ('2026-12-21 until 2026-12-01'): the absence must end after it starts."
    ]
    assert "Weekdays 9 to 5" in response.content.decode()  # what was typed is shown again
    assert not AvailabilityWindow.objects.filter(contact=contact).exists()
    contact.refresh_from_db()
    assert contact.name != "Renamed"  # all or nothing


def test_emptying_the_hours_makes_the_contact_available_at_any_time() -> None:
    tenant = make_tenant(phones=1)
    contact = tenant.contacts.get()
    weekdays_only(contact)

    response = edit(client_for(tenant), contact, windows="", away="")

    assert response.status_code == 302
    assert not AvailabilityWindow.objects.filter(contact=contact).exists()
    assert "any time" in client_for(tenant, Role.VIEWER).get(LIST).content.decode()


def test_a_viewer_cannot_change_a_contacts_hours() -> None:
    tenant = make_tenant(phones=1)
    contact = tenant.contacts.get()

    response = edit(client_for(tenant, Role.VIEWER), contact, windows="Mon 08:00-09:00")

    assert response.status_code == 403
    assert not AvailabilityWindow.objects.filter(contact=contact).exists()


def test_the_contacts_page_says_who_may_not_be_phoned_now_and_why() -> None:
    tenant = make_tenant(phones=2)
    first, second = tenant.contacts.order_by("call_order")
    now = timezone.now()
    contact_availability_set(
        contact=second,
        by=None,
        windows=[],
        away=[Away(now - timedelta(hours=1), now + timedelta(days=2), "Flu")],
    )

    html = client_for(tenant, Role.VIEWER).get(LIST).content.decode()

    row = html[html.index(second.name) :]
    assert "not now" in row[: row.index("</tr>")] and "(Flu)" in row[: row.index("</tr>")]
    first_row = html[html.index(first.name) : html.index(second.name)]
    assert "not now" not in first_row


def test_the_3_am_explanation_names_whom_we_would_phone_from_the_real_hours() -> None:
    tenant = make_tenant(phones=3, fallback=True)
    first, second, third = tenant.contacts.order_by("call_order")
    weekdays_only(second)
    client = client_for(tenant, Role.VIEWER)

    page = client.get(SETTINGS)

    now, night = page.context["reach"]
    assert night.phoned == (first.name, third.name)
    assert night.not_phoned == (
        (
            second.name,
            "outside their hours (Mon 08:00-18:00, Tue 08:00-18:00, "
            "Wed 08:00-18:00, Thu 08:00-18:00, Fri 08:00-18:00)",
        ),
    )
    local = timezone.localtime(night.at, timezone.get_fixed_timezone(0))
    assert (local.weekday(), local.time()) == (Weekday.SUNDAY, time(3))
    fallback = next(e for e in page.context["explanations"] if e.scenario == "collaborate-fallback")
    assert (
        f"after we have phoned {first.name} and {third.name}, the contacts available then"
        in fallback.headline
    )
    html = page.content.decode()
    assert "On Saturday night at 3 a.m." in html and f"Not phoned: {second.name} (outside their hours" in html


def test_with_nobody_available_on_saturday_night_the_explanation_says_nothing_falls_back() -> None:
    tenant = make_tenant(phones=1, fallback=True)
    weekdays_only(tenant.contacts.get())

    page = client_for(tenant, Role.VIEWER).get(SETTINGS)

    fallback = next(e for e in page.context["explanations"] if e.scenario == "collaborate-fallback")
    assert "none of your contacts may be phoned then: nothing falls back" in fallback.headline
    assert not [c for c in fallback.consequences if c.heading.startswith("MDR Ops performs")]
    assert "<strong>nobody</strong>" in page.content.decode()


def test_who_would_be_phoned_follows_the_tenant_clock() -> None:
    tenant = make_tenant(phones=1)
    tenant_update_settings(tenant=tenant, by=None, timezone="America/New_York")
    contact = tenant.contacts.get()
    night = [Window(weekday=Weekday.SUNDAY, starts=time(2), ends=time(4))]
    contact_availability_set(contact=contact, by=None, windows=night, away=[])
    tenant.refresh_from_db()

    # Wednesday 14 January 2026, noon in New York.
    now, saturday_night = reach_now_and_saturday_night(tenant, datetime(2026, 1, 14, 17, tzinfo=UTC))

    assert now.phoned == () and saturday_night.phoned == (contact.name,)
    assert saturday_night.at == datetime(2026, 1, 18, 8, tzinfo=UTC)  # Sunday 03:00 EST


def test_the_admin_shows_a_contacts_hours_and_absences() -> None:
    tenant = make_tenant(phones=1)
    weekdays_only(tenant.contacts.get())
    client = Client()
    login_verified(client, make_user("lead", staff=True, is_superuser=True))

    html = client.get(reverse("admin:tenants_tenant_change", args=[tenant.pk])).content.decode()

    assert "Mon-Fri 08:00-18:00; away: never" in html


def test_a_contact_who_chose_no_voice_calls_is_left_out_of_the_plan_and_named_with_the_reason() -> None:
    tenant = make_tenant(phones=2)
    first, second = tenant.contacts.order_by("call_order")
    contact_update(contact=second, by=None, channels=["sms", "email"])
    incident = make_incident(tenant)

    plan = plan_make(incident, purpose=RunPurpose.NOTIFY, at=timezone.now())

    assert [step["contact"] for step in plan.steps] == [first.pk]
    assert plan.unavailable == [{"contact": second.pk, "name": second.name, "why": NO_VOICE}]
    now, night = reach_now_and_saturday_night(tenant, timezone.now())
    assert now.phoned == night.phoned == (first.name,)
