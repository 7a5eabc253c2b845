"""The thread between the customer's users and MDR Ops: pages and API, each message a timeline event, a
customer's message marking the incident "customer responded" until MDR Ops answers; nothing authorized."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from incidents.models import EventKind, Incident, Message
from incidents.queue import queue_counts
from incidents.thread import message_post
from tenants.models import Role
from tests.factories import as_user, make_incident, make_member, make_tenant, portal, propose
from tests.incident_admin import CHANGELIST, shown

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_passwords")]


def test_a_viewer_writes_from_the_incident_page_and_the_queue_shows_the_customer_responded(
    analyst_client: Client, analyst: Any
) -> None:
    incident = make_incident(make_tenant())
    viewer = make_member(incident.tenant, Role.VIEWER)
    action = propose(incident, "isolate_endpoint")
    client = portal(viewer)
    page = client.get(reverse("incidents:detail", args=[incident.pk])).content.decode()
    assert "A message never authorizes an action" in page

    response = client.post(
        reverse("incidents:message", args=[incident.pk]), {"body": "Yes, go ahead and isolate"}
    )

    assert response.status_code == 302
    (event,) = incident.events.filter(kind=EventKind.MESSAGE)
    assert (event.summary, event.actor, event.data["side"]) == (
        "Yes, go ahead and isolate",
        viewer,
        "customer",
    )
    assert Incident.objects.get(pk=incident.pk).customer_responded_at is not None
    assert shown(analyst_client.get(CHANGELIST, {"view": "responded"})) == [incident.pk]
    assert queue_counts(user=analyst)["responded"] == 1
    # Words in a message are no authorization.
    action.refresh_from_db()
    assert action.status == "awaiting_authorization" and not incident.authorizations.exists()
    assert (
        "Yes, go ahead and isolate"
        in client.get(reverse("incidents:detail", args=[incident.pk])).content.decode()
    )


def test_mdr_answering_in_the_api_clears_customer_responded(analyst: Any) -> None:
    incident = make_incident(make_tenant())
    admin = make_member(incident.tenant, Role.ADMIN)
    message_post(incident=incident, body="Is FS-01 still isolated?", side="customer", by=admin)

    response = as_user(analyst).post(
        f"/api/v1/incidents/{incident.pk}/messages/", {"body": "Yes, until you tell us."}, format="json"
    )

    assert response.status_code == 201, response.json()
    assert (response.json()["side"], response.json()["author"]) == ("mdr", analyst.username)
    assert Incident.objects.get(pk=incident.pk).customer_responded_at is None
    read = as_user(admin).get(f"/api/v1/incidents/{incident.pk}/messages/").json()
    assert [(m["side"], m["body"]) for m in read] == [
        ("customer", "Is FS-01 still isolated?"),
        ("mdr", "Yes, until you tell us."),
    ]


@pytest.mark.parametrize("role", list(Role))
def test_every_role_of_the_tenant_writes_as_the_customer(role: Role) -> None:
    incident = make_incident(make_tenant())

    response = as_user(make_member(incident.tenant, role)).post(
        f"/api/v1/incidents/{incident.pk}/messages/", {"body": "We rebooted WS-0142."}, format="json"
    )

    assert response.status_code == 201 and response.json()["side"] == "customer"


def test_an_outsider_neither_reads_nor_writes() -> None:
    incident = make_incident(make_tenant())
    outsider = make_member(make_tenant(), Role.ADMIN)

    api = as_user(outsider)
    assert api.get(f"/api/v1/incidents/{incident.pk}/messages/").status_code == 404
    assert (
        api.post(f"/api/v1/incidents/{incident.pk}/messages/", {"body": "hi"}, format="json").status_code
        == 404
    )
    page = portal(outsider).post(reverse("incidents:message", args=[incident.pk]), {"body": "hi"})
    assert page.status_code == 404
    assert not Message.objects.exists()


def test_an_empty_message_is_refused(analyst: Any) -> None:
    incident = make_incident(make_tenant())

    response = as_user(analyst).post(
        f"/api/v1/incidents/{incident.pk}/messages/", {"body": "   "}, format="json"
    )

    assert response.status_code == 400 and set(response.json()) == {"body"}
    assert not Message.objects.exists()


def test_an_analyst_writes_to_the_customer_from_the_incident_page(
    analyst_client: Client, analyst: Any
) -> None:
    incident = make_incident(make_tenant())
    viewer = make_member(incident.tenant, Role.VIEWER)
    message_post(incident=incident, body="Can you call us back?", side="customer", by=viewer)
    change = reverse("admin:incidents_incident_change", args=[incident.pk])
    page = analyst_client.get(change).content.decode()
    assert f"/admin/incidents/message/add/?incident={incident.pk}" in page and "Can you call us back?" in page

    response = analyst_client.post(
        reverse("admin:incidents_message_add"), {"incident": incident.pk, "body": "Calling you now."}
    )

    assert (response.status_code, response["Location"]) == (302, change)
    last = Message.objects.order_by("id").last()
    assert (last.side, last.author, last.body) == ("mdr", analyst, "Calling you now.")
    assert Incident.objects.get(pk=incident.pk).customer_responded_at is None
    assert (
        "Calling you now."
        in portal(viewer).get(reverse("incidents:detail", args=[incident.pk])).content.decode()
    )
