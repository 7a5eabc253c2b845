"""The incidents admin's authorize page: recording a customer's written decision, and who may use it."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from incidents.models import ActionStatus, Authorization, Basis, Channel, EventKind, Incident
from incidents.selectors import action_type_by_code
from tenants.models import Contact, ResponseMode
from tenants.services import contact_create
from tests.factories import kinds, login_verified, make_incident, make_tenant, make_user, propose
from tests.incident_admin import authorize_url, post_decision, propose_url

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_passwords")]


def test_recording_a_written_authorization_queues_exactly_the_chosen_actions(
    analyst_client: Client, analyst: Any, awaiting: tuple
) -> None:
    incident, isolate, block, disable = awaiting
    contact = incident.tenant.contacts.get(call_order=2)
    page = analyst_client.get(authorize_url(incident))
    assert list(page.context["form"].fields["actions"].queryset) == [isolate, block, disable]

    response = post_decision(
        analyst_client,
        incident,
        [isolate, block],
        contact=contact,
        evidence="Email from the CISO at 03:12: 'Yes, isolate WS-0142 and block the hash.'",
    )

    assert response.status_code == 302
    authorization = Authorization.objects.get(incident=incident)
    assert authorization.channel == Channel.ANALYST_RECORDED
    assert (authorization.contact, authorization.recorded_by, authorization.user) == (contact, analyst, None)
    assert authorization.decision == "granted"
    assert "Email from the CISO" in authorization.evidence
    assert f"Isolate endpoint on WS-0142 (action #{isolate.pk})" in authorization.text_shown
    assert f"(action #{block.pk})" in authorization.text_shown
    assert f"#{disable.pk}" not in authorization.text_shown
    assert [a["action"] for a in authorization.scope] == [isolate.pk, block.pk]
    for action in (isolate, block):
        action.refresh_from_db()
        assert (action.status, action.basis) == (ActionStatus.QUEUED, Basis.WRITTEN_AUTHORIZATION)
        assert action.authorization == authorization
    disable.refresh_from_db()
    assert disable.status == ActionStatus.AWAITING_AUTHORIZATION
    assert kinds(incident)[-3:] == [
        EventKind.AUTHORIZATION_GIVEN,
        EventKind.ACTION_QUEUED,
        EventKind.ACTION_QUEUED,
    ]


def test_recording_a_declined_decision_declines_the_actions(analyst_client: Client, awaiting: tuple) -> None:
    incident, isolate, *_ = awaiting

    response = post_decision(
        analyst_client,
        incident,
        [isolate],
        decision="declined",
        evidence="Ticket #881: 'Do not isolate, it is the payroll server.'",
    )

    assert response.status_code == 302
    isolate.refresh_from_db()
    assert (isolate.status, isolate.basis) == (ActionStatus.DECLINED, "")
    assert Authorization.objects.get(incident=incident).decision == "declined"


def _nothing_recorded(incident: Incident, actions: tuple) -> None:
    assert not Authorization.objects.filter(incident=incident).exists()
    for action in actions:
        action.refresh_from_db()
        assert (action.status, action.authorization) == (ActionStatus.AWAITING_AUTHORIZATION, None)
    assert EventKind.AUTHORIZATION_GIVEN not in kinds(incident)


@pytest.mark.parametrize("evidence", ["", "  \n "])
def test_recording_without_evidence_is_a_form_error_and_changes_nothing(
    analyst_client: Client, awaiting: tuple, evidence: str
) -> None:
    incident, *actions = awaiting

    response = post_decision(analyst_client, incident, actions, evidence=evidence)

    assert response.status_code == 200
    assert "evidence" in response.context["form"].errors
    _nothing_recorded(incident, actions)


@pytest.mark.parametrize(
    "contact",
    [{"can_authorize": False}, {"can_authorize": True, "active": False}],
    ids=["not allowed", "inactive"],
)
def test_contact_who_may_not_authorize_is_not_offered_and_is_refused(
    analyst_client: Client, awaiting: tuple, contact: dict[str, Any]
) -> None:
    incident, *actions = awaiting
    outsider = contact_create(
        tenant=incident.tenant, by=None, name="Receptionist", phone="+12025550177", **contact
    )

    offered = analyst_client.get(authorize_url(incident)).context["form"].fields["contact"].queryset
    assert outsider not in offered
    assert list(offered) == list(
        Contact.objects.filter(tenant=incident.tenant, can_authorize=True, active=True)
    )

    response = post_decision(analyst_client, incident, actions[:1], contact=outsider)

    assert response.status_code == 200
    assert "contact" in response.context["form"].errors
    _nothing_recorded(incident, actions)


def test_contact_of_another_tenant_is_refused(analyst_client: Client, awaiting: tuple) -> None:
    incident, *actions = awaiting
    stranger = make_tenant().contacts.first()

    response = post_decision(analyst_client, incident, actions[:1], contact=stranger)

    assert response.status_code == 200
    assert "contact" in response.context["form"].errors
    _nothing_recorded(incident, actions)


def test_action_of_another_incident_or_already_decided_is_refused(
    analyst_client: Client, awaiting: tuple
) -> None:
    incident, *actions = awaiting
    other = propose(make_incident(incident.tenant), "isolate_endpoint")
    queued = propose(make_incident(make_tenant(mode=ResponseMode.AUTHORIZE)), "isolate_endpoint")

    for action in (other, queued):
        response = post_decision(analyst_client, incident, [action])
        assert response.status_code == 200
        assert "actions" in response.context["form"].errors
    _nothing_recorded(incident, actions)


# Permissions


def test_staff_user_without_add_authorization_gets_403_on_the_authorize_page(client: Client) -> None:
    incident = make_incident(make_tenant())
    propose(incident, "isolate_endpoint")
    login_verified(client, make_user("staffer", staff=True))

    assert client.get(authorize_url(incident)).status_code == 403
    response = post_decision(client, incident, [incident.actions.get()])
    assert response.status_code == 403
    assert not Authorization.objects.exists()


def test_staff_user_without_add_responseaction_gets_403_on_the_propose_page(client: Client) -> None:
    incident = make_incident(make_tenant())
    login_verified(client, make_user("staffer", staff=True))

    assert client.get(propose_url(incident)).status_code == 403
    response = client.post(
        propose_url(incident), {"action_type": action_type_by_code("isolate_endpoint").pk, "target": "WS-1"}
    )
    assert response.status_code == 403
    assert not incident.actions.exists()


@pytest.mark.parametrize("url", [propose_url, authorize_url])
def test_customer_user_is_sent_to_the_admin_login(client: Client, url: Any) -> None:
    incident = make_incident(make_tenant())
    login_verified(client, make_user("customer"))

    response = client.get(url(incident))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))
