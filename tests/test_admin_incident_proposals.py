"""The incidents admin as MDR analysts use it to open incidents, change their status and propose actions."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.messages import get_messages
from django.test import Client

from escalation.runs.lifecycle import incident_change_status
from incidents.case_file import CASE_FILE_FIELDS
from incidents.models import ActionStatus, Basis, Channel, EventKind, Incident, ResponseAction
from incidents.policy import PolicySnapshot
from incidents.selectors import action_type_by_code
from tenants.models import ResponseMode, Tenant
from tenants.selectors import tenant_policy
from tenants.services import tenant_update_settings
from tests.admin_pages import page_data
from tests.factories import kinds, login_verified, make_incident, make_tenant, make_user
from tests.incident_admin import ADD_URL, CHANGELIST, authorize_url, change_url, propose_url

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_passwords")]


# Opening an incident


def test_add_form_opens_the_incident_through_the_service(analyst_client: Client, analyst: Any) -> None:
    tenant = make_tenant(performers={"disable_user": "customer"})
    page = analyst_client.get(ADD_URL)
    fields = page.context["adminform"].form.fields
    assert [name for name, field in fields.items() if field.required] == ["tenant", "title", "severity"]
    assert [name for name, field in fields.items() if not field.required] == [
        "summary",
        "observed_activity",
        "recommendations",
        "case_template",
    ]

    data = page_data(page)
    data.update(tenant=tenant.pk, title="Ransomware on FS-01", severity="critical", summary="Mass renames.")

    response = analyst_client.post(ADD_URL, data)

    assert response.status_code == 302
    incident = Incident.objects.get(title="Ransomware on FS-01")
    assert incident.policy == tenant_policy(tenant)
    assert incident.policy["performers"] == {"disable_user": "customer"}
    assert incident.opened_by == analyst
    (event,) = incident.events.all()
    assert (event.kind, event.actor, event.channel) == (EventKind.INCIDENT_OPENED, analyst, Channel.ADMIN)


def test_changing_the_status_on_the_change_page_writes_a_timeline_event(
    analyst_client: Client, analyst: Any, collaborate: Tenant
) -> None:
    incident = make_incident(collaborate)
    page = analyst_client.get(change_url(incident))
    assert set(page.context["adminform"].form.fields) == {
        "status",
        "status_reason",
        "owner",
        *CASE_FILE_FIELDS,
    }
    data = page_data(page)
    data["status"] = "contained"
    data["status_reason"] = "isolated, cleaning up"

    response = analyst_client.post(change_url(incident), data)

    assert response.status_code == 302
    incident.refresh_from_db()
    assert incident.status == "contained"
    event = incident.events.get(kind=EventKind.INCIDENT_STATUS)
    assert (event.data, event.actor) == (
        {"before": "open", "after": "contained", "reason": "isolated, cleaning up"},
        analyst,
    )


def test_status_change_the_transitions_forbid_is_a_form_error(
    analyst_client: Client, collaborate: Tenant
) -> None:
    incident = make_incident(collaborate)
    incident_change_status(incident=incident, status="resolved", by=None)
    data = page_data(analyst_client.get(change_url(incident)))
    data["status"] = "contained"

    response = analyst_client.post(change_url(incident), data)

    assert response.status_code == 200
    assert "status" in response.context["adminform"].form.errors
    incident.refresh_from_db()
    assert incident.status == "resolved"


# Proposing an action


def test_proposing_for_a_collaborate_tenant_waits_for_written_authorization(
    analyst_client: Client, analyst: Any, collaborate: Tenant
) -> None:
    incident = make_incident(collaborate)
    assert analyst_client.get(propose_url(incident)).status_code == 200

    response = analyst_client.post(
        propose_url(incident), {"action_type": action_type_by_code("isolate_endpoint").pk, "target": "WS-7"}
    )

    assert response.status_code == 302
    assert response["Location"] == change_url(incident)
    action = incident.actions.get()
    assert (action.status, action.basis, action.target) == (ActionStatus.AWAITING_AUTHORIZATION, "", "WS-7")
    assert action.proposed_by == analyst
    assert kinds(incident) == [EventKind.INCIDENT_OPENED, EventKind.ACTION_PROPOSED]


def test_proposing_for_an_authorize_tenant_queues_the_action_at_once(analyst_client: Client) -> None:
    incident = make_incident(make_tenant(mode=ResponseMode.AUTHORIZE))

    response = analyst_client.post(
        propose_url(incident), {"action_type": action_type_by_code("isolate_endpoint").pk, "target": "WS-7"}
    )

    assert response.status_code == 302
    action = incident.actions.get()
    assert (action.status, action.basis) == (ActionStatus.QUEUED, Basis.AUTHORIZE_MODE)
    assert kinds(incident) == [EventKind.INCIDENT_OPENED, EventKind.ACTION_PROPOSED, EventKind.ACTION_QUEUED]


@pytest.mark.parametrize("target", ["", "   "])
def test_proposing_without_a_target_is_a_form_error(
    analyst_client: Client, collaborate: Tenant, target: str
) -> None:
    incident = make_incident(collaborate)

    response = analyst_client.post(
        propose_url(incident), {"action_type": action_type_by_code("isolate_endpoint").pk, "target": target}
    )

    assert response.status_code == 200
    assert "target" in response.context["form"].errors
    assert not incident.actions.exists()
    assert kinds(incident) == [EventKind.INCIDENT_OPENED]


# Admin actions on the changelist


def test_propose_admin_action_with_two_incidents_warns_and_does_nothing(
    analyst_client: Client, collaborate: Tenant
) -> None:
    first, second = make_incident(collaborate), make_incident(collaborate)

    response = analyst_client.post(
        CHANGELIST, {"action": "propose_action", "_selected_action": [first.pk, second.pk], "index": 0}
    )

    assert response.status_code == 302
    assert response["Location"] == CHANGELIST
    assert [(m.level_tag, m.message) for m in get_messages(response.wsgi_request)] == [
        ("warning", "Select exactly one incident.")
    ]
    assert not ResponseAction.objects.exists()


@pytest.mark.parametrize(
    ("name", "url"), [("propose_action", propose_url), ("record_authorization", authorize_url)]
)
def test_admin_action_with_one_incident_opens_its_form(
    analyst_client: Client, collaborate: Tenant, name: str, url: Any
) -> None:
    incident = make_incident(collaborate)

    response = analyst_client.post(
        CHANGELIST, {"action": name, "_selected_action": [incident.pk], "index": 0}
    )

    assert response.status_code == 302
    assert response["Location"] == url(incident)


def test_reapply_policy_admin_action_takes_the_current_policy(
    analyst_client: Client, collaborate: Tenant
) -> None:
    incident = make_incident(collaborate)
    tenant_update_settings(tenant=collaborate, by=None, response_mode=ResponseMode.AUTHORIZE)

    response = analyst_client.post(
        CHANGELIST, {"action": "reapply_policy", "_selected_action": [incident.pk], "index": 0}
    )

    assert response.status_code == 302
    incident.refresh_from_db()
    assert PolicySnapshot.read(incident).authorize_mode
    assert EventKind.POLICY_REAPPLIED in kinds(incident)


def test_staff_user_without_incident_permissions_is_refused_the_incident_pages(client: Client) -> None:
    incident = make_incident(make_tenant())
    login_verified(client, make_user("staffer", staff=True))

    assert client.get(CHANGELIST).status_code == 403
    assert client.get(change_url(incident)).status_code == 403
    assert client.get(ADD_URL).status_code == 403
