"""REST API: proposing response actions and a customer's written decisions on them."""

from __future__ import annotations

from typing import Any

import pytest

from incidents.models import Authorization, EventKind, ResponseAction, TimelineEvent
from incidents.selectors import authorization_text
from tenants.models import Role, Tenant
from tests.factories import as_user, make_incident, make_member, make_tenant, propose

pytestmark = pytest.mark.django_db


ACTION_FIELDS = {
    "id",
    "incident",
    "action_type",
    "target",
    "status",
    "performer",
    "basis",
    "decision_reason",
    "observables",
}


# Actions


def test_an_analyst_proposes_an_action_and_the_gate_decides_at_once(analyst: Any) -> None:
    collaborate, authorize = make_tenant(), make_tenant(mode="authorize")
    client = as_user(analyst)
    waiting = make_incident(collaborate)
    response = client.post(
        f"/api/v1/incidents/{waiting.pk}/actions/",
        {"action_type": "isolate_endpoint", "target": "WS-0142"},
        format="json",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert set(body) == ACTION_FIELDS
    assert (
        body["incident"],
        body["action_type"],
        body["target"],
        body["status"],
        body["performer"],
        body["basis"],
    ) == (
        waiting.pk,
        "isolate_endpoint",
        "WS-0142",
        "awaiting_authorization",
        "mdr",
        "",
    )
    acting = make_incident(authorize)
    body = client.post(
        f"/api/v1/incidents/{acting.pk}/actions/",
        {"action_type": "isolate_endpoint", "target": "WS-0142"},
        format="json",
    ).json()
    assert (body["status"], body["basis"]) == ("queued", "authorize_mode")
    event = TimelineEvent.objects.get(incident=acting, kind=EventKind.ACTION_PROPOSED)
    assert event.channel == "api"


def test_proposing_an_action_with_bad_input_is_a_400(analyst: Any) -> None:
    incident = make_incident(make_tenant())
    client = as_user(analyst)
    response = client.post(
        f"/api/v1/incidents/{incident.pk}/actions/",
        {"action_type": "launch_missiles", "target": "  "},
        format="json",
    )
    assert response.status_code == 400
    assert set(response.json()) == {"action_type", "target"}
    assert not ResponseAction.objects.exists()


def test_everyone_in_the_tenant_reads_actions_but_only_mdr_staff_propose() -> None:
    tenant, other = make_tenant(), make_tenant()
    incident = make_incident(tenant)
    action = propose(incident, "isolate_endpoint")
    body = {"action_type": "block_ip", "target": "203.0.113.9"}
    viewer = as_user(make_member(tenant, Role.VIEWER))
    listed = viewer.get(f"/api/v1/incidents/{incident.pk}/actions/").json()
    assert [a["id"] for a in listed["results"]] == [action.pk]
    assert viewer.get(f"/api/v1/actions/{action.pk}/").json()["action_type"] == "isolate_endpoint"
    assert viewer.post(f"/api/v1/incidents/{incident.pk}/actions/", body, format="json").status_code == 403
    admin = as_user(make_member(tenant, Role.ADMIN))
    assert admin.post(f"/api/v1/incidents/{incident.pk}/actions/", body, format="json").status_code == 403
    outsider = as_user(make_member(other, Role.ADMIN))
    assert outsider.get(f"/api/v1/incidents/{incident.pk}/actions/").status_code == 404
    assert outsider.get(f"/api/v1/actions/{action.pk}/").status_code == 404
    assert ResponseAction.objects.count() == 1


# Written decisions


def test_an_approver_authorizes_an_action_in_writing_through_the_api() -> None:
    tenant = make_tenant()
    incident = make_incident(tenant)
    action = propose(incident, "isolate_endpoint")
    approver = make_member(tenant, Role.APPROVER)
    response = as_user(approver).post(
        f"/api/v1/actions/{action.pk}/authorize/",
        {"statement": "Yes, isolate WS-0142 now."},
        format="json",
        HTTP_USER_AGENT="soar/1.0",
    )
    assert response.status_code == 200, response.json()
    assert (response.json()["status"], response.json()["basis"]) == ("queued", "written_authorization")
    record = Authorization.objects.get(incident=incident)
    assert (record.decision, record.channel, record.user, record.statement, record.user_agent) == (
        "granted",
        "api",
        approver,
        "Yes, isolate WS-0142 now.",
        "soar/1.0",
    )
    assert record.text_shown == authorization_text(incident, [action])
    assert record.scope == [{"action": action.pk, "action_type": "isolate_endpoint", "target": "WS-0142"}]
    assert TimelineEvent.objects.filter(
        incident=incident, kind=EventKind.AUTHORIZATION_GIVEN, channel="api"
    ).exists()


def test_an_approver_declines_an_action_in_writing(tenant: Tenant, approver: Any) -> None:
    incident = make_incident(tenant)
    action = propose(incident, "isolate_endpoint")
    response = as_user(approver).post(
        f"/api/v1/actions/{action.pk}/decline/", {"statement": "No: WS-0142 runs the tills."}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["status"] == "declined"
    assert Authorization.objects.get(incident=incident).decision == "declined"


def test_a_decision_needs_a_statement_and_an_action_awaiting_authorization(
    tenant: Tenant, approver: Any
) -> None:
    incident = make_incident(tenant)
    action = propose(incident, "isolate_endpoint")
    client = as_user(approver)
    response = client.post(f"/api/v1/actions/{action.pk}/authorize/", {"statement": ""}, format="json")
    assert response.status_code == 400 and set(response.json()) == {"statement"}
    assert (
        client.post(f"/api/v1/actions/{action.pk}/authorize/", {"statement": "ok"}, format="json").status_code
        == 200
    )
    response = client.post(
        f"/api/v1/actions/{action.pk}/decline/", {"statement": "changed my mind"}, format="json"
    )
    assert response.status_code == 400
    assert set(response.json()) == {"actions"}
    assert Authorization.objects.count() == 1


@pytest.mark.parametrize("who", ["viewer", "analyst"])
def test_viewers_and_mdr_staff_cannot_authorize_for_the_customer(
    who: str, analyst: Any, tenant: Tenant, viewer: Any
) -> None:
    action = propose(make_incident(tenant), "isolate_endpoint")
    user = viewer if who == "viewer" else analyst
    client = as_user(user)
    for verb in ("authorize", "decline"):
        response = client.post(f"/api/v1/actions/{action.pk}/{verb}/", {"statement": "yes"}, format="json")
        assert response.status_code == 403
    action.refresh_from_db()
    assert action.status == "awaiting_authorization"
    assert not Authorization.objects.exists()


def test_an_approver_of_another_tenant_gets_a_404() -> None:
    tenant, other = make_tenant(), make_tenant()
    action = propose(make_incident(tenant), "isolate_endpoint")
    response = as_user(make_member(other, Role.APPROVER)).post(
        f"/api/v1/actions/{action.pk}/authorize/", {"statement": "yes"}, format="json"
    )
    assert response.status_code == 404
    assert not Authorization.objects.exists()
