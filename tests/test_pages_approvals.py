"""Written decisions and acknowledgment in the customer's portal: exactly the actions and text shown, once."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse

from escalation.models import Acknowledgment
from incidents.models import ActionStatus, Authorization, Channel, Incident, ResponseAction
from incidents.selectors import authorization_text
from mdrportal.web.incident_views import STATEMENT_REQUIRED
from tenants.models import Role, Tenant
from tests.factories import client_for, make_incident, make_tenant, propose

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_passwords")]


APPROVALS = reverse("incidents:approvals")


# Approvals and acknowledgment ------------------------------------------------------------------------


@pytest.fixture
def incident(tenant: Tenant) -> Incident:
    return make_incident(tenant)


@pytest.fixture
def isolate(incident: Incident) -> ResponseAction:
    """An isolation of WS-0142 awaiting the customer's authorization."""
    return propose(incident, "isolate_endpoint")


def test_an_approver_authorizes_the_ticked_actions_with_the_exact_text_shown(
    tenant: Tenant, incident: Incident, isolate: ResponseAction
) -> None:
    block = propose(incident, "block_ip", target="203.0.113.9")
    client, approver = client_for(tenant, Role.APPROVER)

    page = client.get(APPROVALS)
    html = page.content.decode()
    shown = authorization_text(incident, [isolate, block]).split("\n")
    assert all(line in html.replace("&ldquo;", "\u201c").replace("&rdquo;", "\u201d") for line in shown[1:])
    assert "Cut the endpoint off the network" in html  # what the action does

    response = client.post(
        reverse("incidents:decide", args=[incident.pk]),
        {"actions": [isolate.pk], "decision": "granted", "statement": "Go ahead and isolate it."},
        REMOTE_ADDR="198.51.100.7",
        HTTP_USER_AGENT="pytest",
    )

    assert response.status_code == 302
    authorization = Authorization.objects.get()
    assert authorization.channel == Channel.PORTAL
    assert (authorization.user, authorization.decision) == (approver, Authorization.Decision.GRANTED)
    assert authorization.text_shown == authorization_text(incident, [isolate])
    assert authorization.statement == "Go ahead and isolate it."
    assert (authorization.ip_address, authorization.user_agent) == ("198.51.100.7", "pytest")
    assert [s["action"] for s in authorization.scope] == [isolate.pk]
    isolate.refresh_from_db()
    block.refresh_from_db()
    assert isolate.status == ActionStatus.QUEUED
    assert block.status == ActionStatus.AWAITING_AUTHORIZATION
    assert [p.incident.pk for p in client.get(APPROVALS).context["pending"]] == [incident.pk]


def test_an_approver_declines_in_writing(tenant: Tenant, incident: Incident, isolate: ResponseAction) -> None:
    client, _ = client_for(tenant, Role.ADMIN)

    client.post(
        reverse("incidents:decide", args=[incident.pk]),
        {"actions": [isolate.pk], "decision": "declined", "statement": "Not the CEO's laptop."},
    )

    isolate.refresh_from_db()
    assert isolate.status == ActionStatus.DECLINED
    assert Authorization.objects.get().decision == Authorization.Decision.DECLINED
    assert client.get(APPROVALS).context["pending"] == []


@pytest.mark.parametrize(
    ("data", "error"),
    [
        ({"decision": "granted", "statement": ""}, STATEMENT_REQUIRED),
        ({"decision": "granted", "statement": "ok", "actions": []}, "Tick at least one action."),
        ({"decision": "maybe", "statement": "ok"}, "Choose to authorize or to decline."),
    ],
)
def test_a_decision_needs_a_statement_a_choice_and_actions(
    data: dict[str, Any], error: str, tenant: Tenant, incident: Incident, isolate: ResponseAction
) -> None:
    client, _ = client_for(tenant, Role.APPROVER)
    data.setdefault("actions", [isolate.pk])

    response = client.post(reverse("incidents:decide", args=[incident.pk]), data)

    assert response.status_code == 400
    assert error in response.content.decode()
    assert not Authorization.objects.exists()


def test_an_action_decided_meanwhile_is_not_decided_twice(
    tenant: Tenant, incident: Incident, isolate: ResponseAction
) -> None:
    client, _ = client_for(tenant, Role.APPROVER)
    data = {"actions": [isolate.pk], "decision": "granted", "statement": "yes"}
    client.post(reverse("incidents:decide", args=[incident.pk]), data)

    response = client.post(reverse("incidents:decide", args=[incident.pk]), data)

    assert response.status_code == 400
    assert "no longer awaiting authorization" in response.content.decode()
    assert Authorization.objects.count() == 1


def test_an_action_of_another_incident_cannot_be_slipped_into_the_decision() -> None:
    tenant = make_tenant()
    incident, second = make_incident(tenant), make_incident(tenant)
    propose(incident, "isolate_endpoint")
    foreign = propose(second, "isolate_endpoint")
    client, _ = client_for(tenant, Role.APPROVER)

    response = client.post(
        reverse("incidents:decide", args=[incident.pk]),
        {"actions": [foreign.pk], "decision": "granted", "statement": "yes"},
    )

    assert response.status_code == 400
    assert not Authorization.objects.exists()


def test_an_approver_acknowledges_in_the_portal_and_it_authorizes_nothing(
    tenant: Tenant, incident: Incident, isolate: ResponseAction
) -> None:
    client, approver = client_for(tenant, Role.APPROVER)
    assert [i.pk for i in client.get(APPROVALS).context["unacknowledged"]] == [incident.pk]

    response = client.post(reverse("incidents:acknowledge", args=[incident.pk]), follow=True)

    ack = Acknowledgment.objects.get()
    assert (ack.incident, ack.user, ack.channel, ack.contact) == (incident, approver, Channel.PORTAL, None)
    assert "This is not an authorization" in response.content.decode()
    assert response.context["acknowledged"] is not None
    assert response.context["can_acknowledge"] is False
    isolate.refresh_from_db()
    assert isolate.status == ActionStatus.AWAITING_AUTHORIZATION
    assert list(client.get(APPROVALS).context["unacknowledged"]) == []
