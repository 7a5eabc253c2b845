"""Proposing one action type for many targets at once, in the admin and the API: each target through the
gate, one decision per target shown, a refused target leaving the others proposed."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from escalation.runs.lifecycle import incident_change_status
from incidents.bulk import actions_propose_many, bulk_targets
from incidents.models import ResponseAction
from incidents.observables import observable_add
from incidents.selectors import action_type_by_code
from tenants.models import ResponseMode, Role
from tests.factories import as_user, login_verified, make_incident, make_member, make_tenant
from tests.incident_admin import change_url

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_passwords")]


def bulk_url(incident: Any) -> str:
    return reverse("admin:incidents_incident_propose_many", args=[incident.pk])


def test_pasted_targets_are_split_and_kept_once_in_order() -> None:
    assert bulk_targets("KIOSK-02\nKIOSK-01, KIOSK-02;\n\n KIOSK-03", "KIOSK-01", "KIOSK-04") == [
        "KIOSK-02",
        "KIOSK-01",
        "KIOSK-03",
        "KIOSK-04",
    ]


def test_the_admin_isolates_pasted_hosts_and_observed_ones_in_one_form(
    analyst_client: Client, analyst: Any
) -> None:
    incident = make_incident(make_tenant())  # Collaborate: each waits for the customer's authorization
    for host in ["KIOSK-03", "kiosk-01"]:
        observable_add(incident=incident, kind="host", value=host, by=analyst)
    assert "propose-many" in analyst_client.get(change_url(incident)).content.decode()

    response = analyst_client.post(
        bulk_url(incident),
        {"action_type": _isolate(), "targets": "KIOSK-01\nKIOSK-02", "observables": "host"},
    )

    assert response.status_code == 200
    actions = ResponseAction.objects.filter(incident=incident).order_by("id")
    assert [a.target for a in actions] == ["KIOSK-01", "KIOSK-02", "kiosk-01", "kiosk-03"]
    assert {a.status for a in actions} == {"awaiting_authorization"}
    page = response.content.decode()
    assert page.count("Awaiting") == 4 and "One decision per target" in page


def test_each_target_once_has_its_own_decision(analyst: Any) -> None:
    incident = make_incident(make_tenant(mode=ResponseMode.AUTHORIZE))

    response = as_user(analyst).post(
        f"/api/v1/incidents/{incident.pk}/actions/bulk/",
        {"action_type": "isolate_endpoint", "targets": ["KIOSK-01", "KIOSK-02", "KIOSK-01"]},
        format="json",
    )

    assert response.status_code == 200, response.json()
    body = response.json()
    assert [row["target"] for row in body] == ["KIOSK-01", "KIOSK-02"]
    assert [(row["action"]["status"], row["action"]["basis"], row["error"]) for row in body] == [
        ("queued", "authorize_mode", ""),
        ("queued", "authorize_mode", ""),
    ]


def test_a_closed_incident_refuses_each_target_with_its_reason(analyst: Any) -> None:
    incident = make_incident(make_tenant())
    incident_change_status(incident=incident, status="resolved", by=None)

    body = (
        as_user(analyst)
        .post(
            f"/api/v1/incidents/{incident.pk}/actions/bulk/",
            {"action_type": "isolate_endpoint", "targets": ["KIOSK-01", "KIOSK-02"]},
            format="json",
        )
        .json()
    )

    assert [row["action"] for row in body] == [None, None]
    assert all("resolved" in row["error"] for row in body)
    assert not ResponseAction.objects.filter(incident=incident).exists()


def test_the_api_refuses_an_empty_or_too_long_list(analyst: Any) -> None:
    incident = make_incident(make_tenant())
    client = as_user(analyst)
    url = f"/api/v1/incidents/{incident.pk}/actions/bulk/"

    empty = client.post(url, {"action_type": "isolate_endpoint", "targets": []}, format="json")
    many = client.post(
        url, {"action_type": "isolate_endpoint", "targets": [f"H{i}" for i in range(201)]}, format="json"
    )

    assert empty.status_code == 400 and set(empty.json()) == {"targets"}
    assert many.status_code == 400 and set(many.json()) == {"targets"}
    assert not ResponseAction.objects.exists()


@pytest.mark.parametrize("role", list(Role))
def test_no_customer_role_proposes_in_bulk(role: Role) -> None:
    incident = make_incident(make_tenant())
    client = as_user(make_member(incident.tenant, role))

    response = client.post(
        f"/api/v1/incidents/{incident.pk}/actions/bulk/",
        {"action_type": "isolate_endpoint", "targets": ["KIOSK-01"]},
        format="json",
    )

    assert response.status_code == 403
    assert not ResponseAction.objects.exists()


def test_a_customer_cannot_open_the_admin_page(client: Client) -> None:
    incident = make_incident(make_tenant())
    login_verified(client, make_member(incident.tenant, Role.ADMIN))

    response = client.get(bulk_url(incident))

    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def _isolate() -> int:
    return action_type_by_code("isolate_endpoint").pk


def test_a_refused_target_stops_no_other(analyst: Any) -> None:
    incident = make_incident(make_tenant())

    outcomes = actions_propose_many(
        incident=incident,
        action_type=action_type_by_code("isolate_endpoint"),
        targets=["K" * 300, "KIOSK-01"],
        by=analyst,
    )

    assert (outcomes[0].action, outcomes[0].error) == (None, "A target is at most 255 characters.")
    assert outcomes[1].action is not None and outcomes[1].action.target == "KIOSK-01"
