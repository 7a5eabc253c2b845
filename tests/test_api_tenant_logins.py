"""REST API: customer logins made by MDR leads, and a tenant's connector with its secret never shown."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient

from incidents.connector_models import ConnectorConfig
from mdrportal.api.auth import NOT_ENROLLED
from tenants.models import Role, SettingsChange
from tests.factories import as_user, make_lead, make_member, make_tenant, make_user

pytestmark = pytest.mark.django_db


# Customer logins


def test_an_mdr_lead_creates_a_customer_login_whose_token_waits_for_a_second_factor(lead: Any) -> None:
    tenant = make_tenant()
    response = as_user(lead).post(
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
    # The password is right; an approver sets up an authenticator (at the first sign-in) before any token.
    assert token.status_code == 400 and token.json() == {"otp": [NOT_ENROLLED]}


def test_a_customer_login_with_a_weak_password_taken_username_or_bad_role_is_a_400(lead: Any) -> None:
    tenant = make_tenant()
    make_user("taken")
    client = as_user(lead)
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


def test_only_mdr_staff_with_the_permission_create_customer_logins(analyst: Any) -> None:
    tenant, other = make_tenant(), make_tenant()
    body = {"username": "mallory", "password": "a-Long-passphrase-42", "role": "admin"}
    url = f"/api/v1/tenants/{tenant.pk}/users/"
    assert as_user(make_member(tenant, Role.ADMIN)).post(url, body, format="json").status_code == 403
    assert as_user(analyst).post(url, body, format="json").status_code == 403
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


def test_an_mdr_lead_sets_a_webhook_connector_and_the_secret_is_never_returned(lead: Any) -> None:
    tenant = make_tenant()
    client = as_user(lead)
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


def test_a_tenant_without_a_connector_reads_as_simulated(analyst: Any) -> None:
    tenant = make_tenant()
    body = as_user(analyst).get(f"/api/v1/tenants/{tenant.pk}/connector/").json()
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


def test_only_mdr_staff_see_and_set_connectors(analyst: Any) -> None:
    tenant, other = make_tenant(), make_tenant()
    url = f"/api/v1/tenants/{tenant.pk}/connector/"
    body = {"kind": "webhook", "url": "https://evil.example.com/", "secret": "x"}
    customer_admin = as_user(make_member(tenant, Role.ADMIN))
    assert customer_admin.get(url).status_code == 403
    assert customer_admin.put(url, body, format="json").status_code == 403
    staff = as_user(analyst)
    assert staff.get(url).status_code == 200
    assert staff.put(url, body, format="json").status_code == 403
    assert as_user(make_member(other, Role.ADMIN)).get(url).status_code == 404
    assert not ConnectorConfig.objects.filter(tenant=tenant).exists()
