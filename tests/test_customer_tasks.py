"""The customer's tasks in the portal: the side that performs a task marks it done or not done with a note;
its status says so, the timeline says who; the others are refused."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse

from escalation.runs.lifecycle import incident_change_status
from incidents.customer_tasks import task_mark
from incidents.models import ActionStatus, Channel, EventKind, IncidentStatus, ResponseAction
from tenants.models import Performer, Role
from tests.factories import make_analyst, make_member, make_tasks, make_tenant, portal, propose

pytestmark = pytest.mark.django_db


@pytest.fixture
def tasks() -> dict[str, Any]:
    """A tenant served by a partner: one task for the customer's team, one for the partner."""
    world = make_tasks("msp-tasks")
    return {**world, "viewer": make_member(world["tenant"], Role.VIEWER)}


def status_of(action: ResponseAction) -> str:
    return ResponseAction.objects.values_list("status", flat=True).get(pk=action.pk)


def test_a_recommendation_to_the_customer_or_the_partner_is_an_open_task(tasks: dict[str, Any]) -> None:
    assert (tasks["customer"].status, tasks["customer"].performer) == (
        ActionStatus.RECOMMENDED,
        Performer.CUSTOMER,
    )
    assert (tasks["partner"].status, tasks["partner"].performer) == (
        ActionStatus.RECOMMENDED,
        Performer.PARTNER,
    )
    page = portal(tasks["viewer"]).get(reverse("incidents:tasks")).content.decode()
    assert f'id="task-{tasks["customer"].pk}"' in page and f'id="task-{tasks["partner"].pk}"' in page
    assert "Mark done" not in page  # a viewer reads


def test_the_customers_approver_marks_its_task_done_with_a_note_on_the_timeline(
    tasks: dict[str, Any],
) -> None:
    client = portal(tasks["approver"])
    page = client.get(reverse("incidents:tasks")).content.decode()
    assert reverse("incidents:task_mark", args=[tasks["customer"].pk]) in page
    assert reverse("incidents:task_mark", args=[tasks["partner"].pk]) not in page  # the partner's to mark

    response = client.post(
        reverse("incidents:task_mark", args=[tasks["customer"].pk]),
        {"done": "yes", "note": "Disabled in AD."},
    )
    assert response.status_code == 302
    assert status_of(tasks["customer"]) == ActionStatus.DONE
    event = tasks["incident"].events.get(kind=EventKind.TASK_MARKED)
    assert (event.actor, event.channel, event.data["note"]) == (
        tasks["approver"],
        Channel.PORTAL,
        "Disabled in AD.",
    )
    timeline = client.get(reverse("incidents:detail", args=[tasks["incident"].pk])).content.decode()
    assert f"Marked done by {tasks['approver'].username}: Disabled in AD." in timeline


def test_not_done_needs_a_note_and_may_later_become_done_but_done_is_final(tasks: dict[str, Any]) -> None:
    client = portal(tasks["approver"])
    url = reverse("incidents:task_mark", args=[tasks["customer"].pk])
    refused = client.post(url, {"done": "no", "note": "  "})
    assert refused.status_code == 400
    assert "Say why it was not done." in refused.content.decode()
    assert status_of(tasks["customer"]) == ActionStatus.RECOMMENDED

    assert client.post(url, {"done": "no", "note": "The account runs payroll."}).status_code == 302
    assert status_of(tasks["customer"]) == ActionStatus.NOT_DONE
    assert client.post(url, {"done": "yes", "note": "Done after payroll."}).status_code == 302
    assert status_of(tasks["customer"]) == ActionStatus.DONE
    again = client.post(url, {"done": "yes"})
    assert again.status_code == 400
    assert status_of(tasks["customer"]) == ActionStatus.DONE
    assert tasks["incident"].events.filter(kind=EventKind.TASK_MARKED).count() == 2


def test_each_side_marks_only_its_own_tasks(tasks: dict[str, Any]) -> None:
    technician, approver = tasks["technician"], tasks["approver"]
    client = portal(technician, tasks["tenant"])
    assert (
        client.post(reverse("incidents:task_mark", args=[tasks["customer"].pk]), {"done": "yes"}).status_code
        == 403
    )
    assert (
        portal(approver)
        .post(reverse("incidents:task_mark", args=[tasks["partner"].pk]), {"done": "yes"})
        .status_code
        == 403
    )
    assert (
        portal(tasks["viewer"])
        .post(reverse("incidents:task_mark", args=[tasks["customer"].pk]), {"done": "yes"})
        .status_code
        == 403
    )
    outsider = make_member(make_tenant(), Role.ADMIN)
    assert (
        portal(outsider)
        .post(reverse("incidents:task_mark", args=[tasks["customer"].pk]), {"done": "yes"})
        .status_code
        == 404
    )
    with pytest.raises(PermissionDenied):
        task_mark(
            task=tasks["customer"], by=make_analyst(), done=True
        )  # MDR staff never mark for the customer
    assert status_of(tasks["customer"]) == status_of(tasks["partner"]) == ActionStatus.RECOMMENDED
    assert not tasks["incident"].events.filter(kind=EventKind.TASK_MARKED).exists()


def test_a_task_of_a_closed_incident_cannot_be_marked(tasks: dict[str, Any]) -> None:
    incident_change_status(incident=tasks["incident"], status=IncidentStatus.CLOSED, by=make_analyst())
    with pytest.raises(ValidationError) as refused:
        task_mark(task=tasks["customer"], by=tasks["approver"], done=True)
    assert refused.value.code == "incident_closed"


def test_an_action_awaiting_authorization_is_no_task(tasks: dict[str, Any]) -> None:
    isolate = propose(tasks["incident"], "isolate_endpoint")
    assert (
        portal(tasks["approver"])
        .post(reverse("incidents:task_mark", args=[isolate.pk]), {"done": "yes"})
        .status_code
        == 404
    )
    assert status_of(isolate) == ActionStatus.AWAITING_AUTHORIZATION


def test_the_home_page_says_since_when_the_customer_is_waited_for(tasks: dict[str, Any]) -> None:
    page = portal(tasks["viewer"]).get(reverse("home"))
    since = tasks["customer"].proposed_at
    assert page.context["waiting_since"] == since
    assert page.context["open_tasks"] == 2
    assert "Waiting for you since" in page.content.decode()
    task_mark(task=tasks["customer"], by=tasks["approver"], done=True)
    task_mark(task=tasks["partner"], by=tasks["technician"], done=True)
    page = portal(tasks["viewer"]).get(reverse("home"))
    assert page.context["waiting_since"] is None and page.context["open_tasks"] == 0


def test_the_tasks_page_names_whose_each_task_is_whoever_reads_it(tasks: dict[str, Any]) -> None:
    """A partner's technician read "for your team" beside the customer's own tasks."""
    tenant = tasks["tenant"]
    for reader in (portal(tasks["technician"], tenant), portal(tasks["approver"])):
        page = reader.get(reverse("incidents:tasks")).content.decode().replace("&#x27;", "'")
        assert "your team" not in page and "your partner" not in page
        customer = page.split(f'id="task-{tasks["customer"].pk}"', 1)[1].split("</div>", 1)[0]
        partner = page.split(f'id="task-{tasks["partner"].pk}"', 1)[1].split("</div>", 1)[0]
        assert f"for {tenant.name}'s own team" in customer
        assert f"for the partner, {tenant.partner.name}" in partner
