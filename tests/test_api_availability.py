"""A contact's availability through /api/v1/: weekly windows and away periods read and replaced with the
contact, named in the schema, refused with field errors when bad, and only by those who may."""

from __future__ import annotations

from datetime import UTC, datetime, time

import pytest

from tenants.availability import Window
from tenants.availability_services import contact_availability_set
from tenants.models import AvailabilityWindow, AwayPeriod, Role, SettingsChange
from tests.factories import as_user, first_contact, make_lead, make_member, make_tenant

pytestmark = pytest.mark.django_db


def test_a_customer_admin_replaces_a_contacts_windows_and_absences_and_reads_them_back() -> None:
    tenant = make_tenant(phones=2)
    contact = first_contact(tenant)
    admin = make_member(tenant, Role.ADMIN)

    response = as_user(admin).patch(
        f"/api/v1/contacts/{contact.pk}/",
        {
            "windows": [{"weekday": 5, "starts": "22:00", "ends": "06:00"}],
            "away_periods": [
                {"starts_at": "2026-12-21T00:00:00Z", "ends_at": "2027-01-04T00:00:00Z", "note": "Skiing"}
            ],
        },
        format="json",
    )

    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["windows"] == [{"weekday": 5, "starts": "22:00:00", "ends": "06:00:00"}]
    assert body["away_periods"][0]["note"] == "Skiing"
    window = AvailabilityWindow.objects.get(contact=contact)
    assert (window.weekday, window.starts, window.ends) == (5, time(22), time(6))
    assert AwayPeriod.objects.get(contact=contact).ends_at == datetime(2027, 1, 4, tzinfo=UTC)
    assert SettingsChange.objects.filter(tenant=tenant, field="availability", actor=admin).exists()
    listed = as_user(make_member(tenant, Role.VIEWER)).get(f"/api/v1/tenants/{tenant.pk}/contacts/").json()
    assert listed["results"][0]["windows"] == body["windows"]
    assert listed["results"][1]["windows"] == [] and listed["results"][1]["away_periods"] == []


def test_a_change_of_one_list_keeps_the_other_and_an_empty_list_means_any_time() -> None:
    tenant = make_tenant(phones=1)
    contact = first_contact(tenant)
    contact_availability_set(
        contact=contact, by=None, windows=[Window(weekday=0, starts=time(8), ends=time(18))], away=[]
    )
    client = as_user(make_member(tenant, Role.ADMIN))

    kept = client.patch(f"/api/v1/contacts/{contact.pk}/", {"name": "Renamed"}, format="json").json()
    assert kept["windows"] == [{"weekday": 0, "starts": "08:00:00", "ends": "18:00:00"}]
    emptied = client.patch(f"/api/v1/contacts/{contact.pk}/", {"windows": []}, format="json").json()
    assert emptied["windows"] == [] and emptied["name"] == "Renamed"
    assert not AvailabilityWindow.objects.filter(contact=contact).exists()


def test_a_contact_created_with_its_hours_keeps_them() -> None:
    tenant = make_tenant(phones=1)
    response = as_user(make_lead()).post(
        f"/api/v1/tenants/{tenant.pk}/contacts/",
        {
            "name": "Night shift",
            "phone": "+12025550199",
            "windows": [{"weekday": 6, "starts": "00:00", "ends": "00:00"}],
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    assert response.json()["windows"] == [{"weekday": 6, "starts": "00:00:00", "ends": "00:00:00"}]


def test_bad_windows_and_absences_are_a_400_with_field_errors_and_nothing_changes() -> None:
    tenant = make_tenant(phones=1)
    contact = first_contact(tenant)
    client = as_user(make_member(tenant, Role.ADMIN))

    response = client.patch(
        f"/api/v1/contacts/{contact.pk}/",
        {
            "name": "Renamed",
            "windows": [{"weekday": 7, "starts": "8 o'clock", "ends": "18:00"}],
            "away_periods": [{"starts_at": "2026-12-21T00:00:00Z", "ends_at": "2026-12-20T00:00:00Z"}],
        },
        format="json",
    )

    assert response.status_code == 400
    errors = response.json()
    assert set(errors) == {"windows", "away_periods"}
    # Errors of a list item are keyed by its index.
    assert set(errors["windows"]["0"]) == {"weekday", "starts"}
    assert errors["away_periods"]["0"] == {"ends_at": ["An away period must end after it starts."]}
    contact.refresh_from_db()
    assert contact.name != "Renamed"
    assert not AvailabilityWindow.objects.filter(contact=contact).exists()


def test_a_viewer_cannot_change_a_contacts_hours() -> None:
    tenant = make_tenant(phones=1)
    contact = first_contact(tenant)
    response = as_user(make_member(tenant, Role.VIEWER)).patch(
        f"/api/v1/contacts/{contact.pk}/", {"windows": []}, format="json"
    )
    assert response.status_code == 403


def test_the_schema_names_the_availability_fields() -> None:
    schema = as_user(make_lead()).get("/api/schema/?format=json").json()
    contact = schema["components"]["schemas"]["Contact"]["properties"]
    assert {"windows", "away_periods"} <= set(contact)
    window = schema["components"]["schemas"]["AvailabilityWindow"]["properties"]
    assert set(window) == {"weekday", "starts", "ends"}
    away = schema["components"]["schemas"]["AwayPeriod"]["properties"]
    assert set(away) == {"starts_at", "ends_at", "note"}


@pytest.mark.parametrize(
    ("field", "item", "missing"),
    [
        ("away_periods", {"ends_at": "2026-12-20T00:00:00Z", "note": ""}, {"starts_at"}),
        ("away_periods", {"note": "Skiing"}, {"starts_at", "ends_at"}),
        ("windows", {"weekday": 1, "ends": "18:00"}, {"starts"}),
        ("windows", {}, {"weekday", "starts", "ends"}),
    ],
)
def test_a_patch_with_an_incomplete_item_is_a_400_naming_the_missing_fields(
    field: str, item: dict, missing: set[str]
) -> None:
    """An item replaces a whole entry: a partial update does not make it partial (it raised KeyError)."""
    tenant = make_tenant(phones=1)
    contact = first_contact(tenant)
    client = as_user(make_member(tenant, Role.ADMIN))

    response = client.patch(f"/api/v1/contacts/{contact.pk}/", {field: [item]}, format="json")

    assert response.status_code == 400, response.content
    assert set(response.json()[field]["0"]) == missing
    assert not AvailabilityWindow.objects.filter(contact=contact).exists()
    assert not AwayPeriod.objects.filter(contact=contact).exists()
