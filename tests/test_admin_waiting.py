"""MDR Ops in the admin: since when each incident waits for the customer (shown, sorted, a pinned number of
queries) and the customer's open tasks per incident and per tenant."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from escalation.runs.lifecycle import incident_change_status
from incidents.customer_tasks import task_mark
from incidents.models import Incident, IncidentStatus, ResponseAction
from tenants.models import Performer, Role
from tests.factories import login_verified, make_analyst, make_incident, make_member, make_tenant, propose

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:incidents_incident_changelist")
TASKS = reverse("admin:incidents_customertask_changelist")
# session, user, user and group permissions, the queue views' counts, tenant filter, two counts, the page,
# date hierarchy (2): as without the column, which is a subquery of the page's own query.
CHANGELIST_QUERIES = 11


@pytest.fixture(autouse=True)
def fast_passwords(settings: Any) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def analyst_client(client: Client) -> Client:
    login_verified(client, make_analyst())
    return client


def waiting_since(incident: Incident, minutes_ago: int, code: str = "isolate_endpoint") -> ResponseAction:
    action = propose(incident, code, target=f"WS-{minutes_ago}")
    ResponseAction.objects.filter(pk=action.pk).update(
        proposed_at=timezone.now() - timedelta(minutes=minutes_ago)
    )
    return action


def sorted_by_waiting(client: Client, descending: bool = False) -> tuple[list[int], Any]:
    first = client.get(CHANGELIST)
    column = first.context["cl"].list_display.index("waiting_since")
    # Every status: a closed incident is listed too, and waits for nobody.
    response = client.get(CHANGELIST, {"o": f"{'-' if descending else ''}{column}", "status": "all"})
    return [i.pk for i in response.context["cl"].result_list], response


def test_the_incident_list_shows_and_sorts_by_waiting_for_the_customer_since(analyst_client: Client) -> None:
    tenant = make_tenant()
    recent, oldest, nothing, closed = (make_incident(tenant) for _ in range(4))
    waiting_since(recent, 5)
    waiting_since(oldest, 90)
    waiting_since(oldest, 20, code="block_ip")  # the oldest waiting action counts
    waiting_since(closed, 300)
    incident_change_status(incident=closed, status=IncidentStatus.CLOSED, by=None)

    order, response = sorted_by_waiting(analyst_client)
    assert order[:2] == [oldest.pk, recent.pk]
    assert set(order[2:]) == {nothing.pk, closed.pk}  # nothing waits for the customer there
    rows = {i.pk: i.waiting_since for i in response.context["cl"].result_list}
    assert rows[nothing.pk] is None and rows[closed.pk] is None
    assert timezone.now() - rows[oldest.pk] >= timedelta(minutes=90)
    assert "waiting for the customer since" in response.content.decode().lower()

    descending, _ = sorted_by_waiting(analyst_client, descending=True)
    assert [pk for pk in descending if pk in (oldest.pk, recent.pk)] == [recent.pk, oldest.pk]


def test_an_authorization_or_a_marked_task_ends_the_wait(analyst_client: Client) -> None:
    tenant = make_tenant(performers={"disable_user": Performer.CUSTOMER})
    incident = make_incident(tenant)
    task = waiting_since(incident, 30, code="disable_user")
    order, response = sorted_by_waiting(analyst_client)
    assert response.context["cl"].result_list[0].waiting_since is not None
    task_mark(task=task, by=make_member(tenant, Role.APPROVER), done=True)
    _, response = sorted_by_waiting(analyst_client)
    assert response.context["cl"].result_list[0].waiting_since is None


@pytest.mark.parametrize("incidents", [3, 15])
def test_the_sorted_list_query_count_does_not_grow_with_incidents(
    analyst_client: Client, django_assert_num_queries: Any, incidents: int
) -> None:
    tenant = make_tenant(performers={"disable_user": Performer.CUSTOMER})
    for n in range(incidents):
        incident = make_incident(tenant)
        waiting_since(incident, n)
        waiting_since(incident, n + 1, code="disable_user")
    column = analyst_client.get(CHANGELIST).context["cl"].list_display.index("waiting_since")
    with django_assert_num_queries(CHANGELIST_QUERIES):
        response = analyst_client.get(CHANGELIST, {"o": str(column)})
    assert len(response.context["cl"].result_list) == incidents


def test_mdr_ops_see_open_customer_tasks_per_incident_and_per_tenant(analyst_client: Client) -> None:
    performers = {"disable_user": Performer.CUSTOMER}
    tenant, other = make_tenant(performers=performers), make_tenant(performers=performers)
    first, second = make_incident(tenant), make_incident(tenant)
    open_task = propose(first, "disable_user", target="jdoe")
    marked = propose(first, "disable_user", target="asmith")
    task_mark(task=marked, by=make_member(tenant, Role.APPROVER), done=True)
    elsewhere = propose(second, "disable_user", target="bjones")
    propose(make_incident(other), "disable_user", target="cwong")
    propose(first, "isolate_endpoint")  # awaits authorization: no task

    listed = analyst_client.get(CHANGELIST)
    counts = {i.pk: i.open_tasks for i in listed.context["cl"].result_list}
    assert (counts[first.pk], counts[second.pk]) == (1, 1)
    # The link lists the tasks nobody has done: open ones and those marked not done.
    assert f"{TASKS}?incident={first.pk}&amp;task=undone" in listed.content.decode()

    per_incident = analyst_client.get(TASKS, {"incident": first.pk, "task": "open"})
    assert per_incident.status_code == 200
    assert [t.pk for t in per_incident.context["cl"].result_list] == [open_task.pk]
    per_tenant = analyst_client.get(TASKS, {"incident__tenant__id__exact": tenant.pk, "task": "open"})
    assert sorted(t.pk for t in per_tenant.context["cl"].result_list) == sorted([open_task.pk, elsewhere.pk])
    marked_list = analyst_client.get(TASKS, {"incident__tenant__id__exact": tenant.pk, "task": "marked"})
    assert [t.pk for t in marked_list.context["cl"].result_list] == [marked.pk]


def test_customer_tasks_are_read_only_in_the_admin(analyst_client: Client) -> None:
    tenant = make_tenant(performers={"disable_user": Performer.CUSTOMER})
    task = propose(make_incident(tenant), "disable_user", target="jdoe")
    change = reverse("admin:incidents_customertask_change", args=[task.pk])
    assert analyst_client.get(change).status_code == 200
    assert analyst_client.post(change, {"status": "done"}).status_code == 403
    assert ResponseAction.objects.get(pk=task.pk).status == "recommended"
