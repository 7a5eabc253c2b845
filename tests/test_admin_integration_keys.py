"""Integration keys in the admin: an MDR lead creates one and sees it once; an analyst may not; a key is
revoked, never edited or deleted."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.contrib.admin.models import LogEntry
from django.test import Client
from django.urls import reverse
from django.utils.html import escape

from tenants.models import IntegrationKey
from tests.factories import as_key, login_verified, make_integration_key, make_tenant
from tests.test_api_integration_keys import every_stored_value

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_passwords")]
ADD = reverse("admin:tenants_integrationkey_add")
CHANGELIST = reverse("admin:tenants_integrationkey_changelist")
SHOWN_KEY = re.compile(r'<code id="integration-key">(mdrk_[^<]+)</code>')


def create(client: Client, **data: Any) -> Any:
    return client.post(ADD, {"name": "SIEM prod", **data})


def test_a_lead_creates_a_key_and_sees_it_once(lead_client: Client) -> None:
    tenant = make_tenant()
    assert lead_client.get(ADD).status_code == 200

    response = create(lead_client, tenants=[tenant.pk])

    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    [presented] = SHOWN_KEY.findall(response.content.decode())
    key = IntegrationKey.objects.get()
    assert presented.startswith(f"mdrk_{key.prefix}_") and presented.split("_", 2)[2] not in key.digest
    assert list(key.tenants.all()) == [tenant] and key.created_by.username == "lead"
    assert (
        presented
        not in lead_client.get(reverse("admin:tenants_integrationkey_change", args=[key.pk])).content.decode()
    )
    assert presented not in LogEntry.objects.get().object_repr
    # Nowhere at all: not in the session, a message, the admin's log or any other row.
    assert presented.split("_", 2)[2] not in every_stored_value()
    opened = as_key(presented).post("/api/v1/incidents/", {"tenant": tenant.pk, "title": "T"}, format="json")
    assert opened.status_code == 201


def test_a_key_names_its_tenants_or_all_of_them_explicitly(lead_client: Client) -> None:
    tenant = make_tenant()

    for data in ({}, {"tenants": [tenant.pk], "all_tenants": "on"}):
        response = create(lead_client, **data)
        assert response.status_code == 200 and response.context["adminform"].form.errors
    assert create(lead_client, all_tenants="on").status_code == 200
    assert IntegrationKey.objects.get().all_tenants


def test_an_analyst_may_neither_create_nor_see_keys(client: Client, analyst: Any) -> None:
    tenant = make_tenant()
    login_verified(client, analyst)

    assert client.get(ADD).status_code == 403
    assert create(client, tenants=[tenant.pk]).status_code == 403
    assert client.get(CHANGELIST).status_code == 403
    assert not IntegrationKey.objects.exists()


def test_a_lead_revokes_a_key_and_it_stops_working(lead_client: Client) -> None:
    tenant = make_tenant()
    key, presented = make_integration_key(tenant)

    response = lead_client.post(CHANGELIST, {"action": "revoke", "_selected_action": [key.pk]})

    assert response.status_code == 302
    key.refresh_from_db()
    assert key.revoked_at is not None and key.revoked_by.username == "lead"
    assert as_key(presented).get("/api/v1/incidents/").status_code == 401


def test_nothing_of_a_key_is_edited_and_nobody_deletes_one(superuser_client: Client) -> None:
    tenant, other = make_tenant(), make_tenant()
    key, _ = make_integration_key(tenant)
    change = reverse("admin:tenants_integrationkey_change", args=[key.pk])

    superuser_client.post(change, {"name": "renamed", "tenants": [other.pk], "all_tenants": "on"})

    key.refresh_from_db()
    assert (key.name, key.all_tenants, list(key.tenants.all())) == ("SIEM prod", False, [tenant])
    delete = reverse("admin:tenants_integrationkey_delete", args=[key.pk])
    assert superuser_client.post(delete, {"post": "yes"}).status_code == 403
    assert IntegrationKey.objects.filter(pk=key.pk).exists()


def test_an_incident_a_key_opened_names_the_key_in_the_admin(analyst_client: Client) -> None:
    tenant = make_tenant()
    key, presented = make_integration_key(tenant)
    opened = as_key(presented).post("/api/v1/incidents/", {"tenant": tenant.pk, "title": "T"}, format="json")

    page = analyst_client.get(reverse("admin:incidents_incident_change", args=[opened.json()["id"]]))

    shown = page.content.decode()
    assert page.status_code == 200 and "field-opened_by_key" in shown and escape(str(key)) in shown
