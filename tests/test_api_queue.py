"""REST API: assigning an incident to an MDR analyst, the queue's saved views, and who sees the owner and why
an incident was flagged."""

from __future__ import annotations

from typing import Any

import pytest

from escalation.runs.lifecycle import incident_change_status
from incidents.attention import incident_flag
from incidents.models import EventKind, Incident
from incidents.queue import incident_assign
from tenants.models import Role
from tests.factories import as_user, make_analyst, make_incident, make_member, make_tenant, propose

pytestmark = pytest.mark.django_db


def assign(client: Any, incident: Incident, owner: Any) -> Any:
    return client.post(f"/api/v1/incidents/{incident.pk}/assign/", {"owner": owner}, format="json")


def test_an_analyst_assigns_an_incident_and_the_timeline_says_so(analyst: Any) -> None:
    incident = make_incident(make_tenant())
    other = make_analyst("night-shift")

    response = assign(as_user(analyst), incident, other.pk)

    assert response.status_code == 200, response.json()
    assert response.json()["owner"] == "night-shift"
    event = incident.events.get(kind=EventKind.OWNER_CHANGED)
    assert (event.actor, event.channel, event.data) == (
        analyst,
        "api",
        {"before": None, "after": "night-shift"},
    )
    assert assign(as_user(analyst), incident, None).json()["owner"] is None
    assert Incident.objects.get(pk=incident.pk).owner is None


@pytest.mark.parametrize("role", list(Role))
def test_no_customer_role_assigns_an_incident(role: Role) -> None:
    incident = make_incident(make_tenant())
    member = make_member(incident.tenant, role)

    response = assign(as_user(member), incident, make_analyst().pk)

    assert response.status_code == 403
    assert Incident.objects.get(pk=incident.pk).owner is None


def test_an_outsider_does_not_find_the_incident() -> None:
    incident = make_incident(make_tenant())
    outsider = make_member(make_tenant(), Role.ADMIN)

    assert assign(as_user(outsider), incident, None).status_code == 404


def test_only_mdr_staff_can_be_the_owner(analyst: Any) -> None:
    incident = make_incident(make_tenant())
    customer = make_member(incident.tenant, Role.ADMIN)

    response = assign(as_user(analyst), incident, customer.pk)

    assert response.status_code == 400
    assert set(response.json()) == {"owner"}


def test_a_closed_incident_is_not_assigned(analyst: Any) -> None:
    incident = make_incident(make_tenant())
    incident_change_status(incident=incident, status="resolved", by=None)

    assert assign(as_user(analyst), incident, analyst.pk).status_code == 409


def test_the_list_takes_a_saved_view(analyst: Any) -> None:
    tenant = make_tenant()
    flagged, mine, waiting, resolved = (make_incident(tenant) for _ in range(4))
    incident_flag(incident=flagged, reason="Calls failed")
    incident_assign(incident=mine, owner=analyst, by=analyst)
    propose(waiting, "isolate_endpoint")
    incident_flag(incident=resolved, reason="Old")
    incident_change_status(incident=resolved, status="resolved", by=None)
    client = as_user(analyst)

    def listed(view: str) -> set[int]:
        response = client.get("/api/v1/incidents/", {"view": view})
        assert response.status_code == 200, response.json()
        return {row["id"] for row in response.json()["results"]}

    assert listed("attention") == {flagged.pk}
    assert listed("mine") == {mine.pk}
    assert listed("waiting") == {waiting.pk}
    assert listed("unassigned") == {flagged.pk, waiting.pk}
    assert client.get("/api/v1/incidents/", {"view": "everything"}).status_code == 400


def test_staff_read_why_an_incident_is_flagged_and_customers_only_that_it_is(analyst: Any) -> None:
    incident = make_incident(make_tenant())
    incident_flag(
        incident=incident, reason="Needs an analyst: the EDR answered 500 at https://edr.internal/x"
    )
    incident_assign(incident=incident, owner=analyst, by=analyst)
    viewer = make_member(incident.tenant, Role.VIEWER)

    staff = as_user(analyst).get(f"/api/v1/incidents/{incident.pk}/").json()
    customer = as_user(viewer).get(f"/api/v1/incidents/{incident.pk}/").json()

    assert staff["attention_reason"].startswith("Needs an analyst") and staff["owner"] == analyst.username
    assert staff["attention_since"] is not None
    assert (customer["needs_attention"], customer["attention_reason"], customer["owner"]) == (True, "", None)
