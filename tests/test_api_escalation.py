"""REST API: MDR staff start notification; customer admins and approvers acknowledge."""

from __future__ import annotations

from typing import Any

import pytest

from escalation.models import Acknowledgment, NotificationRun, RunPurpose, RunState
from incidents.models import EventKind, TimelineEvent
from tenants.models import Role, Tenant
from tests.factories import as_user, make_incident, make_member, make_tenant, make_user

pytestmark = pytest.mark.django_db


def test_an_analyst_starts_notification_once_per_round(analyst: Any) -> None:
    incident = make_incident(make_tenant())
    client = as_user(analyst)
    response = client.post(f"/api/v1/incidents/{incident.pk}/escalate/")
    assert response.status_code == 202, response.json()
    body = response.json()
    run = NotificationRun.objects.get(incident=incident)
    assert body == {
        "id": run.pk,
        "incident": incident.pk,
        "purpose": "notify",
        "round": 1,
        "state": "active",
        "started_at": body["started_at"],
    }
    assert run.started_by == analyst
    event = TimelineEvent.objects.get(incident=incident, kind=EventKind.NOTIFICATION_STARTED)
    assert (event.channel, event.actor) == ("api", analyst)
    # While the round is active, starting again returns it.
    again = client.post(f"/api/v1/incidents/{incident.pk}/escalate/")
    assert again.status_code == 202 and again.json()["id"] == run.pk
    assert NotificationRun.objects.filter(incident=incident).count() == 1


@pytest.mark.parametrize("who", ["customer_admin", "staff_without_permission"])
def test_only_mdr_staff_with_the_permission_start_notification(
    who: str, tenant: Tenant, customer_admin: Any
) -> None:
    incident = make_incident(tenant)
    user = customer_admin if who == "customer_admin" else make_user(staff=True)
    assert as_user(user).post(f"/api/v1/incidents/{incident.pk}/escalate/").status_code == 403
    assert not NotificationRun.objects.exists()


def test_starting_notification_for_an_unknown_incident_is_a_404(analyst: Any) -> None:
    assert as_user(analyst).post("/api/v1/incidents/999999/escalate/").status_code == 404


@pytest.mark.parametrize("role", [Role.APPROVER, Role.ADMIN])
def test_a_customer_approver_or_admin_acknowledges_and_the_calls_stop(role: Role, analyst: Any) -> None:
    tenant = make_tenant()
    incident = make_incident(tenant)
    as_user(analyst).post(f"/api/v1/incidents/{incident.pk}/escalate/")
    user = make_member(tenant, role)
    response = as_user(user).post(f"/api/v1/incidents/{incident.pk}/acknowledge/")
    assert response.status_code == 201, response.json()
    ack = Acknowledgment.objects.get(incident=incident)
    assert response.json() == {
        "id": ack.pk,
        "incident": incident.pk,
        "channel": "api",
        "at": response.json()["at"],
    }
    assert (ack.user, ack.channel) == (user, "api")
    assert (
        NotificationRun.objects.get(incident=incident, purpose=RunPurpose.NOTIFY).state
        == RunState.ACKNOWLEDGED
    )
    event = TimelineEvent.objects.get(incident=incident, kind=EventKind.ACKNOWLEDGED)
    assert event.channel == "api"


@pytest.mark.parametrize("who", ["viewer", "analyst"])
def test_viewers_and_mdr_staff_do_not_acknowledge_for_the_customer(
    who: str, analyst: Any, tenant: Tenant, viewer: Any
) -> None:
    incident = make_incident(tenant)
    user = viewer if who == "viewer" else analyst
    assert as_user(user).post(f"/api/v1/incidents/{incident.pk}/acknowledge/").status_code == 403
    assert not Acknowledgment.objects.exists()


def test_another_tenants_incident_cannot_be_acknowledged_or_escalated() -> None:
    incident = make_incident(make_tenant())
    outsider = as_user(make_member(make_tenant(), Role.ADMIN))
    assert outsider.post(f"/api/v1/incidents/{incident.pk}/acknowledge/").status_code == 404
    assert outsider.post(f"/api/v1/incidents/{incident.pk}/escalate/").status_code == 404
    assert not Acknowledgment.objects.exists()
