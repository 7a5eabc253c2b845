"""The partner console's API: the served customers with their counts, incidents and the partner's tasks across
customers, in cursor pages; scoped to the partner's own customers."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from incidents.models import ActionStatus, Incident, ResponseAction
from tenants.models import Role
from tests.factories import as_user, make_member, make_partner_user, make_tenant
from tests.test_partner_console import PERFORMERS, add_many, console_world

pytestmark = pytest.mark.django_db


@pytest.fixture
def world() -> dict[str, Any]:
    return console_world()


def every_page(client: Any, url: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    body = client.get(url, params or {}).json()
    while True:
        rows += body["results"]
        if not body["next"]:
            return rows
        body = client.get(body["next"]).json()


def test_the_customers_come_with_their_counts(world: dict[str, Any]) -> None:
    response = as_user(world["tech"]).get("/api/v1/partners/msp-a/customers/")
    assert response.status_code == 200
    rows = {row["slug"]: row for row in response.json()["results"]}
    assert set(rows) == {world["busy"].slug, world["quiet"].slug}
    busy = rows[world["busy"].slug]
    assert (
        busy["active_incidents"],
        busy["waiting_on_customer"],
        busy["partner_tasks"],
        busy["flagged"],
    ) == (
        3,
        2,
        1,
        1,
    )
    assert rows[world["quiet"].slug]["active_incidents"] == 0


def test_the_customers_take_the_same_queries_however_many(world: dict[str, Any]) -> None:
    client = as_user(world["tech"])
    client.get("/api/v1/partners/msp-a/customers/")  # the token's first use is recorded once
    with CaptureQueriesContext(connection) as few:
        client.get("/api/v1/partners/msp-a/customers/")
    for _ in range(3):
        make_tenant(partner=world["a"], performers=PERFORMERS)
    with CaptureQueriesContext(connection) as many:
        assert len(client.get("/api/v1/partners/msp-a/customers/").json()["results"]) == 5
    assert len(many) == len(few) == 3, [q["sql"][:120] for q in many]


def test_incidents_span_the_customers_in_cursor_pages_with_filters(world: dict[str, Any]) -> None:
    add_many(world, 60)
    client = as_user(world["tech"])
    rows = every_page(client, "/api/v1/partners/msp-a/incidents/")
    expected = Incident.objects.filter(tenant__partner=world["a"]).order_by("-opened_at", "-id")
    assert [row["id"] for row in rows] == list(expected.values_list("pk", flat=True))
    assert len(rows) == 64 and {row["tenant_name"] for row in rows} == {
        world["busy"].name,
        world["quiet"].name,
    }
    assert world["elsewhere"].pk not in {row["id"] for row in rows}

    flagged = every_page(
        client, "/api/v1/partners/msp-a/incidents/", {"needs_attention": "true", "status": "open"}
    )
    assert [row["id"] for row in flagged] == [world["incidents"][1].pk]
    assert flagged[0]["waiting_since"] is not None
    quiet = every_page(client, "/api/v1/partners/msp-a/incidents/", {"tenant": world["quiet"].pk})
    assert {row["tenant"] for row in quiet} == {world["quiet"].pk}


def test_naming_a_customer_the_partner_does_not_serve_is_a_400(world: dict[str, Any]) -> None:
    client = as_user(world["tech"])
    for kind in ("incidents", "tasks"):
        response = client.get(f"/api/v1/partners/msp-a/{kind}/", {"tenant": world["other"].pk})
        assert response.status_code == 400
        assert response.json()["tenant"] == ["Not a customer of this partner."]
    assert client.get("/api/v1/partners/msp-a/tasks/", {"status": "lost"}).status_code == 400


def test_tasks_come_open_first_in_cursor_pages(world: dict[str, Any]) -> None:
    add_many(world, 50)
    client = as_user(world["tech"])
    rows = every_page(client, "/api/v1/partners/msp-a/tasks/")
    assert len(rows) == 52 == len({row["id"] for row in rows})
    opened = [row["status"] == ActionStatus.RECOMMENDED for row in rows]
    assert opened == sorted(opened, reverse=True)
    assert world["other_task"].pk not in {row["id"] for row in rows}
    open_only = every_page(client, "/api/v1/partners/msp-a/tasks/", {"status": "open"})
    assert {row["status"] for row in open_only} == {ActionStatus.RECOMMENDED}
    assert (
        len(open_only)
        == ResponseAction.objects.filter(
            incident__tenant__partner=world["a"], performer="partner", status=ActionStatus.RECOMMENDED
        ).count()
    )


def test_another_partner_and_customers_users_are_refused(world: dict[str, Any]) -> None:
    strangers = [
        as_user(make_partner_user(world["b"], Role.ADMIN, "tech-b")),
        as_user(make_member(world["busy"], Role.ADMIN)),
    ]
    for client in strangers:
        for kind in ("customers", "incidents", "tasks"):
            assert client.get(f"/api/v1/partners/msp-a/{kind}/").status_code == 404


def test_mdr_staff_read_any_partners_console(world: dict[str, Any], analyst: Any) -> None:
    response = as_user(analyst).get("/api/v1/partners/msp-b/customers/")
    assert response.status_code == 200
    assert [row["id"] for row in response.json()["results"]] == [world["other"].pk]
