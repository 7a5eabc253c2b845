"""Times people can read: every page shows times in the reader's zone, named, to the second where order
matters; the zone is the person's own choice, else the customer's, else the portal's."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from incidents.models import EventKind, TimelineEvent
from tenants.models import Role
from tenants.preferences import user_time_zone_set
from tests.factories import as_user, login_verified, make_incident, make_member, make_tenant, portal

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_passwords")]

AT = datetime(2026, 12, 6, 2, 14, 7, tzinfo=UTC)


def incident_with_event_at_a_known_time() -> Any:
    incident = make_incident(make_tenant())
    TimelineEvent.objects.create(
        incident=incident,
        kind=EventKind.INCIDENT_STATUS,
        summary="Seen on FS-01",
        actor_label="MDR Ops",
        at=AT,
    )
    return incident


def page(user: Any, incident: Any) -> str:
    return portal(user).get(reverse("incidents:detail", args=[incident.pk])).content.decode()


def test_two_readers_read_the_same_event_in_their_own_zones_named() -> None:
    incident = incident_with_event_at_a_known_time()
    new_york, berlin = make_member(incident.tenant), make_member(incident.tenant)
    user_time_zone_set(user=new_york, time_zone="America/New_York")
    user_time_zone_set(user=berlin, time_zone="Europe/Berlin")

    assert "2026-12-05 21:14:07 EST" in page(new_york, incident)
    assert "2026-12-06 03:14:07 CET" in page(berlin, incident)


def test_a_reader_without_a_choice_reads_the_customers_zone() -> None:
    incident = incident_with_event_at_a_known_time()
    incident.tenant.timezone = "Asia/Tokyo"
    incident.tenant.save(update_fields=["timezone"])
    viewer = make_member(incident.tenant, Role.VIEWER)

    assert "2026-12-06 11:14:07 JST" in page(viewer, incident)


def test_the_account_page_sets_the_zone_and_refuses_a_name_that_is_no_zone() -> None:
    viewer = make_member(make_tenant())
    client = portal(viewer)

    refused = client.post(reverse("account"), {"time_zone": "Europe/Atlantis"})
    assert refused.status_code == 400 and "not a known time zone" in refused.content.decode()

    saved = client.post(reverse("account"), {"time_zone": "Europe/Berlin"})
    assert saved.status_code == 302
    assert "You chose Europe/Berlin" in client.get(reverse("account")).content.decode()


def test_the_api_reads_and_changes_ones_own_zone_and_refuses_a_bad_name() -> None:
    tenant = make_tenant()
    tenant.timezone = "Europe/Paris"
    tenant.save(update_fields=["timezone"])
    api = as_user(make_member(tenant, Role.ADMIN))

    assert api.get("/api/v1/auth/profile/").json()["time_zone_in_use"] == "Europe/Paris"
    bad = api.patch("/api/v1/auth/profile/", {"time_zone": "Not/AZone"}, format="json")
    assert bad.status_code == 400 and set(bad.json()) == {"time_zone"}
    good = api.patch("/api/v1/auth/profile/", {"time_zone": "America/New_York"}, format="json").json()
    assert (good["time_zone"], good["time_zone_in_use"]) == ("America/New_York", "America/New_York")


def test_mdr_staff_without_a_customer_read_the_admin_in_the_portals_zone_named(
    analyst_client: Any, analyst: Any
) -> None:
    incident = incident_with_event_at_a_known_time()
    change = reverse("admin:incidents_incident_change", args=[incident.pk])
    assert "2026-12-06 02:14:07 UTC" in analyst_client.get(change).content.decode()

    user_time_zone_set(user=analyst, time_zone="Europe/Berlin")
    fresh = Client()  # a session keeps the zone it read for minutes; a new one reads the choice at once
    login_verified(fresh, analyst)
    assert "2026-12-06 03:14:07 CET" in fresh.get(change).content.decode()
