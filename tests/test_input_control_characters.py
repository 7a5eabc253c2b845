"""NUL and other control characters are refused wherever free text comes in: pages, emailed links, the API."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.test import Client
from django.urls import reverse

from escalation.links.tokens import LinkPurpose, link_url
from escalation.models import UsedLink
from incidents.models import Authorization, Incident
from tenants.models import Contact, Role, Tenant
from tests.factories import (
    as_user,
    login_verified,
    make_incident,
    make_member,
    make_tenant,
    propose,
)

pytestmark = pytest.mark.django_db
BAD = ["Isolate\x00 it", "Isolate \x1b[2Kit", "bell\x07", "del\x7f", "c1\x85"]


def decide_in_portal(statement: str) -> Any:
    """An approver, second factor passed, authorizes an action awaiting it with this statement."""
    tenant = make_tenant()
    incident = make_incident(tenant)
    action = propose(incident, "isolate_endpoint")
    client = Client()
    login_verified(client, make_member(tenant, Role.APPROVER))
    return client.post(
        reverse("incidents:decide", args=[incident.pk]),
        {"actions": [action.pk], "decision": "granted", "statement": statement},
    )


@pytest.mark.parametrize("statement", BAD)
def test_a_portal_decision_with_a_control_character_is_a_400_and_records_nothing(statement: str) -> None:
    response = decide_in_portal(statement)

    assert response.status_code == 400
    assert not Authorization.objects.exists()


def test_a_multi_line_statement_with_tabs_is_accepted() -> None:
    response = decide_in_portal("Yes.\r\n\tIsolate WS-0142.")

    assert response.status_code == 302
    assert Authorization.objects.get().statement == "Yes.\r\n\tIsolate WS-0142."


def test_a_link_page_statement_with_nul_is_a_400_and_the_link_stays_unused() -> None:
    incident = make_incident(make_tenant())
    action = propose(incident, "isolate_endpoint")
    contact = incident.tenant.contacts.order_by("call_order").first()
    path = urlsplit(
        link_url(
            purpose=LinkPurpose.AUTHORIZE,
            tenant_id=incident.tenant_id,
            contact_id=contact.pk,
            incident_id=incident.pk,
            action_ids=[action.pk],
        )
    ).path
    client = Client()
    shown = re.search(r'name="shown" value="([^"]*)"', client.get(path).content.decode()).group(1)

    response = client.post(path, {"decision": "confirm", "shown": shown, "statement": "ok\x00"})

    assert response.status_code == 400
    assert not UsedLink.objects.exists() and not Authorization.objects.exists()


def test_a_contact_name_with_a_control_character_is_refused_on_the_contacts_page() -> None:
    tenant = make_tenant(phones=0)
    client = Client()
    login_verified(client, make_member(tenant, Role.ADMIN))

    response = client.post(reverse("tenants:contact_add"), {"name": "Ada\x00", "email": "ada@example.com"})

    assert response.status_code == 400
    assert not Contact.objects.filter(tenant=tenant).exists()


def test_a_query_string_with_nul_is_a_400(tenant: Tenant, viewer: Any) -> None:
    client = Client()
    login_verified(client, viewer)

    assert client.get(reverse("incidents:list"), {"status": "open\x00"}).status_code == 400


@pytest.mark.parametrize("statement", BAD)
def test_an_api_decision_with_a_control_character_is_a_400_on_the_field(
    statement: str, tenant: Tenant, approver: Any
) -> None:
    action = propose(make_incident(tenant), "isolate_endpoint")

    response = as_user(approver).post(
        f"/api/v1/actions/{action.pk}/authorize/", {"statement": statement}, format="json"
    )

    assert response.status_code == 400
    assert set(response.json()) == {"statement"}
    assert not Authorization.objects.exists()


def test_an_incident_title_with_nul_is_refused_by_the_api(analyst: Any) -> None:
    tenant = make_tenant()

    response = as_user(analyst).post(
        "/api/v1/incidents/",
        {"tenant": tenant.pk, "title": "Ransomware\u0000", "severity": "high"},
        format="json",
    )

    assert response.status_code == 400 and set(response.json()) == {"title"}
    assert not Incident.objects.exists()


@pytest.mark.parametrize("encoding", ["multipart", "urlencoded"])
def test_a_form_encoded_api_patch_with_a_control_character_is_refused(
    encoding: str, tenant: Tenant, customer_admin: Any
) -> None:
    contact = tenant.contacts.first()
    client = as_user(customer_admin)
    url = f"/api/v1/contacts/{contact.pk}/"

    if encoding == "multipart":
        response = client.patch(url, {"name": "Eve\x1b"}, format="multipart")
    else:
        response = client.patch(url, "name=Eve%1B", content_type="application/x-www-form-urlencoded")

    assert response.status_code == 400 and set(response.json()) == {"name"}
    contact.refresh_from_db()
    assert contact.name != "Eve\x1b"
