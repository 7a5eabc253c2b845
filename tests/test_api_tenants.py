"""REST API: tenants and their settings, contacts, performers, customer logins and connectors."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient

from incidents.models import ConnectorConfig
from tenants.models import ActionPerformer, Contact, Role, SettingsChange, Tenant
from tenants.rules import FALLBACK_NEEDS_PHONE, LAST_PHONE_CONTACT
from tests.factories import (
    api_token,
    first_contact,
    make_analyst,
    make_member,
    make_partner,
    make_tenant,
    make_user,
)

pytestmark = pytest.mark.django_db

TENANT_FIELDS = {
    "id",
    "name",
    "slug",
    "tier",
    "response_mode",
    "authorize_on_no_ack",
    "timezone",
    "call_attempts_per_contact",
    "ring_timeout_seconds",
}
CONTACT_FIELDS = {
    "id",
    "name",
    "email",
    "phone",
    "call_order",
    "can_authorize",
    "active",
    "channels",
    "sms_opted_out_at",
}


def as_user(user: Any) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {api_token(user)}")
    return client


def make_lead(username: str = "lead") -> Any:
    return make_user(username, staff=True, group="MDR Leads")


# Tenants


def test_customers_list_only_their_tenants_and_staff_list_all() -> None:
    mine, other = make_tenant(), make_tenant()
    viewer = make_member(mine, Role.VIEWER)
    body = as_user(viewer).get("/api/v1/tenants/").json()
    assert body["count"] == 1
    assert [t["id"] for t in body["results"]] == [mine.pk]
    assert set(body["results"][0]) == TENANT_FIELDS
    staff_ids = {t["id"] for t in as_user(make_analyst()).get("/api/v1/tenants/").json()["results"]}
    assert {mine.pk, other.pk} <= staff_ids


def test_a_partner_user_sees_the_tenants_the_partner_serves() -> None:
    partner = make_partner()
    served, _not_served = make_tenant(partner=partner), make_tenant()
    user = make_user()
    partner.memberships.create(user=user, role=Role.VIEWER)
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
    }


def test_another_tenant_is_a_404() -> None:
    mine, other = make_tenant(), make_tenant()
    admin = make_member(mine, Role.ADMIN)
    client = as_user(admin)
    assert client.get(f"/api/v1/tenants/{other.pk}/").status_code == 404
    assert client.patch(f"/api/v1/tenants/{other.pk}/", {"response_mode": "authorize"}).status_code == 404
    other.refresh_from_db()
    assert other.response_mode == "collaborate"


def test_an_mdr_lead_creates_a_tenant_with_all_its_settings_audited() -> None:
    lead = make_lead()
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
    }
    fields = set(SettingsChange.objects.filter(tenant=tenant, actor=lead).values_list("field", flat=True))
    assert fields == {"created", "call_attempts_per_contact"}


@pytest.mark.parametrize("who", ["analyst", "customer_admin"])
def test_creating_a_tenant_needs_the_leads_permission(who: str) -> None:
    user = make_analyst() if who == "analyst" else make_member(make_tenant(), Role.ADMIN)
    response = as_user(user).post("/api/v1/tenants/", {"name": "X", "slug": "x"}, format="json")
    assert response.status_code == 403
    assert not Tenant.objects.filter(slug="x").exists()


def test_creating_a_tenant_with_bad_input_is_a_400_with_field_errors() -> None:
    make_tenant(slug="taken")
    client = as_user(make_lead())
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


def test_a_new_tenant_cannot_start_with_the_fallback_and_nothing_is_left_behind() -> None:
    response = as_user(make_lead()).post(
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


def test_a_customer_admin_changes_the_call_pace_and_time_zone_as_on_the_settings_page() -> None:
    tenant = make_tenant()
    admin = make_member(tenant, Role.ADMIN)
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


def test_mdr_staff_with_the_permission_change_any_setting_and_bad_values_are_400() -> None:
    tenant = make_tenant()
    client = as_user(make_lead())
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
    response = as_user(make_analyst()).patch(
        f"/api/v1/tenants/{tenant.pk}/", {"tier": "complete"}, format="json"
    )
    assert response.status_code == 403


def test_the_slug_is_not_changed_and_put_is_not_offered() -> None:
    tenant = make_tenant()
    client = as_user(make_lead())
    response = client.patch(f"/api/v1/tenants/{tenant.pk}/", {"slug": "renamed"}, format="json")
    assert response.status_code == 200
    assert response.json()["slug"] == tenant.slug
    assert client.put(f"/api/v1/tenants/{tenant.pk}/", {}, format="json").status_code == 405


# Contacts


def test_contacts_are_listed_in_call_order_to_everyone_in_the_tenant() -> None:
    tenant = make_tenant(phones=3)
    body = as_user(make_member(tenant, Role.VIEWER)).get(f"/api/v1/tenants/{tenant.pk}/contacts/").json()
    assert [c["call_order"] for c in body["results"]] == [1, 2, 3]
    assert set(body["results"][0]) == CONTACT_FIELDS
    assert body["results"][0]["phone"] == "+12025550100"


def test_another_tenants_contacts_are_a_404() -> None:
    mine, other = make_tenant(), make_tenant()
    client = as_user(make_member(mine, Role.ADMIN))
    assert client.get(f"/api/v1/tenants/{other.pk}/contacts/").status_code == 404
    response = client.post(f"/api/v1/tenants/{other.pk}/contacts/", {"name": "Spy"}, format="json")
    assert response.status_code == 404
    contact = first_contact(other)
    assert client.get(f"/api/v1/contacts/{contact.pk}/").status_code == 404
    assert (
        client.patch(f"/api/v1/contacts/{contact.pk}/", {"active": False}, format="json").status_code == 404
    )
    contact.refresh_from_db()
    assert contact.active


def test_a_customer_admin_adds_a_contact_last_with_its_phone_in_e164_and_audited() -> None:
    tenant = make_tenant(phones=2)
    admin = make_member(tenant, Role.ADMIN)
    response = as_user(admin).post(
        f"/api/v1/tenants/{tenant.pk}/contacts/",
        {
            "name": "Night shift",
            "email": "night@t.example",
            "phone": "+1 202 555 0199",
            "can_authorize": True,
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["phone"], body["call_order"], body["active"]) == ("+12025550199", 3, True)
    assert SettingsChange.objects.filter(
        tenant=tenant, field="contact", subject="Night shift", actor=admin
    ).exists()


def test_a_contact_added_at_a_place_in_the_call_order_shifts_the_others() -> None:
    tenant = make_tenant(phones=2)
    response = as_user(make_member(tenant, Role.ADMIN)).post(
        f"/api/v1/tenants/{tenant.pk}/contacts/",
        {"name": "First now", "email": "first@x.example", "call_order": 1},
        format="json",
    )
    assert response.status_code == 201
    assert response.json()["call_order"] == 1
    names = list(Contact.objects.filter(tenant=tenant).order_by("call_order").values_list("name", flat=True))
    assert names[0] == "First now" and len(names) == 3


def test_a_contact_with_a_bad_phone_or_email_is_a_400_and_not_added() -> None:
    tenant = make_tenant(phones=1)
    client = as_user(make_member(tenant, Role.ADMIN))
    response = client.post(
        f"/api/v1/tenants/{tenant.pk}/contacts/", {"name": "Bad", "phone": "555-0100"}, format="json"
    )
    assert response.status_code == 400
    assert set(response.json()) == {"phone"}
    response = client.post(
        f"/api/v1/tenants/{tenant.pk}/contacts/", {"name": "Bad", "email": "not-an-address"}, format="json"
    )
    assert response.status_code == 400
    assert set(response.json()) == {"email"}
    assert Contact.objects.filter(tenant=tenant).count() == 1


@pytest.mark.parametrize("role", [Role.VIEWER, Role.APPROVER])
def test_only_customer_admins_add_and_change_contacts(role: Role) -> None:
    tenant = make_tenant(phones=1)
    client = as_user(make_member(tenant, role))
    assert (
        client.post(f"/api/v1/tenants/{tenant.pk}/contacts/", {"name": "X"}, format="json").status_code == 403
    )
    contact = first_contact(tenant)
    assert client.patch(f"/api/v1/contacts/{contact.pk}/", {"name": "Y"}, format="json").status_code == 403
    assert client.get(f"/api/v1/contacts/{contact.pk}/").status_code == 200


def test_a_customer_admin_changes_and_moves_a_contact() -> None:
    tenant = make_tenant(phones=3)
    last = tenant.contacts.order_by("call_order").last()
    response = as_user(make_member(tenant, Role.ADMIN)).patch(
        f"/api/v1/contacts/{last.pk}/",
        {"name": "Renamed", "call_order": 1, "can_authorize": False},
        format="json",
    )
    assert response.status_code == 200, response.json()
    assert (response.json()["name"], response.json()["call_order"], response.json()["can_authorize"]) == (
        "Renamed",
        1,
        False,
    )
    assert list(tenant.contacts.order_by("call_order").values_list("call_order", flat=True)) == [1, 2, 3]


def test_removing_the_last_phone_while_the_fallback_is_on_is_a_400_and_nothing_changes() -> None:
    tenant = make_tenant(phones=1, fallback=True)
    contact = first_contact(tenant)
    response = as_user(make_member(tenant, Role.ADMIN)).patch(
        f"/api/v1/contacts/{contact.pk}/", {"active": False, "name": "Gone"}, format="json"
    )
    assert response.status_code == 400
    assert response.json() == {"non_field_errors": [LAST_PHONE_CONTACT]}
    contact.refresh_from_db()
    assert contact.active and contact.name != "Gone"


def test_a_contact_patch_with_a_bad_call_order_is_a_400() -> None:
    tenant = make_tenant(phones=1)
    response = as_user(make_member(tenant, Role.ADMIN)).patch(
        f"/api/v1/contacts/{first_contact(tenant).pk}/", {"call_order": 0}, format="json"
    )
    assert response.status_code == 400
    assert set(response.json()) == {"call_order"}


# Performers


def test_performers_list_every_action_type_with_mdr_as_the_default() -> None:
    tenant = make_tenant(performers={"disable_user": "customer"})
    rows = as_user(make_member(tenant)).get(f"/api/v1/tenants/{tenant.pk}/performers/").json()
    by_code = {row["action_type"]: row["performer"] for row in rows}
    assert by_code["disable_user"] == "customer"
    assert by_code["isolate_endpoint"] == "mdr"
    assert all(set(row) == {"action_type", "performer"} for row in rows)


def test_a_customer_admin_sets_performers_audited() -> None:
    tenant = make_tenant(partner=make_partner())
    admin = make_member(tenant, Role.ADMIN)
    response = as_user(admin).patch(
        f"/api/v1/tenants/{tenant.pk}/performers/",
        [
            {"action_type": "block_domain", "performer": "partner"},
            {"action_type": "disable_user", "performer": "customer"},
        ],
        format="json",
    )
    assert response.status_code == 200, response.json()
    by_code = {row["action_type"]: row["performer"] for row in response.json()}
    assert (by_code["block_domain"], by_code["disable_user"]) == ("partner", "customer")
    assert SettingsChange.objects.filter(tenant=tenant, field="performer", actor=admin).count() == 2


def test_performers_are_set_all_or_nothing_with_errors_per_row() -> None:
    tenant = make_tenant()  # no partner
    response = as_user(make_member(tenant, Role.ADMIN)).patch(
        f"/api/v1/tenants/{tenant.pk}/performers/",
        [
            {"action_type": "disable_user", "performer": "customer"},
            {"action_type": "block_domain", "performer": "partner"},
        ],
        format="json",
    )
    assert response.status_code == 400
    assert set(response.json()) == {"1"}
    assert set(response.json()["1"]) == {"performer"}
    assert not ActionPerformer.objects.filter(tenant=tenant).exists()


def test_performers_with_an_unknown_action_type_or_performer_are_a_400() -> None:
    tenant = make_tenant()
    response = as_user(make_member(tenant, Role.ADMIN)).patch(
        f"/api/v1/tenants/{tenant.pk}/performers/",
        [{"action_type": "launch_missiles", "performer": "robot"}],
        format="json",
    )
    assert response.status_code == 400
    assert set(response.json()["0"]) == {"action_type", "performer"}


def test_viewers_and_outsiders_do_not_set_performers() -> None:
    tenant, other = make_tenant(), make_tenant()
    body = [{"action_type": "disable_user", "performer": "customer"}]
    viewer = as_user(make_member(tenant, Role.VIEWER))
    assert viewer.patch(f"/api/v1/tenants/{tenant.pk}/performers/", body, format="json").status_code == 403
    outsider = as_user(make_member(other, Role.ADMIN))
    assert outsider.get(f"/api/v1/tenants/{tenant.pk}/performers/").status_code == 404
    assert outsider.patch(f"/api/v1/tenants/{tenant.pk}/performers/", body, format="json").status_code == 404
    assert not ActionPerformer.objects.filter(tenant=tenant).exists()


# Customer logins


def test_an_mdr_lead_creates_a_customer_login_that_can_get_a_token() -> None:
    tenant = make_tenant()
    response = as_user(make_lead()).post(
        f"/api/v1/tenants/{tenant.pk}/users/",
        {
            "username": "jane",
            "email": "jane@t.example",
            "password": "a-Long-passphrase-42",
            "role": "approver",
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    user = get_user_model().objects.get(username="jane")
    assert response.json() == {
        "id": user.pk,
        "username": "jane",
        "email": "jane@t.example",
        "role": "approver",
    }
    assert not user.is_staff
    token = APIClient().post(
        "/api/v1/auth/token/", {"username": "jane", "password": "a-Long-passphrase-42"}, format="json"
    )
    assert token.status_code == 200


def test_a_customer_login_with_a_weak_password_taken_username_or_bad_role_is_a_400() -> None:
    tenant = make_tenant()
    make_user("taken")
    client = as_user(make_lead())
    url = f"/api/v1/tenants/{tenant.pk}/users/"
    response = client.post(url, {"username": "bob", "password": "password", "role": "viewer"}, format="json")
    assert response.status_code == 400
    assert set(response.json()) == {"password"}
    response = client.post(
        url, {"username": "taken", "password": "a-Long-passphrase-42", "role": "viewer"}, format="json"
    )
    assert response.status_code == 400
    assert set(response.json()) == {"username"}
    response = client.post(
        url, {"username": "carol", "password": "a-Long-passphrase-42", "role": "owner"}, format="json"
    )
    assert response.status_code == 400
    assert set(response.json()) == {"role"}
    assert not get_user_model().objects.filter(username__in=["bob", "carol"]).exists()


def test_only_mdr_staff_with_the_permission_create_customer_logins() -> None:
    tenant, other = make_tenant(), make_tenant()
    body = {"username": "mallory", "password": "a-Long-passphrase-42", "role": "admin"}
    url = f"/api/v1/tenants/{tenant.pk}/users/"
    assert as_user(make_member(tenant, Role.ADMIN)).post(url, body, format="json").status_code == 403
    assert as_user(make_analyst()).post(url, body, format="json").status_code == 403
    assert as_user(make_member(other, Role.ADMIN)).post(url, body, format="json").status_code == 404
    assert not get_user_model().objects.filter(username="mallory").exists()


def test_customer_admins_read_their_logins_and_viewers_do_not() -> None:
    tenant = make_tenant()
    admin = make_member(tenant, Role.ADMIN, username="amy")
    make_member(tenant, Role.VIEWER, username="vic")
    body = as_user(admin).get(f"/api/v1/tenants/{tenant.pk}/users/").json()
    assert [(u["username"], u["role"]) for u in body["results"]] == [("amy", "admin"), ("vic", "viewer")]
    assert "password" not in body["results"][0]
    viewer = get_user_model().objects.get(username="vic")
    assert as_user(viewer).get(f"/api/v1/tenants/{tenant.pk}/users/").status_code == 403


# Connector


SECRET = "s3cr3t-signing-key-never-shown"


def test_an_mdr_lead_sets_a_webhook_connector_and_the_secret_is_never_returned() -> None:
    tenant = make_tenant()
    client = as_user(make_lead())
    url = f"/api/v1/tenants/{tenant.pk}/connector/"
    response = client.put(
        url, {"kind": "webhook", "url": "https://hooks.example.com/mdr", "secret": SECRET}, format="json"
    )
    assert response.status_code == 200, response.json()
    assert SECRET not in response.content.decode()
    body = response.json()
    assert (body["kind"], body["url"], body["has_secret"]) == (
        "webhook",
        "https://hooks.example.com/mdr",
        True,
    )
    assert "secret" not in body
    assert ConnectorConfig.objects.get(tenant=tenant).secret == SECRET
    shown = client.get(url)
    assert SECRET not in shown.content.decode() and "secret" not in shown.json()
    # Leaving the secret out keeps the stored one.
    response = client.put(url, {"kind": "webhook", "url": "https://hooks.example.com/v2"}, format="json")
    assert response.status_code == 200
    assert ConnectorConfig.objects.get(tenant=tenant).secret == SECRET
    audit = SettingsChange.objects.filter(tenant=tenant, field="connector")
    assert audit.exists() and SECRET not in str(list(audit.values_list("before", "after")))


def test_a_tenant_without_a_connector_reads_as_simulated() -> None:
    tenant = make_tenant()
    body = as_user(make_analyst()).get(f"/api/v1/tenants/{tenant.pk}/connector/").json()
    assert (body["kind"], body["has_secret"], body["updated_at"]) == ("simulated", False, None)


def test_a_connector_missing_what_its_kind_needs_is_a_400() -> None:
    tenant = make_tenant()
    response = as_user(make_lead()).put(
        f"/api/v1/tenants/{tenant.pk}/connector/", {"kind": "sophos_central"}, format="json"
    )
    assert response.status_code == 400
    assert set(response.json()) == {"url", "client_id", "external_tenant_id", "secret"}
    assert not ConnectorConfig.objects.filter(tenant=tenant).exists()
    response = as_user(make_lead("lead2")).put(
        f"/api/v1/tenants/{tenant.pk}/connector/", {"kind": "teleport"}, format="json"
    )
    assert response.status_code == 400 and set(response.json()) == {"kind"}


def test_only_mdr_staff_see_and_set_connectors() -> None:
    tenant, other = make_tenant(), make_tenant()
    url = f"/api/v1/tenants/{tenant.pk}/connector/"
    body = {"kind": "webhook", "url": "https://evil.example.com/", "secret": "x"}
    customer_admin = as_user(make_member(tenant, Role.ADMIN))
    assert customer_admin.get(url).status_code == 403
    assert customer_admin.put(url, body, format="json").status_code == 403
    analyst = as_user(make_analyst())
    assert analyst.get(url).status_code == 200
    assert analyst.put(url, body, format="json").status_code == 403
    assert as_user(make_member(other, Role.ADMIN)).get(url).status_code == 404
    assert not ConnectorConfig.objects.filter(tenant=tenant).exists()
