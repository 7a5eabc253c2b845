"""Resolving or closing an incident stops what acts on it; an analyst cancels one action (DESIGN rule 11)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.core.exceptions import ValidationError

from escalation.acknowledgments.services import acknowledgment_record
from escalation.calls.dispatch import call_claim_next
from escalation.calls.progress import call_hang_up
from escalation.calls.records import call_placed
from escalation.links.tokens import LinkPurpose, link_url
from escalation.models import CallOutcome, RunPurpose, RunState
from escalation.runs.lifecycle import incident_change_status
from escalation.runs.services import notification_start
from incidents.actions import action_cancel
from incidents.active_guard import IncidentClosed
from incidents.execution import action_claim
from incidents.models import ActionStatus, Channel, EventKind, IncidentStatus
from tenants.models import ResponseMode, Role, Tenant
from tests.escalation_driver import advance
from tests.factories import (
    as_user,
    first_contact,
    make_incident,
    make_member,
    make_tenant,
    portal_decision,
    propose,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("unpaced_calls")]


def test_closing_mid_tree_hangs_up_the_ringing_call_and_cancels_waiting_actions(
    django_capture_on_commit_callbacks, analyst: Any
) -> None:
    incident = make_incident(make_tenant(fallback=True, phones=2))
    waiting = propose(incident, "isolate_endpoint")
    run = notification_start(incident=incident, by=None)
    advance(run)
    request = call_claim_next("simulated")
    call_placed(attempt_id=request.attempt_id, sid=f"SIM{request.attempt_id}")

    with django_capture_on_commit_callbacks() as sent:
        incident_change_status(
            incident=incident, status=IncidentStatus.CLOSED, by=analyst, reason="false positive"
        )
    assert sent, "the ringing call's hang-up is sent after commit"
    call_hang_up(request.attempt_id)  # what the hang-up task does

    run.refresh_from_db()
    waiting.refresh_from_db()
    call = run.calls.get()
    assert run.state == RunState.CANCELED
    assert (call.outcome, call.provider_status) == (CallOutcome.CANCELED, "canceled")
    assert waiting.status == ActionStatus.CANCELED
    canceled = incident.events.get(kind=EventKind.ACTION_CANCELED)
    assert canceled.actor == analyst and "false positive" in canceled.summary
    assert incident.events.filter(kind=EventKind.NOTIFICATION_STOPPED).exists()
    advance(run)
    assert call_claim_next("simulated") is None
    assert run.calls.count() == 1  # no further call


def test_a_closed_incident_refuses_decisions_acknowledgments_proposals_and_notification(analyst: Any) -> None:
    tenant = make_tenant()
    incident = make_incident(tenant)
    action = propose(incident, "isolate_endpoint")
    incident_change_status(incident=incident, status=IncidentStatus.RESOLVED, by=analyst)
    approver = make_member(tenant, Role.APPROVER)
    action.refresh_from_db()
    with pytest.raises(IncidentClosed):
        portal_decision(incident, [action], approver)
    with pytest.raises(IncidentClosed):
        acknowledgment_record(incident=incident, channel=Channel.PORTAL, user=approver)
    with pytest.raises(IncidentClosed):
        propose(incident, "block_ip", target="203.0.113.9")
    with pytest.raises(IncidentClosed):
        notification_start(incident=incident, by=None)


def test_a_queued_action_of_a_closed_incident_is_never_claimed(analyst: Any) -> None:
    incident = make_incident(make_tenant(mode=ResponseMode.AUTHORIZE))
    action = propose(incident, "isolate_endpoint")
    assert action.status == ActionStatus.QUEUED
    incident_change_status(incident=incident, status=IncidentStatus.CLOSED, by=analyst)
    assert action_claim(action.pk) is None
    action.refresh_from_db()
    assert action.status == ActionStatus.CANCELED
    assert not action.attempts.exists()


def test_the_link_page_of_a_closed_incident_says_so_and_records_nothing(client, analyst: Any) -> None:
    tenant = make_tenant()
    incident = make_incident(tenant)
    contact = first_contact(tenant)
    url = link_url(
        purpose=LinkPurpose.ACK, tenant_id=tenant.pk, contact_id=contact.pk, incident_id=incident.pk
    )
    incident_change_status(incident=incident, status=IncidentStatus.CLOSED, by=analyst)
    path = url.split("127.0.0.1:8000", 1)[-1]
    page = client.get(path)
    assert page.status_code == 409
    assert b"This incident is closed" in page.content
    assert client.post(path, {"decision": "confirm"}).status_code == 409
    assert not incident.acknowledgments.exists()


def test_reopening_restarts_nothing_by_itself(analyst: Any) -> None:
    incident = make_incident(make_tenant())
    propose(incident, "isolate_endpoint")
    run = notification_start(incident=incident, by=None)
    incident_change_status(incident=incident, status=IncidentStatus.CLOSED, by=analyst)
    incident_change_status(incident=incident, status=IncidentStatus.OPEN, by=analyst)
    run.refresh_from_db()
    assert run.state == RunState.CANCELED
    # Only the summary of its closing is under way, as it tells the customer.
    assert list(
        incident.notification_runs.filter(state=RunState.ACTIVE).values_list("purpose", flat=True)
    ) == [RunPurpose.CLOSED]


def test_an_analyst_cancels_one_waiting_action_with_a_reason_and_not_a_running_one(analyst: Any) -> None:
    incident = make_incident(make_tenant())
    action = propose(incident, "isolate_endpoint")
    with pytest.raises(ValidationError):
        action_cancel(action=action, by=analyst, reason="  ")
    action_cancel(action=action, by=analyst, reason="host already reimaged")
    action.refresh_from_db()
    assert action.status == ActionStatus.CANCELED
    assert "host already reimaged" in action.decision_reason
    with pytest.raises(ValidationError, match="only an action that waits or is queued"):
        action_cancel(action=action, by=analyst, reason="again")


def test_the_api_lets_mdr_staff_close_an_incident_and_answers_409_to_a_later_decision(analyst: Any) -> None:
    tenant = make_tenant()
    incident = make_incident(tenant)
    action = propose(incident, "isolate_endpoint")
    staff = as_user(analyst)
    response = staff.patch(
        f"/api/v1/incidents/{incident.pk}/", {"status": "closed", "reason": "done"}, format="json"
    )
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "closed"
    approver = as_user(make_member(tenant, Role.APPROVER))
    decided = approver.post(f"/api/v1/actions/{action.pk}/authorize/", {"statement": "go"}, format="json")
    assert decided.status_code == 409
    assert "closed" in decided.json()["detail"]
    acked = approver.post(f"/api/v1/incidents/{incident.pk}/acknowledge/", {}, format="json")
    assert acked.status_code == 409


def test_the_api_refuses_a_status_the_transitions_forbid_and_customers_changing_status(
    analyst: Any, tenant: Tenant, customer_admin: Any
) -> None:
    incident = make_incident(tenant)
    staff = as_user(analyst)
    assert (
        staff.patch(f"/api/v1/incidents/{incident.pk}/", {"status": "nope"}, format="json").status_code == 400
    )
    admin = as_user(customer_admin)
    assert (
        admin.patch(f"/api/v1/incidents/{incident.pk}/", {"status": "closed"}, format="json").status_code
        == 403
    )
    incident.refresh_from_db()
    assert incident.status == IncidentStatus.OPEN


def test_the_api_cancels_one_action_for_mdr_staff_only(
    analyst: Any, tenant: Tenant, customer_admin: Any
) -> None:
    incident = make_incident(tenant)
    action = propose(incident, "isolate_endpoint")
    admin = as_user(customer_admin)
    assert (
        admin.post(f"/api/v1/actions/{action.pk}/cancel/", {"reason": "x"}, format="json").status_code == 403
    )
    staff = as_user(analyst)
    assert staff.post(f"/api/v1/actions/{action.pk}/cancel/", {}, format="json").status_code == 400
    response = staff.post(f"/api/v1/actions/{action.pk}/cancel/", {"reason": "duplicate"}, format="json")
    assert response.status_code == 200
    assert response.json()["status"] == "canceled"


def test_every_status_change_goes_through_incident_change_status() -> None:
    """The incidents' half of a status change is called by the lifecycle only: no path moves a status
    without stopping its runs."""
    root = Path(__file__).resolve().parent.parent
    callers = sorted(
        str(path.relative_to(root))
        for top in ("mdrportal", "tenants", "incidents", "escalation", "operations", "reports", "tests")
        for path in (root / top).rglob("*.py")
        if "incident_status_move_for_lifecycle(" in path.read_text()
        and path.name != "test_incident_lifecycle.py"
    )
    assert callers == ["escalation/runs/lifecycle.py", "incidents/services.py"]
