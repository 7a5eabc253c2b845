"""REST API: incidents opened by detection pipelines, once per idempotency key."""

from __future__ import annotations

import threading
from datetime import datetime
from typing import Any

import pytest
from rest_framework.test import APIClient

from incidents import idempotency
from incidents.models import EventKind, IdempotencyKey, Incident, TimelineEvent
from tenants.models import Tenant
from tests.factories import api_token, as_user, make_analyst, make_tenant, make_user
from tests.threads import at_once

pytestmark = pytest.mark.django_db


def opening(tenant: Any, **extra: Any) -> dict[str, Any]:
    return {
        "tenant": tenant.pk,
        "title": "Ransomware on WS-0142",
        "severity": "critical",
        "summary": "Mass renames to *.lockbit",
        **extra,
    }


# Opening incidents


def test_an_analyst_opens_an_incident_under_the_tenants_current_policy(analyst: Any) -> None:
    tenant = make_tenant(mode="authorize")
    response = as_user(analyst).post("/api/v1/incidents/", opening(tenant), format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    incident = Incident.objects.get(pk=body["id"])
    assert body == {
        "id": incident.pk,
        "tenant": tenant.pk,
        "title": "Ransomware on WS-0142",
        "severity": "critical",
        "summary": "Mass renames to *.lockbit",
        "observed_activity": "",
        "recommendations": "",
        "status": "open",
        "needs_attention": False,
        "attention_reason": "",
        "attention_since": None,
        "owner": None,
        "detected_at": None,  # not given: detected when opened
        "opened_at": body["opened_at"],
    }
    assert datetime.fromisoformat(body["opened_at"]) == incident.opened_at
    assert incident.policy["response_mode"] == "authorize"
    assert incident.opened_by == analyst
    event = TimelineEvent.objects.get(incident=incident)
    assert (event.kind, event.channel, event.actor) == (EventKind.INCIDENT_OPENED, "api", analyst)


@pytest.mark.parametrize("who", ["customer_admin", "staff_without_permission"])
def test_only_mdr_staff_with_the_permission_open_incidents(
    who: str, tenant: Tenant, customer_admin: Any
) -> None:
    user = customer_admin if who == "customer_admin" else make_user(staff=True)
    response = as_user(user).post("/api/v1/incidents/", opening(tenant), format="json")
    assert response.status_code == 403
    assert not Incident.objects.exists()


def test_opening_an_incident_with_bad_input_is_a_400_with_field_errors(analyst: Any) -> None:
    client = as_user(analyst)
    response = client.post("/api/v1/incidents/", {"tenant": 999999, "severity": "apocalyptic"}, format="json")
    assert response.status_code == 400
    assert set(response.json()) == {"tenant", "title", "severity"}
    assert not Incident.objects.exists()


def test_a_retried_post_with_the_same_idempotency_key_opens_one_incident(analyst: Any) -> None:
    tenant = make_tenant()
    client = as_user(analyst)
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
def test_two_concurrent_posts_with_the_same_key_open_one_incident(
    monkeypatch: pytest.MonkeyPatch, analyst: Any
) -> None:
    """Both look the key up before either stores it: the unique key makes the second undo its incident."""
    tenant = make_tenant()
    token = api_token(analyst)
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
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
        responses.append(
            client.post("/api/v1/incidents/", opening(tenant), format="json", HTTP_IDEMPOTENCY_KEY="race")
        )

    at_once(post)
    assert sorted(r.status_code for r in responses) == [201, 201]
    assert responses[0].json()["id"] == responses[1].json()["id"]
    assert [r.headers.get("Idempotent-Replayed") for r in responses].count("true") == 1
    assert Incident.objects.count() == 1
    assert TimelineEvent.objects.filter(kind=EventKind.INCIDENT_OPENED).count() == 1


def test_the_same_key_with_a_different_request_is_refused_with_a_clear_message(analyst: Any) -> None:
    tenant = make_tenant()
    client = as_user(analyst)
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


def test_a_refused_post_does_not_use_up_its_key(analyst: Any) -> None:
    tenant = make_tenant()
    client = as_user(analyst)
    bad = client.post(
        "/api/v1/incidents/", opening(tenant, severity="nope"), format="json", HTTP_IDEMPOTENCY_KEY="k"
    )
    assert bad.status_code == 400
    good = client.post("/api/v1/incidents/", opening(tenant), format="json", HTTP_IDEMPOTENCY_KEY="k")
    assert good.status_code == 201
    assert "Idempotent-Replayed" not in good.headers


def test_an_empty_or_overlong_idempotency_key_is_a_400(analyst: Any) -> None:
    tenant = make_tenant()
    client = as_user(analyst)
    for key in ("  ", "k" * 256):
        response = client.post("/api/v1/incidents/", opening(tenant), format="json", HTTP_IDEMPOTENCY_KEY=key)
        assert response.status_code == 400
        assert set(response.json()) == {"Idempotency-Key"}
    assert not Incident.objects.exists()
