"""The admin's lifecycle tools: the Start notification button, closing from the change page, canceling one
action with a reason."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from escalation.models import RunState
from incidents.models import ActionStatus, EventKind, IncidentStatus
from tests.admin_pages import page_data
from tests.factories import login_verified, make_incident, make_member, make_tenant, propose

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_passwords")]


def test_the_change_page_has_a_start_notification_button_that_starts_one_round(
    analyst_client: Client,
) -> None:
    incident = make_incident(make_tenant())
    page = analyst_client.get(reverse("admin:incidents_incident_change", args=[incident.pk]))
    notify = reverse("admin:incidents_incident_notify", args=[incident.pk])
    assert notify in page.content.decode()
    assert analyst_client.get(notify).status_code == 403  # a GET changes nothing
    assert analyst_client.post(notify).status_code == 302
    assert analyst_client.post(notify).status_code == 302
    assert incident.notification_runs.count() == 1
    assert incident.notification_runs.get().state == RunState.ACTIVE


def test_closing_from_the_change_page_cancels_waiting_actions_with_the_reason(analyst_client: Client) -> None:
    incident = make_incident(make_tenant())
    action = propose(incident, "isolate_endpoint")
    url = reverse("admin:incidents_incident_change", args=[incident.pk])
    data = page_data(analyst_client.get(url))
    data.update({"status": IncidentStatus.CLOSED, "status_reason": "false positive"})
    response = analyst_client.post(url, data)
    assert response.status_code == 302, response.content[:2000]
    action.refresh_from_db()
    assert action.status == ActionStatus.CANCELED
    assert "false positive" in incident.events.get(kind=EventKind.ACTION_CANCELED).summary


def test_an_analyst_cancels_one_action_with_a_reason_and_a_customer_cannot(
    analyst_client: Client, client: Client
) -> None:
    incident = make_incident(make_tenant())
    action = propose(incident, "isolate_endpoint")
    url = reverse("admin:incidents_responseaction_cancel", args=[action.pk])
    assert analyst_client.post(url, {"reason": ""}).status_code == 200  # a form error, nothing changed
    action.refresh_from_db()
    assert action.status == ActionStatus.AWAITING_AUTHORIZATION
    assert analyst_client.post(url, {"reason": "duplicate"}).status_code == 302
    action.refresh_from_db()
    assert action.status == ActionStatus.CANCELED

    outsider = Client()
    login_verified(outsider, make_member(incident.tenant, "admin"))
    other = propose(make_incident(incident.tenant), "isolate_endpoint")
    response = outsider.post(
        reverse("admin:incidents_responseaction_cancel", args=[other.pk]), {"reason": "x"}
    )
    assert response.status_code == 302 and "/login/" in response["Location"]
    other.refresh_from_db()
    assert other.status == ActionStatus.AWAITING_AUTHORIZATION
