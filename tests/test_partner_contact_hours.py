"""A partner's own pages and API show its contacts and when its call tree may phone them; its admins change
each contact's hours and away dates (on the partner's clock), its viewers only read them, other partners and
customers never see them, and a bad line changes nothing."""

from __future__ import annotations

from datetime import time, timedelta

import pytest

from tenants.availability import Availability
from tenants.models import AvailabilityWindow, Contact, Partner, Role
from tenants.services import contact_create
from tests.credentials import api_client_for
from tests.factories import make_member, make_partner, make_partner_user, make_tenant
from tests.web_sessions import session_client_for

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_passwords")]

FRESH = timedelta(minutes=1)
HOURS = {"windows": [{"weekday": 0, "starts": "08:00", "ends": "18:00"}]}


def _partner() -> tuple[Partner, Contact]:
    partner = make_partner("acme")
    partner.timezone = "Europe/Paris"
    partner.save(update_fields=["timezone"])
    return partner, contact_create(partner=partner, by=None, name="Desk", phone="+12025550150")


def _hours(contact: Contact) -> list[tuple[int, time, time]]:
    return [(w.weekday, w.starts, w.ends) for w in Availability.of(contact).windows]


def test_the_api_lets_a_partner_s_admins_set_a_contact_s_hours_and_its_viewers_read_them() -> None:
    partner, desk = _partner()
    url = f"/api/v1/partners/acme/contacts/{desk.pk}/availability/"
    admin = api_client_for(make_partner_user(partner, Role.ADMIN), second_factor_age=FRESH)
    viewer = api_client_for(make_partner_user(partner, Role.VIEWER), second_factor_age=FRESH)
    outsider = api_client_for(make_partner_user(make_partner("globex"), Role.ADMIN), second_factor_age=FRESH)
    customer = api_client_for(make_member(make_tenant(partner=partner), Role.ADMIN), second_factor_age=FRESH)

    assert viewer.patch(url, HOURS, format="json").status_code == 403
    for stranger in (outsider, customer):
        assert stranger.patch(url, HOURS, format="json").status_code == 404
        assert stranger.get("/api/v1/partners/acme/contacts/").status_code == 404
    bad = admin.patch(url, {"windows": [{"weekday": 9, "starts": "08:00", "ends": "18:00"}]}, format="json")
    assert bad.status_code == 400 and "windows" in bad.json()
    assert not AvailabilityWindow.objects.exists()

    done = admin.patch(url, HOURS, format="json")

    assert done.status_code == 200, done.content
    assert _hours(desk) == [(0, time(8), time(18))]
    (listed,) = viewer.get("/api/v1/partners/acme/contacts/").json()
    assert listed["id"] == desk.pk and listed["time_zone"] == "Europe/Paris"
    assert listed["windows"] == [{"weekday": 0, "starts": "08:00:00", "ends": "18:00:00"}]


def test_a_contact_of_another_partner_is_not_found_through_this_one() -> None:
    partner, _ = _partner()
    other = contact_create(partner=make_partner("globex"), by=None, name="Theirs", phone="+12025550151")
    admin = api_client_for(make_partner_user(partner, Role.ADMIN), second_factor_age=FRESH)
    url = f"/api/v1/partners/acme/contacts/{other.pk}/availability/"
    assert admin.patch(url, HOURS, format="json").status_code == 404
    assert not AvailabilityWindow.objects.exists()


def test_the_contacts_page_lets_a_partner_s_admins_set_hours_and_away_dates() -> None:
    partner, desk = _partner()
    page_url, post_url = "/partners/acme/contacts/", f"/partners/acme/contacts/{desk.pk}/availability/"
    admin = session_client_for(make_partner_user(partner, Role.ADMIN), second_factor_age=FRESH)
    viewer = session_client_for(make_partner_user(partner, Role.VIEWER), second_factor_age=FRESH)
    outsider = session_client_for(
        make_partner_user(make_partner("globex"), Role.ADMIN), second_factor_age=FRESH
    )
    lines = {
        f"c{desk.pk}-windows": "Mon-Fri 08:00-18:00",
        f"c{desk.pk}-away": "2026-12-21 until 2027-01-03 Ski",
    }

    shown = viewer.get(page_url)
    assert shown.status_code == 200 and b"Desk" in shown.content and b"Europe/Paris" in shown.content
    assert b"availability/" not in shown.content  # a viewer gets no form
    assert viewer.post(post_url, lines).status_code == 403
    assert outsider.get(page_url).status_code == 404 and outsider.post(post_url, lines).status_code == 404
    bad = admin.post(post_url, {f"c{desk.pk}-windows": "Someday 25:00-26:00"})
    assert bad.status_code == 400 and not AvailabilityWindow.objects.exists()

    done = admin.post(post_url, lines)

    assert done.status_code == 302
    assert _hours(desk) == [(day, time(8), time(18)) for day in range(5)]
    (away,) = Availability.of(desk).away
    assert away.note == "Ski" and away.starts_at.isoformat().startswith("2026-12-20T23:00")  # Paris midnight
    assert b"Mon-Fri 08:00-18:00" in admin.get(page_url).content
