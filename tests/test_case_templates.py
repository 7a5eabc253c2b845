"""Case templates per incident type: MDR staff manage them in the admin; applying one fills in the
recommendations (a case file edit) and proposes its actions for the incident's observables of the right
kind, one decision per target, in the admin (when opening an incident too) and the API."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from escalation.runs.lifecycle import incident_change_status
from incidents.active_guard import IncidentClosed
from incidents.case_templates import case_template_apply, recommendations_with
from incidents.models import (
    ActionStatus,
    CaseTemplate,
    CaseTemplateAction,
    EventKind,
    Incident,
    ResponseAction,
)
from incidents.observables import observable_add
from incidents.selectors import action_type_by_code
from tenants.models import Role
from tests.admin_pages import page_data
from tests.factories import as_user, make_incident, make_member, make_tenant
from tests.incident_admin import ADD_URL, change_url

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_passwords")]

HASH = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
ADVICE = "Reset the passwords of every account used on the hosts."


def ransomware() -> CaseTemplate:
    template = CaseTemplate.objects.create(incident_type="Ransomware", recommendations=ADVICE)
    for code, kind in (("isolate_endpoint", "host"), ("block_sha256", "sha256")):
        CaseTemplateAction.objects.create(
            template=template, action_type=action_type_by_code(code), observable_kind=kind
        )
    return template


def observed(incident: Incident) -> Incident:
    for kind, value in (("host", "ws-01"), ("host", "ws-02"), ("sha256", HASH), ("ip", "203.0.113.9")):
        observable_add(incident=incident, kind=kind, value=value, by=None)
    return incident


def proposed(incident: Incident) -> list[tuple[str, str]]:
    rows = incident.actions.order_by("id").values_list("action_type__code", "target")
    return [(code, target) for code, target in rows]


def test_applying_fills_the_recommendations_and_proposes_for_the_right_observables(analyst: Any) -> None:
    incident = observed(make_incident(make_tenant()))

    applied = case_template_apply(incident=incident, template=ransomware(), by=analyst)

    assert applied.changed == ["recommendations"]
    assert Incident.objects.get(pk=incident.pk).recommendations == ADVICE
    assert proposed(incident) == [
        ("isolate_endpoint", "ws-01"),
        ("isolate_endpoint", "ws-02"),
        ("block_sha256", HASH),
    ]
    # Each through the gate (Collaborate: waiting for the customer), each linked to its observable.
    assert {o.action.status for o in applied.outcomes} == {ActionStatus.AWAITING_AUTHORIZATION}
    assert [o.action.observables.get().value for o in applied.outcomes] == ["ws-01", "ws-02", HASH]
    edit = incident.events.get(kind=EventKind.CASE_EDITED)
    assert (edit.data["field"], edit.data["after"], edit.actor) == ("recommendations", ADVICE, analyst)
    assert incident.events.get(kind=EventKind.TEMPLATE_APPLIED).data["incident_type"] == "Ransomware"


def test_the_analysts_own_recommendations_stay_first_and_the_templates_come_once() -> None:
    assert recommendations_with("", ADVICE) == ADVICE
    assert recommendations_with("Call the CISO.", ADVICE) == f"Call the CISO.\n\n{ADVICE}"
    assert recommendations_with(f"Call the CISO.\n\n{ADVICE}", ADVICE) == f"Call the CISO.\n\n{ADVICE}"
    assert recommendations_with("Call the CISO.", "  ") == "Call the CISO."


def test_a_closed_incident_takes_no_template(analyst: Any) -> None:
    incident = observed(make_incident(make_tenant()))
    incident_change_status(incident=incident, status="closed", by=analyst)
    with pytest.raises(IncidentClosed):
        case_template_apply(incident=incident, template=ransomware(), by=analyst)
    assert not ResponseAction.objects.exists()


def test_mdr_staff_manage_templates_in_the_admin(analyst_client: Client) -> None:
    page = analyst_client.get(reverse("admin:incidents_casetemplate_add"))
    data = page_data(page)
    data.update(
        {
            "incident_type": "Business email compromise",
            "recommendations": "Reset the mailbox password.",
            "actions-0-action_type": action_type_by_code("disable_user").pk,
            "actions-0-observable_kind": "account",
        }
    )
    assert analyst_client.post(reverse("admin:incidents_casetemplate_add"), data).status_code == 302
    template = CaseTemplate.objects.get(incident_type="Business email compromise")
    assert list(template.actions.values_list("action_type__code", "observable_kind")) == [
        ("disable_user", "account")
    ]


def test_an_analyst_applies_a_template_from_the_incident_page(analyst_client: Client) -> None:
    incident = observed(make_incident(make_tenant()))
    template = ransomware()
    url = reverse("admin:incidents_incident_apply_template", args=[incident.pk])
    assert url in analyst_client.get(change_url(incident)).content.decode()

    response = analyst_client.post(url, {"template": template.pk})

    assert response.status_code == 200
    page = response.content.decode()
    assert 'id="bulk-outcomes"' in page and "ws-02" in page and HASH in page
    assert len(proposed(incident)) == 3


def test_an_incident_opened_with_a_template_has_its_recommendations(analyst_client: Client) -> None:
    tenant, template = make_tenant(), ransomware()
    data = page_data(analyst_client.get(ADD_URL))
    data.update(tenant=tenant.pk, title="Ransomware on FS-01", severity="critical", case_template=template.pk)

    assert analyst_client.post(ADD_URL, data).status_code == 302

    incident = Incident.objects.get(title="Ransomware on FS-01")
    assert incident.recommendations == ADVICE
    assert incident.events.filter(kind=EventKind.TEMPLATE_APPLIED).exists()


@pytest.mark.parametrize("role", [Role.ADMIN, Role.APPROVER])
def test_no_customer_manages_or_applies_templates(client: Client, role: Role) -> None:
    incident = observed(make_incident(make_tenant()))
    template = ransomware()
    user = make_member(incident.tenant, role)
    client.force_login(user)
    admin_pages = [
        reverse("admin:incidents_casetemplate_changelist"),
        reverse("admin:incidents_incident_apply_template", args=[incident.pk]),
    ]
    for url in admin_pages:
        refused = client.post(url, {"template": template.pk})
        assert refused.status_code == 302 and "/admin/" not in refused.url
    api = as_user(user)
    assert api.get("/api/v1/case-templates/").status_code == 403
    applied = api.post(f"/api/v1/incidents/{incident.pk}/apply-template/", {"template": template.pk})
    assert applied.status_code == 403
    assert not ResponseAction.objects.exists()


def test_the_api_lists_templates_and_applies_one(analyst: Any) -> None:
    incident = observed(make_incident(make_tenant()))
    template = ransomware()
    client = as_user(analyst)

    listed = client.get("/api/v1/case-templates/").json()
    rows = listed["results"] if isinstance(listed, dict) else listed
    assert rows == [
        {
            "id": template.pk,
            "incident_type": "Ransomware",
            "recommendations": ADVICE,
            "actions": [
                {"action_type": "isolate_endpoint", "observable_kind": "host"},
                {"action_type": "block_sha256", "observable_kind": "sha256"},
            ],
        }
    ]
    url = f"/api/v1/incidents/{incident.pk}/apply-template/"
    applied = client.post(url, {"template": template.pk}, format="json")
    assert applied.status_code == 200
    body = applied.json()
    assert body["changed"] == ["recommendations"]
    assert [o["target"] for o in body["outcomes"]] == ["ws-01", "ws-02", HASH]
    assert body["outcomes"][0]["action"]["observables"][0]["value"] == "ws-01"
    assert client.post(url, {"template": 999999}, format="json").status_code == 400
