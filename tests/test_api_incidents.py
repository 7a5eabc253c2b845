"""REST API: incidents from detection pipelines, actions, written decisions, timelines and the catalog."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from typing import Any

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from incidents import idempotency
from incidents.models import (
    Authorization,
    EventKind,
    IdempotencyKey,
    Incident,
    ResponseAction,
    Severity,
    TimelineEvent,
)
from incidents.selectors import authorization_text
from incidents.services import incident_set_status
from tenants.models import Role
from tests.factories import (
    api_token,
    make_analyst,
    make_incident,
    make_member,
    make_tenant,
    make_user,
    propose,
)

pytestmark = pytest.mark.django_db

INCIDENT_FIELDS = {
    "id",
    "tenant",
    "title",
    "severity",
    "summary",
    "observed_activity",
    "recommendations",
    "status",
    "needs_attention",
    "opened_at",
}
ACTION_FIELDS = {"id", "incident", "action_type", "target", "status", "performer", "basis", "decision_reason"}
EVENT_FIELDS = {"id", "at", "kind", "actor", "channel", "summary", "data"}


def as_user(user: Any) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {api_token(user)}")
    return client


def opening(tenant: Any, **extra: Any) -> dict[str, Any]:
    return {
        "tenant": tenant.pk,
        "title": "Ransomware on WS-0142",
        "severity": "critical",
        "summary": "Mass renames to *.lockbit",
        **extra,
    }


# Opening incidents


def test_an_analyst_opens_an_incident_under_the_tenants_current_policy() -> None:
    tenant = make_tenant(mode="authorize")
    analyst = make_analyst()
    response = as_user(analyst).post("/api/v1/incidents/", opening(tenant), format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert set(body) == INCIDENT_FIELDS
    assert (body["tenant"], body["severity"], body["status"], body["needs_attention"]) == (
        tenant.pk,
        "critical",
        "open",
        False,
    )
    incident = Incident.objects.get(pk=body["id"])
    assert incident.policy["response_mode"] == "authorize"
    assert incident.opened_by == analyst
    event = TimelineEvent.objects.get(incident=incident)
    assert (event.kind, event.channel, event.actor) == (EventKind.INCIDENT_OPENED, "api", analyst)


@pytest.mark.parametrize("who", ["customer_admin", "staff_without_permission"])
def test_only_mdr_staff_with_the_permission_open_incidents(who: str) -> None:
    tenant = make_tenant()
    user = make_member(tenant, Role.ADMIN) if who == "customer_admin" else make_user(staff=True)
    response = as_user(user).post("/api/v1/incidents/", opening(tenant), format="json")
    assert response.status_code == 403
    assert not Incident.objects.exists()


def test_opening_an_incident_with_bad_input_is_a_400_with_field_errors() -> None:
    client = as_user(make_analyst())
    response = client.post("/api/v1/incidents/", {"tenant": 999999, "severity": "apocalyptic"}, format="json")
    assert response.status_code == 400
    assert set(response.json()) == {"tenant", "title", "severity"}
    assert not Incident.objects.exists()


def test_a_retried_post_with_the_same_idempotency_key_opens_one_incident() -> None:
    tenant = make_tenant()
    client = as_user(make_analyst())
    first = client.post("/api/v1/incidents/", opening(tenant), format="json", HTTP_IDEMPOTENCY_KEY="edr-4711")
    again = client.post("/api/v1/incidents/", opening(tenant), format="json", HTTP_IDEMPOTENCY_KEY="edr-4711")
    assert (first.status_code, again.status_code) == (201, 201)
    assert first.json()["id"] == again.json()["id"]
    assert again.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert Incident.objects.count() == 1
    assert TimelineEvent.objects.filter(kind=EventKind.INCIDENT_OPENED).count() == 1
    other = client.post("/api/v1/incidents/", opening(tenant), format="json", HTTP_IDEMPOTENCY_KEY="edr-4712")
    assert other.json()["id"] != first.json()["id"]


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_concurrent_posts_with_the_same_key_open_one_incident(monkeypatch: pytest.MonkeyPatch) -> None:
    """Both look the key up before either stores it: the unique key makes the second undo its incident."""
    tenant = make_tenant()
    token = Token.objects.create(user=make_analyst()).key
    both_looked = threading.Barrier(2, timeout=20)
    looked = threading.local()
    real_lookup = idempotency._earlier

    def lookup_then_wait(user: Any, key: str) -> Any:
        found = real_lookup(user, key)
        if not getattr(looked, "once", False):
            looked.once = True
            both_looked.wait()
        return found

    monkeypatch.setattr(idempotency, "_earlier", lookup_then_wait)
    responses: list[Any] = []

    def post() -> None:
        try:
            client = APIClient()
            client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
            responses.append(
                client.post("/api/v1/incidents/", opening(tenant), format="json", HTTP_IDEMPOTENCY_KEY="race")
            )
        finally:
            connection.close()

    threads = [threading.Thread(target=post) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(r.status_code for r in responses) == [201, 201]
    assert responses[0].json()["id"] == responses[1].json()["id"]
    assert [r.headers.get("Idempotent-Replayed") for r in responses].count("true") == 1
    assert Incident.objects.count() == 1
    assert TimelineEvent.objects.filter(kind=EventKind.INCIDENT_OPENED).count() == 1


def test_the_same_key_with_a_different_request_is_refused_with_a_clear_message() -> None:
    tenant = make_tenant()
    client = as_user(make_analyst())
    first = client.post("/api/v1/incidents/", opening(tenant), format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    changed = client.post(
        "/api/v1/incidents/", opening(tenant, title="Another"), format="json", HTTP_IDEMPOTENCY_KEY="k-1"
    )
    assert changed.status_code == 422
    assert f"incident #{first.json()['id']}" in changed.json()["detail"]
    assert "different request" in changed.json()["detail"]
    assert Incident.objects.count() == 1


def test_idempotency_keys_belong_to_the_user_who_sent_them() -> None:
    tenant = make_tenant()
    one = as_user(make_analyst("a1")).post(
        "/api/v1/incidents/", opening(tenant), format="json", HTTP_IDEMPOTENCY_KEY="k"
    )
    two = as_user(make_analyst("a2")).post(
        "/api/v1/incidents/", opening(tenant), format="json", HTTP_IDEMPOTENCY_KEY="k"
    )
    assert one.json()["id"] != two.json()["id"]
    assert IdempotencyKey.objects.count() == 2


def test_a_refused_post_does_not_use_up_its_key() -> None:
    tenant = make_tenant()
    client = as_user(make_analyst())
    bad = client.post(
        "/api/v1/incidents/", opening(tenant, severity="nope"), format="json", HTTP_IDEMPOTENCY_KEY="k"
    )
    assert bad.status_code == 400
    good = client.post("/api/v1/incidents/", opening(tenant), format="json", HTTP_IDEMPOTENCY_KEY="k")
    assert good.status_code == 201
    assert "Idempotent-Replayed" not in good.headers


def test_an_empty_or_overlong_idempotency_key_is_a_400() -> None:
    tenant = make_tenant()
    client = as_user(make_analyst())
    for key in ("  ", "k" * 256):
        response = client.post("/api/v1/incidents/", opening(tenant), format="json", HTTP_IDEMPOTENCY_KEY=key)
        assert response.status_code == 400
        assert set(response.json()) == {"Idempotency-Key"}
    assert not Incident.objects.exists()


# Reading incidents


def test_customers_see_only_their_tenants_incidents_and_another_is_a_404() -> None:
    mine, other = make_tenant(), make_tenant()
    own, foreign = make_incident(mine), make_incident(other)
    client = as_user(make_member(mine, Role.VIEWER))
    body = client.get("/api/v1/incidents/").json()
    assert [i["id"] for i in body["results"]] == [own.pk]
    assert set(body["results"][0]) == INCIDENT_FIELDS
    assert client.get(f"/api/v1/incidents/{own.pk}/").status_code == 200
    assert client.get(f"/api/v1/incidents/{foreign.pk}/").status_code == 404
    staff = as_user(make_analyst()).get("/api/v1/incidents/").json()
    assert {i["id"] for i in staff["results"]} == {own.pk, foreign.pk}


def test_incidents_are_filtered_by_tenant_status_severity_and_dates() -> None:
    first, second = make_tenant(), make_tenant()
    old = make_incident(first, severity="low")
    Incident.objects.filter(pk=old.pk).update(opened_at=datetime(2026, 1, 10, 12, tzinfo=UTC))
    new = make_incident(first, severity="critical")
    Incident.objects.filter(pk=new.pk).update(opened_at=datetime(2026, 3, 1, 8, tzinfo=UTC))
    closed = make_incident(second, severity="critical")
    Incident.objects.filter(pk=closed.pk).update(opened_at=datetime(2026, 3, 2, 8, tzinfo=UTC))
    incident_set_status(incident=closed, status="closed", by=None)
    client = as_user(make_analyst())

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


def test_the_incident_list_is_paginated_by_50_with_cursors_and_no_count() -> None:
    tenant = make_tenant()
    opened = [make_incident(tenant) for _ in range(52)]
    # Two incidents opened at the same instant across the page boundary: neither is lost nor repeated.
    Incident.objects.filter(pk__in=[opened[1].pk, opened[2].pk]).update(opened_at=opened[1].opened_at)
    client = as_user(make_member(tenant))
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


def test_the_cursor_keeps_the_filters() -> None:
    tenant = make_tenant()
    for _ in range(51):
        make_incident(tenant, severity=Severity.LOW)
    make_incident(tenant, severity=Severity.CRITICAL)
    client = as_user(make_member(tenant))
    page = client.get("/api/v1/incidents/?severity=low").json()
    rest = client.get(page["next"]).json()
    assert "severity=low" in page["next"]
    assert {row["severity"] for row in page["results"] + rest["results"]} == {"low"}
    assert len(page["results"]) + len(rest["results"]) == 51


@pytest.mark.parametrize("rows", [3, 15])
def test_the_incident_list_takes_the_same_queries_for_any_number_of_rows(
    rows: int, django_assert_num_queries: Any
) -> None:
    tenant = make_tenant()
    for _ in range(rows):
        make_incident(tenant)
    client = as_user(make_member(tenant))
    # Token and user, page: no count.
    with django_assert_num_queries(2):
        response = client.get("/api/v1/incidents/")
    assert len(response.json()["results"]) == rows


# Actions


def test_an_analyst_proposes_an_action_and_the_gate_decides_at_once() -> None:
    collaborate, authorize = make_tenant(), make_tenant(mode="authorize")
    client = as_user(make_analyst())
    waiting = make_incident(collaborate)
    response = client.post(
        f"/api/v1/incidents/{waiting.pk}/actions/",
        {"action_type": "isolate_endpoint", "target": "WS-0142"},
        format="json",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert set(body) == ACTION_FIELDS
    assert (
        body["incident"],
        body["action_type"],
        body["target"],
        body["status"],
        body["performer"],
        body["basis"],
    ) == (
        waiting.pk,
        "isolate_endpoint",
        "WS-0142",
        "awaiting_authorization",
        "mdr",
        "",
    )
    acting = make_incident(authorize)
    body = client.post(
        f"/api/v1/incidents/{acting.pk}/actions/",
        {"action_type": "isolate_endpoint", "target": "WS-0142"},
        format="json",
    ).json()
    assert (body["status"], body["basis"]) == ("queued", "authorize_mode")
    event = TimelineEvent.objects.get(incident=acting, kind=EventKind.ACTION_PROPOSED)
    assert event.channel == "api"


def test_proposing_an_action_with_bad_input_is_a_400() -> None:
    incident = make_incident(make_tenant())
    client = as_user(make_analyst())
    response = client.post(
        f"/api/v1/incidents/{incident.pk}/actions/",
        {"action_type": "launch_missiles", "target": "  "},
        format="json",
    )
    assert response.status_code == 400
    assert set(response.json()) == {"action_type", "target"}
    assert not ResponseAction.objects.exists()


def test_everyone_in_the_tenant_reads_actions_but_only_mdr_staff_propose() -> None:
    tenant, other = make_tenant(), make_tenant()
    incident = make_incident(tenant)
    action = propose(incident, "isolate_endpoint")
    body = {"action_type": "block_ip", "target": "203.0.113.9"}
    viewer = as_user(make_member(tenant, Role.VIEWER))
    listed = viewer.get(f"/api/v1/incidents/{incident.pk}/actions/").json()
    assert [a["id"] for a in listed["results"]] == [action.pk]
    assert viewer.get(f"/api/v1/actions/{action.pk}/").json()["action_type"] == "isolate_endpoint"
    assert viewer.post(f"/api/v1/incidents/{incident.pk}/actions/", body, format="json").status_code == 403
    admin = as_user(make_member(tenant, Role.ADMIN))
    assert admin.post(f"/api/v1/incidents/{incident.pk}/actions/", body, format="json").status_code == 403
    outsider = as_user(make_member(other, Role.ADMIN))
    assert outsider.get(f"/api/v1/incidents/{incident.pk}/actions/").status_code == 404
    assert outsider.get(f"/api/v1/actions/{action.pk}/").status_code == 404
    assert ResponseAction.objects.count() == 1


# Written decisions


def test_an_approver_authorizes_an_action_in_writing_through_the_api() -> None:
    tenant = make_tenant()
    incident = make_incident(tenant)
    action = propose(incident, "isolate_endpoint")
    approver = make_member(tenant, Role.APPROVER)
    response = as_user(approver).post(
        f"/api/v1/actions/{action.pk}/authorize/",
        {"statement": "Yes, isolate WS-0142 now."},
        format="json",
        HTTP_USER_AGENT="soar/1.0",
    )
    assert response.status_code == 200, response.json()
    assert (response.json()["status"], response.json()["basis"]) == ("queued", "written_authorization")
    record = Authorization.objects.get(incident=incident)
    assert (record.decision, record.channel, record.user, record.statement, record.user_agent) == (
        "granted",
        "api",
        approver,
        "Yes, isolate WS-0142 now.",
        "soar/1.0",
    )
    assert record.text_shown == authorization_text(incident, [action])
    assert record.scope == [{"action": action.pk, "action_type": "isolate_endpoint", "target": "WS-0142"}]
    assert TimelineEvent.objects.filter(
        incident=incident, kind=EventKind.AUTHORIZATION_GIVEN, channel="api"
    ).exists()


def test_an_approver_declines_an_action_in_writing() -> None:
    tenant = make_tenant()
    incident = make_incident(tenant)
    action = propose(incident, "isolate_endpoint")
    response = as_user(make_member(tenant, Role.APPROVER)).post(
        f"/api/v1/actions/{action.pk}/decline/", {"statement": "No: WS-0142 runs the tills."}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["status"] == "declined"
    assert Authorization.objects.get(incident=incident).decision == "declined"


def test_a_decision_needs_a_statement_and_an_action_awaiting_authorization() -> None:
    tenant = make_tenant()
    incident = make_incident(tenant)
    action = propose(incident, "isolate_endpoint")
    client = as_user(make_member(tenant, Role.APPROVER))
    response = client.post(f"/api/v1/actions/{action.pk}/authorize/", {"statement": ""}, format="json")
    assert response.status_code == 400 and set(response.json()) == {"statement"}
    assert (
        client.post(f"/api/v1/actions/{action.pk}/authorize/", {"statement": "ok"}, format="json").status_code
        == 200
    )
    response = client.post(
        f"/api/v1/actions/{action.pk}/decline/", {"statement": "changed my mind"}, format="json"
    )
    assert response.status_code == 400
    assert set(response.json()) == {"actions"}
    assert Authorization.objects.count() == 1


@pytest.mark.parametrize("who", ["viewer", "analyst"])
def test_viewers_and_mdr_staff_cannot_authorize_for_the_customer(who: str) -> None:
    tenant = make_tenant()
    action = propose(make_incident(tenant), "isolate_endpoint")
    user = make_member(tenant, Role.VIEWER) if who == "viewer" else make_analyst()
    client = as_user(user)
    for verb in ("authorize", "decline"):
        response = client.post(f"/api/v1/actions/{action.pk}/{verb}/", {"statement": "yes"}, format="json")
        assert response.status_code == 403
    action.refresh_from_db()
    assert action.status == "awaiting_authorization"
    assert not Authorization.objects.exists()


def test_an_approver_of_another_tenant_gets_a_404() -> None:
    tenant, other = make_tenant(), make_tenant()
    action = propose(make_incident(tenant), "isolate_endpoint")
    response = as_user(make_member(other, Role.APPROVER)).post(
        f"/api/v1/actions/{action.pk}/authorize/", {"statement": "yes"}, format="json"
    )
    assert response.status_code == 404
    assert not Authorization.objects.exists()


# Timeline


def test_the_timeline_lists_every_fact_in_order_with_actor_and_channel() -> None:
    tenant = make_tenant()
    analyst = make_analyst()
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
    rows: int, django_assert_num_queries: Any
) -> None:
    tenant = make_tenant()
    incident = make_incident(tenant)
    for n in range(rows - 1):  # the opening, then one event per action awaiting authorization
        propose(incident, "isolate_endpoint", target=f"WS-{n}")
    events = TimelineEvent.objects.filter(incident=incident).count()
    assert events == rows
    client = as_user(make_member(tenant))
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
