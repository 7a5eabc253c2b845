"""Integration keys: a detection pipeline opens incidents and proposes actions for the tenants its key names,
reads what it opened, is named on the timeline, and never decides (DESIGN rule 13)."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone
from rest_framework.exceptions import NotAuthenticated
from rest_framework.request import Request
from rest_framework.test import APIClient, APIRequestFactory

from incidents.models import (
    ActionStatus,
    Authorization,
    EventKind,
    IdempotencyKey,
    Incident,
    ResponseAction,
    TimelineEvent,
)
from mdrportal.api.integration_keys import IntegrationKeyPrincipal
from mdrportal.api.permissions import is_mdr_staff, signed_in_user
from tenants.integration_key_services import integration_key_revoke
from tenants.models import IntegrationKey, Tenant
from tenants.selectors import role_at, tenants_for_user
from tests.factories import (
    as_key,
    as_user,
    first_contact,
    make_analyst,
    make_incident,
    make_integration_key,
    make_tenant,
    propose,
)

pytestmark = pytest.mark.django_db
INCIDENTS = "/api/v1/incidents/"


def opening(tenant: Tenant, **extra: Any) -> dict[str, Any]:
    return {"tenant": tenant.pk, "title": "Ransomware on WS-0142", "severity": "critical", **extra}


def open_with(client: APIClient, tenant: Tenant, **headers: Any) -> Any:
    return client.post(INCIDENTS, opening(tenant), format="json", headers=headers)


def propose_with(client: APIClient, incident_id: int, code: str = "isolate_endpoint") -> Any:
    body = {"action_type": code, "target": "WS-0142"}
    return client.post(f"{INCIDENTS}{incident_id}/actions/", body, format="json")


# What a key does


def test_a_key_opens_an_incident_for_its_tenant_and_the_timeline_names_the_key() -> None:
    tenant = make_tenant()
    key, presented = make_integration_key(tenant)

    response = open_with(as_key(presented), tenant)

    assert response.status_code == 201, response.json()
    incident = Incident.objects.get(pk=response.json()["id"])
    assert (incident.opened_by, incident.opened_by_key) == (None, key)
    event = TimelineEvent.objects.get(incident=incident, kind=EventKind.INCIDENT_OPENED)
    assert event.actor is None and event.channel == "api"
    assert event.actor_label == f"Integration key 'SIEM prod' (mdrk_{key.prefix})"


def test_a_key_made_for_all_tenants_opens_incidents_for_any_tenant() -> None:
    _, presented = make_integration_key(all_tenants=True)
    client = as_key(presented)

    assert [open_with(client, make_tenant()).status_code for _ in range(2)] == [201, 201]


def test_opening_an_incident_for_a_tenant_the_key_does_not_act_for_is_refused() -> None:
    mine, other = make_tenant(), make_tenant()
    _, presented = make_integration_key(mine)

    response = open_with(as_key(presented), other)

    assert response.status_code == 403
    assert f"does not act for tenant #{other.pk}" in response.json()["detail"]
    assert not Incident.objects.exists()


def test_a_key_proposes_actions_on_its_incidents_and_the_timeline_names_it() -> None:
    tenant = make_tenant(mode="authorize")
    key, presented = make_integration_key(tenant)
    client = as_key(presented)
    incident_id = open_with(client, tenant).json()["id"]

    response = propose_with(client, incident_id)

    assert response.status_code == 201, response.json()
    action = ResponseAction.objects.get(pk=response.json()["id"])
    assert (action.status, action.proposed_by, action.proposed_by_key) == (ActionStatus.QUEUED, None, key)
    labels = TimelineEvent.objects.filter(
        incident_id=incident_id, kind__in=[EventKind.ACTION_PROPOSED, EventKind.ACTION_QUEUED]
    ).values_list("actor_label", flat=True)
    assert list(labels) == [str(key), str(key)]


def test_a_key_proposes_nothing_on_an_incident_it_did_not_open_nor_for_another_tenant() -> None:
    tenant, other = make_tenant(), make_tenant()
    _, presented = make_integration_key(tenant)
    by_analyst, elsewhere = make_incident(tenant), make_incident(other)

    statuses = [propose_with(as_key(presented), i.pk).status_code for i in (by_analyst, elsewhere)]

    assert statuses == [404, 404]
    assert not ResponseAction.objects.exists()


def test_a_key_reads_the_catalog_and_only_what_it_opened() -> None:
    tenant = make_tenant()
    _, presented = make_integration_key(tenant)
    client = as_key(presented)
    mine = open_with(client, tenant).json()["id"]
    action = propose_with(client, mine).json()["id"]
    theirs = make_incident(tenant)
    their_action = propose(theirs, "isolate_endpoint")

    assert [i["id"] for i in client.get(INCIDENTS).json()["results"]] == [mine]
    assert client.get(f"{INCIDENTS}{mine}/").status_code == 200
    assert client.get(f"/api/v1/actions/{action}/").status_code == 200
    assert client.get(f"{INCIDENTS}{theirs.pk}/").status_code == 404
    assert client.get(f"/api/v1/actions/{their_action.pk}/").status_code == 404
    assert client.get("/api/v1/action-types/").status_code == 200


def test_a_key_owns_no_incident_so_the_mine_view_lists_none_of_its_incidents() -> None:
    tenant = make_tenant()
    _, presented = make_integration_key(tenant)
    client = as_key(presented)
    opened = open_with(client, tenant).json()["id"]

    assert [i["id"] for i in client.get(f"{INCIDENTS}?view=unassigned").json()["results"]] == [opened]
    assert client.get(f"{INCIDENTS}?view=mine").json()["results"] == []


def test_a_key_whose_tenant_was_taken_away_no_longer_reads_its_incidents_there() -> None:
    tenant = make_tenant()
    key, presented = make_integration_key(tenant, make_tenant())
    client = as_key(presented)
    mine = open_with(client, tenant).json()["id"]

    key.tenants.remove(tenant)

    assert client.get(f"{INCIDENTS}{mine}/").status_code == 404
    assert propose_with(client, mine).status_code == 404


def test_a_retried_opening_with_the_same_idempotency_key_opens_one_incident_per_caller(
    analyst: Any,
) -> None:
    tenant = make_tenant()
    key, presented = make_integration_key(tenant)

    first = open_with(as_key(presented), tenant, **{"Idempotency-Key": "det-42"})
    again = open_with(as_key(presented), tenant, **{"Idempotency-Key": "det-42"})
    persons = open_with(as_user(analyst), tenant, **{"Idempotency-Key": "det-42"})

    assert (first.status_code, again.status_code, persons.status_code) == (201, 201, 201)
    assert again["Idempotent-Replayed"] == "true" and again.json()["id"] == first.json()["id"]
    assert persons.json()["id"] != first.json()["id"]
    assert IdempotencyKey.objects.get(incident_id=first.json()["id"]).integration_key == key


# What a key never does


def test_a_key_never_decides_nor_changes_a_setting() -> None:
    tenant = make_tenant()  # Collaborate: MDR's actions wait for the customer's written authorization
    _, presented = make_integration_key(tenant)
    client = as_key(presented)
    incident_id = open_with(client, tenant).json()["id"]
    action_id = propose_with(client, incident_id).json()["id"]
    contact = first_contact(tenant)
    statement = {"statement": "Go ahead."}

    refused = {
        "authorize": client.post(f"/api/v1/actions/{action_id}/authorize/", statement, format="json"),
        "decline": client.post(f"/api/v1/actions/{action_id}/decline/", statement, format="json"),
        "cancel": client.post(f"/api/v1/actions/{action_id}/cancel/", {"reason": "x"}, format="json"),
        "acknowledge": client.post(f"{INCIDENTS}{incident_id}/acknowledge/"),
        "escalate": client.post(f"{INCIDENTS}{incident_id}/escalate/"),
        "status": client.patch(f"{INCIDENTS}{incident_id}/", {"status": "closed"}, format="json"),
        "settings": client.patch(
            f"/api/v1/tenants/{tenant.pk}/", {"response_mode": "authorize"}, format="json"
        ),
        "performers": client.patch(f"/api/v1/tenants/{tenant.pk}/performers/", [], format="json"),
        "connector": client.put(
            f"/api/v1/tenants/{tenant.pk}/connector/", {"kind": "simulated"}, format="json"
        ),
        "contacts": client.post(
            f"/api/v1/tenants/{tenant.pk}/contacts/", {"name": "Eve", "email": "e@x.example"}, format="json"
        ),
        "contact": client.patch(f"/api/v1/contacts/{contact.pk}/", {"can_authorize": False}, format="json"),
        "logins": client.post(
            f"/api/v1/tenants/{tenant.pk}/users/", {"username": "eve", "role": "admin"}, format="json"
        ),
    }

    assert {what: r.status_code for what, r in refused.items()} == dict.fromkeys(refused, 403)
    assert "decides nothing" in refused["authorize"].json()["detail"]
    assert ResponseAction.objects.get(pk=action_id).status == ActionStatus.AWAITING_AUTHORIZATION
    assert not Authorization.objects.exists()
    assert Incident.objects.get(pk=incident_id).status == "open"
    tenant.refresh_from_db()
    assert tenant.response_mode == "collaborate" and first_contact(tenant).can_authorize


def test_every_check_that_looks_for_a_person_refuses_the_keys_principal() -> None:
    tenant = make_tenant()
    key, _ = make_integration_key(tenant)
    principal = IntegrationKeyPrincipal(key)

    assert not principal.is_authenticated and not principal.is_staff
    assert not is_mdr_staff(principal, "incidents.add_incident")
    assert role_at(principal, tenant) is None
    assert not tenants_for_user(principal).exists()
    assert str(principal) == str(key)
    request = Request(APIRequestFactory().get(INCIDENTS))
    request.user = principal
    with pytest.raises(NotAuthenticated):
        signed_in_user(request)


# Which keys authenticate


def test_a_revoked_key_is_a_401() -> None:
    tenant = make_tenant()
    key, presented = make_integration_key(tenant)
    client = as_key(presented)
    assert client.get(INCIDENTS).status_code == 200

    integration_key_revoke(key=key, by=make_analyst())

    assert client.get(INCIDENTS).status_code == 401
    assert open_with(client, tenant).status_code == 401


def test_an_unknown_key_or_a_wrong_secret_is_a_401() -> None:
    key, presented = make_integration_key(make_tenant())
    wrong_secret = presented[:-4] + ("aaaa" if not presented.endswith("aaaa") else "bbbb")
    unknown = f"mdrk_00000000_{presented.split('_', 2)[2]}"

    for bad in (wrong_secret, unknown, f"mdrk_{key.prefix}", f"mdrk_{key.prefix}_"):
        response = as_key(bad).get(INCIDENTS)
        assert response.status_code == 401, bad
        assert response.json()["detail"] == "Unknown or revoked integration key."


def test_a_bearer_header_that_is_no_integration_key_is_nobody_and_a_key_is_no_personal_token() -> None:
    _, presented = make_integration_key(make_tenant())
    token_header = APIClient()
    token_header.credentials(HTTP_AUTHORIZATION=f"Token {presented}")

    assert as_key("0123456789abcdef").get(INCIDENTS).status_code == 401
    assert token_header.get(INCIDENTS).status_code == 401


def test_last_use_is_recorded_at_most_once_a_minute() -> None:
    key, presented = make_integration_key(make_tenant())
    client = as_key(presented)
    assert key.last_used_at is None

    client.get(INCIDENTS)
    first = IntegrationKey.objects.get(pk=key.pk).last_used_at
    assert first is not None
    recent = timezone.now() - timedelta(seconds=30)
    IntegrationKey.objects.filter(pk=key.pk).update(last_used_at=recent)
    client.get(INCIDENTS)
    assert IntegrationKey.objects.get(pk=key.pk).last_used_at == recent
    IntegrationKey.objects.filter(pk=key.pk).update(last_used_at=recent - timedelta(seconds=31))
    client.get(INCIDENTS)
    assert IntegrationKey.objects.get(pk=key.pk).last_used_at > recent


def every_stored_value() -> str:
    """Every row of every table, as text."""
    rows = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            cursor.execute(f'SELECT * FROM "{table}"')  # noqa: S608 - names from the database itself
            rows += [repr(row) for row in cursor.fetchall()]
    return "\n".join(rows)


def test_the_secret_is_never_stored_nor_logged(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    tenant = make_tenant()
    key, presented = make_integration_key(tenant)
    secret = presented.split("_", 2)[2]

    open_with(as_key(presented), tenant)
    as_key(presented).post("/api/v1/actions/1/authorize/", {}, format="json")  # refused: 403
    as_key(presented[:-1] + "x").get(INCIDENTS)  # 401
    integration_key_revoke(key=key, by=make_analyst())
    as_key(presented).get(INCIDENTS)  # revoked: 401

    assert secret not in every_stored_value() and key.prefix in every_stored_value()
    logged = "\n".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records)
    assert caplog.records and secret not in logged


# The schema


def test_the_schema_documents_the_key_on_the_operations_a_key_may_call() -> None:
    schema = APIClient().get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()

    scheme = schema["components"]["securitySchemes"]["integrationKey"]
    assert (scheme["type"], scheme["scheme"]) == ("http", "bearer")
    assert scheme["bearerFormat"].startswith("mdrk_")
    keyed = {
        (method, path)
        for path, item in schema["paths"].items()
        for method, operation in item.items()
        if {"integrationKey": []} in operation.get("security", [])
    }
    assert keyed == {
        ("get", "/api/v1/action-types/"),
        ("get", "/api/v1/incidents/"),
        ("post", "/api/v1/incidents/"),
        ("get", "/api/v1/incidents/{id}/"),
        ("get", "/api/v1/incidents/{incident_id}/actions/"),
        ("post", "/api/v1/incidents/{incident_id}/actions/"),
        ("get", "/api/v1/actions/{id}/"),
    }
