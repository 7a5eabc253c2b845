"""Case templates per incident type: MDR staff manage them in the admin (which refuses an action that does
not act on its observables' kind); applying one fills in the recommendations once (a case file edit) and
proposes its actions for the incident's observables of the right kind, one decision per target, except what
is already there, in the admin (when opening an incident too) and the API."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse

from escalation.runs.lifecycle import incident_change_status
from incidents.actions import action_cancel
from incidents.active_guard import IncidentClosed
from incidents.case_templates import TemplateApplied, case_template_apply, recommendations_with
from incidents.locks import incident_lock
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
from tests.factories import as_user, make_analyst, make_incident, make_member, make_tenant, propose
from tests.incident_admin import ADD_URL, change_url
from tests.threads import Holding, Running, at_once, wait_until, waiting_for_locks

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


def test_applying_twice_proposes_nothing_new_and_says_what_is_there(analyst: Any) -> None:
    incident = observed(make_incident(make_tenant()))
    template = ransomware()
    first = case_template_apply(incident=incident, template=template, by=analyst)

    again = case_template_apply(incident=incident, template=template, by=analyst)

    assert again.outcomes == [] and again.changed == []
    assert [(s.target, s.action) for s in again.skipped] == [(o.target, o.action) for o in first.outcomes]
    assert again.skipped[0].reason == (
        f"Already there: action #{first.outcomes[0].action.pk}, Isolate endpoint on ws-01 (Awaiting written "
        "authorization)."
    )

    assert len(proposed(incident)) == 3
    assert Incident.objects.get(pk=incident.pk).recommendations == ADVICE
    assert incident.events.filter(kind=EventKind.CASE_EDITED).count() == 1
    last = incident.events.filter(kind=EventKind.TEMPLATE_APPLIED).order_by("pk").last()
    assert last is not None and "already there: 3" in last.summary


def test_a_declined_failed_or_canceled_action_is_proposed_again_a_succeeded_one_is_not(analyst: Any) -> None:
    incident = observed(make_incident(make_tenant()))
    template = ransomware()
    ws01, ws02, block = (
        o.action for o in case_template_apply(incident=incident, template=template, by=analyst).outcomes
    )
    ResponseAction.objects.filter(pk=ws01.pk).update(status=ActionStatus.DECLINED)
    ResponseAction.objects.filter(pk=ws02.pk).update(status=ActionStatus.SUCCEEDED, basis="authorize_mode")
    ResponseAction.objects.filter(pk=block.pk).update(status=ActionStatus.FAILED, basis="authorize_mode")

    again = case_template_apply(incident=incident, template=template, by=analyst)

    assert [o.target for o in again.outcomes] == ["ws-01", HASH]
    assert {o.action.status for o in again.outcomes} == {ActionStatus.AWAITING_AUTHORIZATION}
    assert [(s.target, s.action) for s in again.skipped] == [("ws-02", ws02)]
    assert again.skipped[0].reason.endswith("on ws-02 (Succeeded).")
    newest = again.outcomes[0].action
    action_cancel(action=newest, by=analyst, reason="Isolated by the customer's own EDR.")
    third = case_template_apply(incident=incident, template=template, by=analyst)
    assert [o.target for o in third.outcomes] == ["ws-01"]
    assert len(proposed(incident)) == 6


def test_two_templates_sharing_an_action_propose_it_once(analyst: Any) -> None:
    incident = observed(make_incident(make_tenant()))
    worm = CaseTemplate.objects.create(incident_type="Worm", recommendations="Patch SMB.")
    CaseTemplateAction.objects.create(
        template=worm, action_type=action_type_by_code("isolate_endpoint"), observable_kind="host"
    )
    # An analyst isolated ws-01 by hand before, spelling it their way.
    by_hand = propose(incident, "isolate_endpoint", target="WS-01", by=analyst)

    case_template_apply(incident=incident, template=ransomware(), by=analyst)
    applied = case_template_apply(incident=incident, template=worm, by=analyst)

    assert applied.outcomes == []
    assert [s.target for s in applied.skipped] == ["ws-01", "ws-02"]
    assert applied.skipped[0].action == by_hand
    assert proposed(incident) == [
        ("isolate_endpoint", "WS-01"),
        ("isolate_endpoint", "ws-02"),
        ("block_sha256", HASH),
    ]
    assert Incident.objects.get(pk=incident.pk).recommendations == f"{ADVICE}\n\nPatch SMB."


def test_the_same_recommendations_with_other_line_breaks_come_once() -> None:
    assert recommendations_with("Isolate.\r\nReset passwords.", "Isolate.\nReset passwords.") == (
        "Isolate.\r\nReset passwords."
    )


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_analysts_applying_at_once_propose_each_action_once() -> None:
    incident = observed(make_incident(make_tenant()))
    template = ransomware()
    analysts = iter([make_analyst("ana"), make_analyst("bob")])
    results: list[TemplateApplied] = []

    def apply() -> None:
        results.append(case_template_apply(incident=incident, template=template, by=next(analysts)))

    # Both wait for the incident's lock together, then run one after the other, each checking what is there.
    with Holding(lambda: incident_lock(incident.pk)):
        both = Running(lambda: at_once(apply))
        both.start()
        wait_until(lambda: waiting_for_locks() >= 2, what="both applies wait for the incident")
    both.outcome()
    assert len(results) == 2
    assert sorted((len(r.outcomes), len(r.skipped)) for r in results) == [(0, 3), (3, 0)]
    assert len(proposed(incident)) == 3
    assert Incident.objects.get(pk=incident.pk).recommendations == ADVICE


def test_the_admin_refuses_an_action_that_does_not_act_on_its_observables(analyst_client: Client) -> None:
    url = reverse("admin:incidents_casetemplate_add")
    data = page_data(analyst_client.get(url))
    data.update(
        {
            "incident_type": "Business email compromise",
            "actions-0-action_type": action_type_by_code("isolate_endpoint").pk,
            "actions-0-observable_kind": "account",
        }
    )

    response = analyst_client.post(url, data)

    assert response.status_code == 200
    assert "Isolate endpoint acts on Host, IP address observables, not on Account ones." in (
        response.content.decode()
    )
    assert not CaseTemplate.objects.exists()


def test_a_template_saved_outside_the_rule_is_refused_whole(analyst: Any, analyst_client: Client) -> None:
    incident = observed(make_incident(make_tenant()))
    template = ransomware()
    CaseTemplateAction.objects.create(
        template=template, action_type=action_type_by_code("disable_user"), observable_kind="host"
    )

    with pytest.raises(ValidationError, match="cannot be applied until it is fixed"):
        case_template_apply(incident=incident, template=template, by=analyst)
    answer = as_user(analyst).post(
        f"/api/v1/incidents/{incident.pk}/apply-template/", {"template": template.pk}, format="json"
    )
    assert answer.status_code == 400
    assert "Disable user account acts on Account observables" in answer.json()["non_field_errors"][0]
    page = analyst_client.post(
        reverse("admin:incidents_incident_apply_template", args=[incident.pk]), {"template": template.pk}
    )
    assert page.status_code == 200 and "cannot be applied until it is fixed" in page.content.decode()
    assert not ResponseAction.objects.exists()
    assert Incident.objects.get(pk=incident.pk).recommendations == ""
    assert not incident.events.filter(kind=EventKind.TEMPLATE_APPLIED).exists()


def test_the_page_and_the_api_say_what_was_already_there(analyst: Any, analyst_client: Client) -> None:
    incident = observed(make_incident(make_tenant()))
    template = ransomware()
    first = case_template_apply(incident=incident, template=template, by=analyst)

    page = analyst_client.post(
        reverse("admin:incidents_incident_apply_template", args=[incident.pk]), {"template": template.pk}
    )
    body = as_user(analyst).post(
        f"/api/v1/incidents/{incident.pk}/apply-template/", {"template": template.pk}, format="json"
    )

    text = page.content.decode()
    assert "0 actions proposed; 3 already there, not proposed again" in text
    assert text.count("Not proposed again") == 3
    answer = body.json()
    assert answer["outcomes"] == [] and answer["changed"] == []
    assert [(s["target"], s["action_type"], s["action"]["id"]) for s in answer["skipped"]] == [
        (o.target, o.action.action_type.code, o.action.pk) for o in first.outcomes
    ]
    assert answer["skipped"][2]["reason"].startswith(f"Already there: action #{first.outcomes[2].action.pk}")


def test_an_incident_is_not_opened_with_a_template_the_rule_refuses(analyst_client: Client) -> None:
    tenant, template = make_tenant(), ransomware()
    CaseTemplateAction.objects.create(
        template=template, action_type=action_type_by_code("block_ip"), observable_kind="domain"
    )
    data = page_data(analyst_client.get(ADD_URL))
    data.update(tenant=tenant.pk, title="Ransomware on FS-01", severity="critical", case_template=template.pk)

    response = analyst_client.post(ADD_URL, data)

    assert response.status_code == 200 and "cannot be applied until it is fixed" in response.content.decode()
    assert not Incident.objects.exists()
