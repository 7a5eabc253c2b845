"""The living case file: MDR staff change an incident's title, severity and texts in the admin and the API;
each change is a timeline event with who, before and after, and the customer reads the new text."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from incidents.case_file import incident_edit
from incidents.models import EventKind, Incident
from tenants.models import Role
from tests.admin_pages import page_data
from tests.factories import as_user, make_incident, make_member, make_tenant, portal
from tests.incident_admin import change_url

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_passwords")]


def edits(incident: Incident) -> list[dict[str, Any]]:
    return [event.data for event in incident.events.filter(kind=EventKind.CASE_EDITED).order_by("id")]


def test_an_analyst_edits_the_case_file_on_the_incident_page(analyst_client: Client, analyst: Any) -> None:
    incident = make_incident(make_tenant(), severity="medium", summary="Odd logins")
    data = page_data(analyst_client.get(change_url(incident)))

    response = analyst_client.post(
        change_url(incident),
        {
            **data,
            "severity": "critical",
            "summary": "Ransomware: mass renames on FS-01",
            "recommendations": "",
        },
    )

    assert response.status_code == 302
    stored = Incident.objects.get(pk=incident.pk)
    assert (stored.severity, stored.summary) == ("critical", "Ransomware: mass renames on FS-01")
    assert edits(incident) == [
        {"field": "severity", "before": "medium", "after": "critical", "raised": True, "notifies": False},
        {"field": "summary", "before": "Odd logins", "after": "Ransomware: mass renames on FS-01"},
    ]
    assert set(incident.events.filter(kind=EventKind.CASE_EDITED).values_list("actor", flat=True)) == {
        analyst.pk
    }


def test_the_tenant_of_an_incident_stays_as_it_opened(analyst_client: Client) -> None:
    incident = make_incident(make_tenant())
    form = analyst_client.get(change_url(incident)).context["adminform"].form

    assert "tenant" not in form.fields


def test_an_unchanged_save_writes_no_event(analyst: Any) -> None:
    incident = make_incident(make_tenant(), severity="high")

    assert incident_edit(incident=incident, by=analyst, severity="high", title=incident.title) == []
    assert edits(incident) == []


def test_a_lowered_severity_is_no_raise(analyst: Any) -> None:
    incident = make_incident(make_tenant(), severity="critical")

    incident_edit(incident=incident, by=analyst, severity="low")

    assert edits(incident) == [
        {"field": "severity", "before": "critical", "after": "low", "raised": False, "notifies": False}
    ]


def test_the_api_edits_the_case_file_and_the_customer_reads_the_new_text(analyst: Any) -> None:
    incident = make_incident(make_tenant(), severity="medium")
    viewer = make_member(incident.tenant, Role.VIEWER)

    response = as_user(analyst).patch(
        f"/api/v1/incidents/{incident.pk}/",
        {"severity": "critical", "recommendations": "Isolate FS-01 now."},
        format="json",
    )

    assert response.status_code == 200, response.json()
    assert (response.json()["severity"], response.json()["status"]) == ("critical", "open")
    assert [e["field"] for e in edits(incident)] == ["severity", "recommendations"]
    assert incident.events.filter(kind=EventKind.CASE_EDITED, channel="api").count() == 2
    read = as_user(viewer).get(f"/api/v1/incidents/{incident.pk}/").json()
    assert (read["severity"], read["recommendations"]) == ("critical", "Isolate FS-01 now.")
    page = portal(viewer).get(f"/incidents/{incident.pk}/")
    assert "Isolate FS-01 now." in page.content.decode()


def test_the_api_answers_a_bad_value_with_its_field(analyst: Any) -> None:
    incident = make_incident(make_tenant())
    client = as_user(analyst)

    bad = client.patch(f"/api/v1/incidents/{incident.pk}/", {"severity": "apocalyptic"}, format="json")
    empty = client.patch(f"/api/v1/incidents/{incident.pk}/", {}, format="json")

    assert bad.status_code == 400 and set(bad.json()) == {"severity"}
    assert empty.status_code == 400 and set(empty.json()) == {"status"}
    assert edits(incident) == []


@pytest.mark.parametrize("role", list(Role))
def test_no_customer_role_edits_the_case_file(role: Role) -> None:
    incident = make_incident(make_tenant(), severity="medium")
    member = make_member(incident.tenant, role)

    response = as_user(member).patch(f"/api/v1/incidents/{incident.pk}/", {"severity": "low"}, format="json")

    assert response.status_code == 403
    assert Incident.objects.get(pk=incident.pk).severity == "medium"
