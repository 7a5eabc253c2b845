"""REST API: reading incidents (filters, cursor pages, pinned queries), their timelines and the action catalog."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from django.contrib.auth.models import Permission
from drf_spectacular.generators import SchemaGenerator

from escalation.runs.lifecycle import incident_change_status
from incidents.models import Incident, Severity, TimelineEvent
from tenants.models import Role, Tenant
from tests.factories import as_user, make_analyst, make_incident, make_member, make_tenant, make_user, propose

pytestmark = pytest.mark.django_db


EVENT_FIELDS = {"id", "at", "kind", "actor", "channel", "summary", "data"}


# Reading incidents


def test_customers_see_only_their_tenants_incidents_and_another_is_a_404(analyst: Any) -> None:
    mine, other = make_tenant(), make_tenant()
    own, foreign = make_incident(mine), make_incident(other)
    client = as_user(make_member(mine, Role.VIEWER))
    body = client.get("/api/v1/incidents/").json()
    assert [i["id"] for i in body["results"]] == [own.pk]
    # a row of the list reads as the incident itself (its fields are pinned by the opening test above)
    assert body["results"] == [client.get(f"/api/v1/incidents/{own.pk}/").json()]
    assert client.get(f"/api/v1/incidents/{own.pk}/").status_code == 200
    assert client.get(f"/api/v1/incidents/{foreign.pk}/").status_code == 404
    staff = as_user(analyst).get("/api/v1/incidents/").json()
    assert {i["id"] for i in staff["results"]} == {own.pk, foreign.pk}


def test_incidents_are_filtered_by_tenant_status_severity_and_dates(analyst: Any) -> None:
    first, second = make_tenant(), make_tenant()
    old = make_incident(first, severity="low")
    Incident.objects.filter(pk=old.pk).update(opened_at=datetime(2026, 1, 10, 12, tzinfo=UTC))
    new = make_incident(first, severity="critical")
    Incident.objects.filter(pk=new.pk).update(opened_at=datetime(2026, 3, 1, 8, tzinfo=UTC))
    closed = make_incident(second, severity="critical")
    Incident.objects.filter(pk=closed.pk).update(opened_at=datetime(2026, 3, 2, 8, tzinfo=UTC))
    incident_change_status(incident=closed, status="closed", by=None)
    client = as_user(analyst)

    def ids(query: str) -> list[int]:
        response = client.get(f"/api/v1/incidents/?{query}")
        assert response.status_code == 200, response.json()
        return [i["id"] for i in response.json()["results"]]

    assert ids(f"tenant={first.pk}") == [new.pk, old.pk]
    assert ids("status=closed") == [closed.pk]
    assert ids("severity=critical") == [closed.pk, new.pk]
    assert ids("opened_after=2026-02-01") == [closed.pk, new.pk]
    assert ids("opened_before=2026-03-02") == [new.pk, old.pk]
    assert ids("opened_after=2026-03-01&opened_before=2026-03-02") == [new.pk]
    assert ids("opened_after=2026-03-01T09:00:00Z") == [closed.pk]
    assert ids(f"tenant={second.pk}&severity=low") == []
    # Several values, repeated or comma-separated, as in the analysts' queue.
    assert ids("status=open&status=closed") == [closed.pk, new.pk, old.pk]
    assert ids("status=closed,contained") == [closed.pk]
    assert ids("severity=low,critical&status=open") == [new.pk, old.pk]
    assert ids("severity=low&severity=high") == [old.pk]


def test_several_values_with_one_unknown_are_a_400_naming_the_field(analyst: Any) -> None:
    response = as_user(analyst).get("/api/v1/incidents/?status=open,burning&severity=low")
    assert response.status_code == 400
    assert set(response.json()) == {"status"}


def test_a_filter_given_with_no_value_is_a_400_naming_the_field(analyst: Any) -> None:
    for query in ("status=", "status=,", "status=%20&severity=low"):
        response = as_user(analyst).get(f"/api/v1/incidents/?{query}")
        assert response.status_code == 400, query
        assert set(response.json()) == {"status"}, query


def test_the_schema_says_status_and_severity_take_several_values() -> None:
    schema = SchemaGenerator().get_schema(request=None, public=True)
    params = {p["name"]: p for p in schema["paths"]["/api/v1/incidents/"]["get"]["parameters"]}
    for name in ("status", "severity"):
        assert params[name]["schema"]["type"] == "array"
        assert "open" in params["status"]["schema"]["items"]["enum"]


def test_bad_filters_are_a_400_with_field_errors() -> None:
    response = as_user(make_analyst()).get(
        "/api/v1/incidents/?status=burning&severity=x&opened_after=yesterday&tenant=abc"
    )
    assert response.status_code == 400
    assert set(response.json()) == {"status", "severity", "opened_after", "tenant"}
    response = as_user(make_analyst("a2")).get(
        "/api/v1/incidents/?opened_after=2026-03-02&opened_before=2026-03-01"
    )
    assert response.status_code == 400
    assert set(response.json()) == {"opened_before"}


def test_the_incident_list_is_paginated_by_50_with_cursors_and_no_count(tenant: Tenant, viewer: Any) -> None:
    opened = [make_incident(tenant) for _ in range(52)]
    # Two incidents opened at the same instant across the page boundary: neither is lost nor repeated.
    Incident.objects.filter(pk__in=[opened[1].pk, opened[2].pk]).update(opened_at=opened[1].opened_at)
    client = as_user(viewer)
    page = client.get("/api/v1/incidents/").json()
    assert (set(page), len(page["results"]), page["previous"]) == ({"next", "previous", "results"}, 50, None)
    assert "cursor=" in page["next"]
    rest = client.get(page["next"]).json()
    assert len(rest["results"]) == 2 and rest["next"] is None
    seen = [row["id"] for row in page["results"] + rest["results"]]
    newest_first = Incident.objects.order_by("-opened_at", "-id").values_list("pk", flat=True)
    assert seen == list(newest_first)
    back = client.get(rest["previous"]).json()
    assert [row["id"] for row in back["results"]] == seen[:50]
    assert client.get("/api/v1/incidents/?cursor=not-a-cursor").status_code == 404


def test_the_cursor_keeps_the_filters(tenant: Tenant, viewer: Any) -> None:
    for _ in range(51):
        make_incident(tenant, severity=Severity.LOW)
    make_incident(tenant, severity=Severity.CRITICAL)
    client = as_user(viewer)
    page = client.get("/api/v1/incidents/?severity=low").json()
    rest = client.get(page["next"]).json()
    assert "severity=low" in page["next"]
    assert {row["severity"] for row in page["results"] + rest["results"]} == {"low"}
    assert len(page["results"]) + len(rest["results"]) == 51


@pytest.mark.parametrize("rows", [3, 15])
def test_the_incident_list_takes_the_same_queries_for_any_number_of_rows(
    rows: int, django_assert_num_queries: Any, tenant: Tenant, viewer: Any
) -> None:
    for _ in range(rows):
        make_incident(tenant)
    client = as_user(viewer)
    client.get("/api/v1/action-types/")  # the token's first use is recorded once, not on every request
    # Token and user, page: no count.
    with django_assert_num_queries(2):
        response = client.get("/api/v1/incidents/")
    assert len(response.json()["results"]) == rows


# Timeline


def test_the_timeline_lists_every_fact_in_order_with_actor_and_channel(analyst: Any) -> None:
    tenant = make_tenant()
    incident = make_incident(tenant, by=analyst)
    action = propose(incident, "isolate_endpoint", by=analyst)
    approver = make_member(tenant, Role.APPROVER, username="pat")
    as_user(approver).post(f"/api/v1/actions/{action.pk}/authorize/", {"statement": "go"}, format="json")
    body = as_user(make_member(tenant)).get(f"/api/v1/incidents/{incident.pk}/timeline/").json()
    events = body["results"]
    assert all(set(e) == EVENT_FIELDS for e in events)
    assert [e["kind"] for e in events][:3] == ["incident_opened", "action_proposed", "authorization_given"]
    assert [e["id"] for e in events] == sorted(e["id"] for e in events)
    opened, _proposed, given = events[:3]
    assert (opened["actor"], opened["channel"]) == ("analyst", "admin")
    assert (given["actor"], given["channel"]) == ("pat", "api")
    assert given["data"]["statement"] == "go"


def test_another_tenants_timeline_is_a_404() -> None:
    incident = make_incident(make_tenant())
    client = as_user(make_member(make_tenant(), Role.ADMIN))
    assert client.get(f"/api/v1/incidents/{incident.pk}/timeline/").status_code == 404


@pytest.mark.parametrize("rows", [3, 15])
def test_the_timeline_takes_the_same_queries_for_any_number_of_events(
    rows: int, django_assert_num_queries: Any, tenant: Tenant, viewer: Any
) -> None:
    incident = make_incident(tenant)
    for n in range(rows - 1):  # the opening, then one event per action awaiting authorization
        propose(incident, "isolate_endpoint", target=f"WS-{n}")
    events = TimelineEvent.objects.filter(incident=incident).count()
    assert events == rows
    client = as_user(viewer)
    client.get("/api/v1/action-types/")  # the token's first use is recorded once, not on every request
    # Token and user, the incident, page: no count.
    with django_assert_num_queries(3):
        response = client.get(f"/api/v1/incidents/{incident.pk}/timeline/")
    assert len(response.json()["results"]) == events


# Catalog


def test_the_catalog_lists_action_types_with_their_reverts() -> None:
    body = as_user(make_member(make_tenant())).get("/api/v1/action-types/").json()
    by_code = {row["code"]: row for row in body["results"]}
    assert by_code["isolate_endpoint"] == {
        "code": "isolate_endpoint",
        "name": "Isolate endpoint",
        "category": "containment",
        "revert_code": "release_endpoint",
    }
    assert by_code["release_endpoint"]["revert_code"] is None
    assert {row["category"] for row in body["results"]} == {"containment", "neutralization"}


def test_a_user_without_permissions_still_reads_the_catalog_and_nothing_else() -> None:
    loner = make_user()
    assert not Permission.objects.filter(user=loner).exists()
    client = as_user(loner)
    assert client.get("/api/v1/action-types/").status_code == 200
    assert client.get("/api/v1/incidents/").json()["results"] == []
    assert client.get("/api/v1/tenants/").json()["count"] == 0
