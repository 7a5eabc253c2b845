"""Acknowledge whenever calls can still come: an open or contained incident can be acknowledged in the
portal, by the API and on a call; a resolved one nowhere. One rule (escalation.acknowledgments.rule)."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse

from escalation.models import Acknowledgment, CallAttempt, NotificationRun, RunPurpose
from escalation.phone.twiml import PRESS_ONE, script_text
from escalation.runs.lifecycle import incident_change_status
from escalation.selectors import call_script
from incidents.models import Incident, IncidentStatus
from tenants.models import Role
from tests.factories import as_user, client_for, make_incident, make_member, make_tenant

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_passwords")]

APPROVALS = reverse("incidents:approvals")


def _incident(status: str, analyst: Any) -> Incident:
    incident = make_incident(make_tenant())
    if status != IncidentStatus.OPEN:
        incident_change_status(incident=incident, status=status, by=analyst, reason="test")
    incident.refresh_from_db()
    assert incident.status == status
    return incident


def _call_words(incident: Incident) -> str:
    run = NotificationRun.objects.create(incident=incident, purpose=RunPurpose.NOTIFY)
    contact = incident.tenant.contacts.order_by("call_order").first()
    call = CallAttempt.objects.create(
        run=run, contact=contact, try_number=1, sequence=1, severity_rank=0, to=str(contact.phone)
    )
    return script_text(call_script(call.pk))


@pytest.mark.parametrize(
    ("status", "acknowledgeable"),
    [(IncidentStatus.OPEN, True), (IncidentStatus.CONTAINED, True), (IncidentStatus.RESOLVED, False)],
)
def test_every_active_status_can_be_acknowledged_on_every_channel(
    status: str, acknowledgeable: bool, analyst: Any
) -> None:
    incident = _incident(status, analyst)
    client, _ = client_for(incident.tenant, Role.APPROVER)

    page = client.get(reverse("incidents:detail", args=[incident.pk]))
    assert page.context["can_acknowledge"] is acknowledgeable
    listed = [i.pk for i in client.get(APPROVALS).context["unacknowledged"]]
    assert (incident.pk in listed) is acknowledgeable
    assert (PRESS_ONE in _call_words(incident)) is acknowledgeable

    user = make_member(incident.tenant, Role.APPROVER)
    response = as_user(user).post(f"/api/v1/incidents/{incident.pk}/acknowledge/")
    assert response.status_code == (201 if acknowledgeable else 409), response.content
    assert Acknowledgment.objects.filter(incident=incident).exists() is acknowledgeable
