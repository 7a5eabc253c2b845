"""The partner's console pages: the customers it serves with counts made in SQL, one list of their incidents
and one of the partner's tasks, in keyset pages; another partner's customers never show, customers' users
get no console."""

from __future__ import annotations

import html
import re
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from incidents.models import ActionStatus, ActionType, Incident, IncidentStatus, ResponseAction, Severity
from incidents.partner_console import served_customers_with_counts
from tenants.models import Performer, Role
from tests.factories import (
    make_incident,
    make_member,
    make_partner,
    make_partner_user,
    make_tenant,
    portal,
    propose,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_passwords")]

PERFORMERS = {"block_ip": Performer.PARTNER, "disable_user": Performer.CUSTOMER}


def flag(incident: Incident) -> None:
    Incident.objects.filter(pk=incident.pk).update(needs_attention=True)


def set_status(row: Any, status: str) -> None:
    type(row).objects.filter(pk=row.pk).update(status=status)


@pytest.fixture
def world() -> dict[str, Any]:
    return console_world()


def console_world() -> dict[str, Any]:
    """Partner A serves `busy` (hand-made counts below) and `quiet` (nothing); partner B serves `other`,
    whose incident and task must never reach A."""
    a, b = make_partner("msp-a"), make_partner("msp-b")
    busy = make_tenant(partner=a, performers=PERFORMERS)
    quiet = make_tenant(partner=a)
    other = make_tenant(partner=b, performers=PERFORMERS)
    # busy: i1 holds an open task for A; i2 awaits written authorization and is flagged; i3 contained with
    # a task A marked done; i4 resolved, flagged, with an open customer task: only active incidents count.
    i1, i2, i3, i4 = (make_incident(busy) for _ in range(4))
    task = propose(i1, "block_ip", target="203.0.113.9")
    propose(i2, "isolate_endpoint")
    flag(i2)
    set_status(propose(i3, "block_ip", target="198.51.100.7"), ActionStatus.DONE)
    set_status(i3, IncidentStatus.CONTAINED)
    propose(i4, "disable_user", target="jdoe")
    set_status(i4, IncidentStatus.RESOLVED)
    flag(i4)
    elsewhere = make_incident(other)
    other_task = propose(elsewhere, "block_ip", target="192.0.2.1")
    return {
        "a": a,
        "b": b,
        "busy": busy,
        "quiet": quiet,
        "other": other,
        "incidents": [i1, i2, i3, i4],
        "task": task,
        "elsewhere": elsewhere,
        "other_task": other_task,
        "tech": make_partner_user(a, Role.VIEWER, "tech-a"),
    }


def test_counts_of_each_customer_are_computed_from_hand_made_data(world: dict[str, Any]) -> None:
    rows = {
        t.slug: (t.active, t.waiting, t.partner_tasks, t.flagged)
        for t in served_customers_with_counts(world["a"])
    }
    assert rows == {world["busy"].slug: (3, 2, 1, 1), world["quiet"].slug: (0, 0, 0, 0)}


def test_the_console_shows_the_partners_customers_with_counts_and_no_other(world: dict[str, Any]) -> None:
    response = portal(world["tech"]).get(reverse("partner_console", args=["msp-a"]))
    assert response.status_code == 200
    page = response.content.decode()
    assert f'id="customer-{world["busy"].pk}"' in page and f'id="customer-{world["quiet"].pk}"' in page
    assert world["other"].name not in page
    row = page.split(f'id="customer-{world["busy"].pk}"')[1].split("</tr>")[0]
    assert '<td class="active">3</td>' in row and '<span class="badge warn">2</span>' in row


def test_the_customer_counts_take_the_same_queries_however_many_customers(
    world: dict[str, Any], django_assert_num_queries: Any
) -> None:
    client = portal(world["tech"])
    url = reverse("partner_console", args=["msp-a"])
    with django_assert_num_queries(1):
        assert len(list(served_customers_with_counts(world["a"]))) == 2
    client.get(url)  # the session's first page reads the reader's time zone once, then keeps it
    with CaptureQueriesContext(connection) as few:
        client.get(url)
    for _ in range(4):
        tenant = make_tenant(partner=world["a"], performers=PERFORMERS)
        propose(make_incident(tenant), "block_ip", target="192.0.2.9")
    with CaptureQueriesContext(connection) as many:
        response = client.get(url)
    assert response.content.decode().count('id="customer-') == 6
    assert len(many) == len(few)


def test_the_incident_list_spans_the_customers_with_filters(world: dict[str, Any]) -> None:
    client = portal(world["tech"])
    url = reverse("partner_console_incidents", args=["msp-a"])
    page = client.get(url).content.decode()
    for incident in world["incidents"]:
        assert f'id="incident-{incident.pk}"' in page
        assert reverse("incidents:detail", args=[incident.pk]) in page
    assert f'id="incident-{world["elsewhere"].pk}"' not in page
    assert world["busy"].name in page

    flagged = client.get(url, {"needs_attention": "yes", "status": "open"}).content.decode()
    assert flagged.count('id="incident-') == 1 and f'id="incident-{world["incidents"][1].pk}"' in flagged
    assert client.get(url, {"customer": world["quiet"].pk}).content.decode().count('id="incident-') == 0
    assert client.get(url, {"severity": Severity.LOW}).content.decode().count('id="incident-') == 0


def test_naming_another_partners_customer_is_a_form_error(world: dict[str, Any]) -> None:
    response = portal(world["tech"]).get(
        reverse("partner_console_incidents", args=["msp-a"]), {"customer": world["other"].pk}
    )
    assert response.status_code == 400
    assert "Select a valid choice" in response.content.decode()


def test_a_row_opens_the_customers_incident_page_for_the_partner_user(world: dict[str, Any]) -> None:
    response = portal(world["tech"]).get(reverse("incidents:detail", args=[world["incidents"][0].pk]))
    assert response.status_code == 200


def test_the_task_list_holds_the_partners_tasks_open_first(world: dict[str, Any]) -> None:
    page = portal(world["tech"]).get(reverse("partner_console_tasks", args=["msp-a"])).content.decode()
    done = ResponseAction.objects.get(incident=world["incidents"][2])
    assert page.index(f'id="task-{world["task"].pk}"') < page.index(f'id="task-{done.pk}"')
    assert f'id="task-{world["other_task"].pk}"' not in page
    customer_task = ResponseAction.objects.get(incident=world["incidents"][3])
    assert f'id="task-{customer_task.pk}"' not in page  # the customer's own team performs it


def test_another_partner_and_customers_users_get_no_console(world: dict[str, Any]) -> None:
    other_tech = portal(make_partner_user(world["b"], Role.ADMIN, "tech-b"))
    customer = portal(make_member(world["busy"], Role.ADMIN))
    for name in ("partner_console", "partner_console_incidents", "partner_console_tasks"):
        url = reverse(name, args=["msp-a"])
        assert other_tech.get(url).status_code == 404
        assert customer.get(url).status_code == 404
    assert customer.get(reverse("partner_consoles")).status_code == 404
    assert other_tech.get(reverse("partner_consoles"))["Location"] == reverse(
        "partner_console", args=["msp-b"]
    )


def test_mdr_staff_may_open_any_partners_console(world: dict[str, Any], analyst: Any) -> None:
    response = portal(analyst).get(reverse("partner_console", args=["msp-b"]))
    assert response.status_code == 200 and f'id="customer-{world["other"].pk}"' in response.content.decode()


def test_the_partner_user_finds_the_console_from_the_customers_pages(world: dict[str, Any]) -> None:
    client = portal(world["tech"])
    assert (
        reverse("partner_console", args=["msp-a"]) in client.get(reverse("tenants:choose")).content.decode()
    )
    client.post(reverse("tenants:choose"), {"tenant": world["busy"].pk})
    assert reverse("partner_consoles") in client.get(reverse("incidents:list")).content.decode()


NEXT_LINK = re.compile(r'<a href="(\?[^"]*)">(?:Older|Next) →</a>')


def pages(client: Any, url: str, marker: str) -> list[int]:
    """Every row id of every page, following the next links."""
    ids: list[int] = []
    link: str | None = url
    while link:
        body = client.get(link).content.decode()
        ids += [int(part.split('"')[0]) for part in body.split(f'id="{marker}-')[1:]]
        following = NEXT_LINK.search(body)
        link = url + html.unescape(following.group(1)) if following else None
    return ids


def add_many(world: dict[str, Any], count: int) -> None:
    """`count` more incidents over the partner's two customers, each with a task for the partner, one in
    three marked not done."""
    now = timezone.now()
    busy, quiet = world["busy"], world["quiet"]
    # Every other incident opened at the same instant: ties on the time follow the id.
    made = Incident.objects.bulk_create(
        Incident(
            tenant=busy if n % 2 else quiet,
            title=f"Bulk {n}",
            policy={},
            opened_at=now - timezone.timedelta(minutes=n // 2),
        )
        for n in range(count)
    )
    block = ActionType.objects.get(code="block_ip")
    ResponseAction.objects.bulk_create(
        ResponseAction(
            incident=made[n],
            action_type=block,
            target=f"192.0.2.{n}",
            performer=Performer.PARTNER,
            status=ActionStatus.RECOMMENDED if n % 3 else ActionStatus.NOT_DONE,
        )
        for n in range(count)
    )


def test_incident_and_task_pages_follow_one_another_over_more_rows_than_a_page(world: dict[str, Any]) -> None:
    add_many(world, 45)
    client = portal(world["tech"])
    incidents = pages(client, reverse("partner_console_incidents", args=["msp-a"]), "incident")
    expected = list(
        Incident.objects.filter(tenant__partner=world["a"])
        .order_by("-opened_at", "-id")
        .values_list("pk", flat=True)
    )
    assert incidents == expected and len(expected) == 49

    tasks = pages(client, reverse("partner_console_tasks", args=["msp-a"]), "task")
    found = ResponseAction.objects.filter(pk__in=tasks).values_list("pk", "status")
    assert sorted(tasks) == sorted(pk for pk, _ in found) and len(tasks) == 47 == len(set(tasks))
    statuses = dict(found)
    opened = [statuses[pk] == ActionStatus.RECOMMENDED for pk in tasks]
    assert opened == sorted(opened, reverse=True)  # every open task before every marked one
