"""REST API: tenants and their settings, who reads and changes them, every change audited."""

from __future__ import annotations

from typing import Any

import pytest

from tenants.models import Role, SettingsChange, Tenant
from tenants.rules import FALLBACK_NEEDS_PHONE
from tests.factories import (
    as_user,
    make_analyst,
    make_member,
    make_partner,
    make_partner_user,
    make_tenant,
)

pytestmark = pytest.mark.django_db


# Tenants


def test_customers_list_only_their_tenants_and_staff_list_all() -> None:
    mine, other = make_tenant(), make_tenant()
    viewer = make_member(mine, Role.VIEWER)
    body = as_user(viewer).get("/api/v1/tenants/").json()
    assert body["count"] == 1
    assert [t["id"] for t in body["results"]] == [mine.pk]
    # a row of the list reads as the tenant itself (its fields are pinned by the contract test below)
    assert body["results"] == [as_user(viewer).get(f"/api/v1/tenants/{mine.pk}/").json()]
    staff_ids = {t["id"] for t in as_user(make_analyst()).get("/api/v1/tenants/").json()["results"]}
    assert {mine.pk, other.pk} <= staff_ids


def test_a_partner_user_sees_the_tenants_the_partner_serves() -> None:
    partner = make_partner()
    served, _not_served = make_tenant(partner=partner), make_tenant()
    user = make_partner_user(partner)
    body = as_user(user).get("/api/v1/tenants/").json()
    assert [t["id"] for t in body["results"]] == [served.pk]


def test_a_tenant_reads_with_the_contract_values() -> None:
    tenant = make_tenant(tier="essentials", mode="authorize")
    body = as_user(make_member(tenant)).get(f"/api/v1/tenants/{tenant.pk}/").json()
    assert body == {
        "id": tenant.pk,
        "name": tenant.name,
        "slug": tenant.slug,
        "tier": "essentials",
        "response_mode": "authorize",
        "authorize_on_no_ack": False,
        "timezone": "UTC",
        "call_attempts_per_contact": 1,
        "ring_timeout_seconds": 30,
        "reminder_minutes": 15,
        "reminder_count": 4,
    }


def test_another_tenant_is_a_404() -> None:
    mine, other = make_tenant(), make_tenant()
    admin = make_member(mine, Role.ADMIN)
    client = as_user(admin)
    assert client.get(f"/api/v1/tenants/{other.pk}/").status_code == 404
    assert client.patch(f"/api/v1/tenants/{other.pk}/", {"response_mode": "authorize"}).status_code == 404
    other.refresh_from_db()
    assert other.response_mode == "collaborate"


def test_an_mdr_lead_creates_a_tenant_with_all_its_settings_audited(lead: Any) -> None:
    response = as_user(lead).post(
        "/api/v1/tenants/",
        {
            "name": "Gamma Labs",
            "slug": "gamma-labs",
            "tier": "complete",
            "response_mode": "authorize",
            "timezone": "Europe/Paris",
            "call_attempts_per_contact": 2,
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    tenant = Tenant.objects.get(slug="gamma-labs")
    assert response.json() == {
        "id": tenant.pk,
        "name": "Gamma Labs",
        "slug": "gamma-labs",
        "tier": "complete",
        "response_mode": "authorize",
        "authorize_on_no_ack": False,
        "timezone": "Europe/Paris",
        "call_attempts_per_contact": 2,
        "ring_timeout_seconds": 30,
        "reminder_minutes": 15,
        "reminder_count": 4,
    }
    fields = set(SettingsChange.objects.filter(tenant=tenant, actor=lead).values_list("field", flat=True))
    assert fields == {"created", "call_attempts_per_contact"}


@pytest.mark.parametrize("who", ["analyst", "customer_admin"])
def test_creating_a_tenant_needs_the_leads_permission(who: str, analyst: Any) -> None:
    user = analyst if who == "analyst" else make_member(make_tenant(), Role.ADMIN)
    response = as_user(user).post("/api/v1/tenants/", {"name": "X", "slug": "x"}, format="json")
    assert response.status_code == 403
    assert not Tenant.objects.filter(slug="x").exists()


def test_creating_a_tenant_with_bad_input_is_a_400_with_field_errors(lead: Any) -> None:
    make_tenant(slug="taken")
    client = as_user(lead)
    response = client.post(
        "/api/v1/tenants/", {"name": "", "slug": "not a slug", "tier": "platinum"}, format="json"
    )
    assert response.status_code == 400
    assert set(response.json()) == {"name", "slug", "tier"}
    # Checked by the service, inside its transaction.
    response = client.post("/api/v1/tenants/", {"name": "Dup", "slug": "taken"}, format="json")
    assert response.status_code == 400
    assert set(response.json()) == {"slug"}
    response = client.post(
        "/api/v1/tenants/", {"name": "Zone", "slug": "zone", "timezone": "Mars/Olympus"}, format="json"
    )
    assert response.status_code == 400
    assert set(response.json()) == {"timezone"}


def test_a_new_tenant_cannot_start_with_the_fallback_and_nothing_is_left_behind(lead: Any) -> None:
    response = as_user(lead).post(
        "/api/v1/tenants/", {"name": "Eager", "slug": "eager", "authorize_on_no_ack": True}, format="json"
    )
    assert response.status_code == 400
    assert response.json() == {"authorize_on_no_ack": [FALLBACK_NEEDS_PHONE]}
    assert not Tenant.objects.filter(slug="eager").exists()


def test_a_customer_admin_ticks_the_fallback_and_it_is_audited() -> None:
    tenant = make_tenant(phones=1)
    admin = make_member(tenant, Role.ADMIN)
    response = as_user(admin).patch(
        f"/api/v1/tenants/{tenant.pk}/", {"authorize_on_no_ack": True}, format="json"
    )
    assert response.status_code == 200, response.json()
    assert response.json()["authorize_on_no_ack"] is True
    change = SettingsChange.objects.get(tenant=tenant, field="authorize_on_no_ack")
    assert (change.actor, change.before, change.after) == (admin, False, True)


def test_the_fallback_without_a_phone_contact_is_refused_with_the_settings_pages_message() -> None:
    tenant = make_tenant(phones=0)
    response = as_user(make_member(tenant, Role.ADMIN)).patch(
        f"/api/v1/tenants/{tenant.pk}/", {"authorize_on_no_ack": True}, format="json"
    )
    assert response.status_code == 400
    assert response.json() == {"authorize_on_no_ack": [FALLBACK_NEEDS_PHONE]}
    tenant.refresh_from_db()
    assert tenant.authorize_on_no_ack is False


@pytest.mark.parametrize("role", [Role.VIEWER, Role.APPROVER])
def test_only_customer_admins_change_settings(role: Role) -> None:
    tenant = make_tenant()
    response = as_user(make_member(tenant, role)).patch(
        f"/api/v1/tenants/{tenant.pk}/", {"response_mode": "authorize"}, format="json"
    )
    assert response.status_code == 403
    tenant.refresh_from_db()
    assert tenant.response_mode == "collaborate"


def test_a_customer_admin_changes_the_call_pace_and_time_zone_as_on_the_settings_page(
    tenant: Tenant, customer_admin: Any
) -> None:
    admin = customer_admin
    response = as_user(admin).patch(
        f"/api/v1/tenants/{tenant.pk}/",
        {"call_attempts_per_contact": 3, "ring_timeout_seconds": 20, "timezone": "Europe/Oslo"},
        format="json",
    )
    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["call_attempts_per_contact"], body["ring_timeout_seconds"], body["timezone"]) == (
        3,
        20,
        "Europe/Oslo",
    )
    fields = set(SettingsChange.objects.filter(tenant=tenant, actor=admin).values_list("field", flat=True))
    assert fields == {"call_attempts_per_contact", "ring_timeout_seconds", "timezone"}


def test_a_customer_admin_cannot_change_the_tier_or_name_but_may_echo_them_back() -> None:
    tenant = make_tenant(tier="essentials")
    client = as_user(make_member(tenant, Role.ADMIN))
    response = client.patch(
        f"/api/v1/tenants/{tenant.pk}/", {"tier": "complete", "name": "Renamed"}, format="json"
    )
    assert response.status_code == 403
    assert response.json()["detail"].startswith("Only MDR staff change name, tier;")
    tenant.refresh_from_db()
    assert (tenant.tier, tenant.name) != ("complete", "Renamed")
    whole = client.get(f"/api/v1/tenants/{tenant.pk}/").json()
    response = client.patch(
        f"/api/v1/tenants/{tenant.pk}/", {**whole, "response_mode": "authorize"}, format="json"
    )
    assert response.status_code == 200, response.json()
    assert response.json()["response_mode"] == "authorize"
    assert response.json()["tier"] == "essentials"


def test_mdr_staff_with_the_permission_change_any_setting_and_bad_values_are_400(
    analyst: Any, lead: Any
) -> None:
    tenant = make_tenant()
    client = as_user(lead)
    response = client.patch(
        f"/api/v1/tenants/{tenant.pk}/", {"tier": "essentials", "ring_timeout_seconds": 45}, format="json"
    )
    assert response.status_code == 200
    assert (response.json()["tier"], response.json()["ring_timeout_seconds"]) == ("essentials", 45)
    response = client.patch(
        f"/api/v1/tenants/{tenant.pk}/", {"ring_timeout_seconds": 5, "response_mode": "maybe"}, format="json"
    )
    assert response.status_code == 400
    assert set(response.json()) == {"ring_timeout_seconds", "response_mode"}
    # An analyst reads tenants but does not change them.
    response = as_user(analyst).patch(f"/api/v1/tenants/{tenant.pk}/", {"tier": "complete"}, format="json")
    assert response.status_code == 403


def test_the_slug_is_not_changed_and_put_is_not_offered(lead: Any) -> None:
    tenant = make_tenant()
    client = as_user(lead)
    response = client.patch(f"/api/v1/tenants/{tenant.pk}/", {"slug": "renamed"}, format="json")
    assert response.status_code == 200
    assert response.json()["slug"] == tenant.slug
    assert client.put(f"/api/v1/tenants/{tenant.pk}/", {}, format="json").status_code == 405
