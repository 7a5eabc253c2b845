"""The customer's tasks and the reminder settings through /api/v1/: field names in the schema, 400 with
field errors, 403 for a user of another tenant."""

from __future__ import annotations

import json
from typing import Any

import pytest

from incidents.models import ActionStatus, Channel, EventKind, ResponseAction
from tenants.models import Performer, Role, SettingsChange
from tests.factories import as_user, make_incident, make_member, make_tasks, make_tenant, propose

pytestmark = pytest.mark.django_db


@pytest.fixture
def world() -> dict[str, Any]:
    world = make_tasks("msp-api")
    other = make_tenant(performers={"disable_user": Performer.CUSTOMER})
    return {
        **world,
        "isolate": propose(world["incident"], "isolate_endpoint"),  # awaits authorization: no task
        "other_task": propose(make_incident(other), "disable_user", target="someone"),
        "outsider": make_member(other, Role.ADMIN),
    }


def mark(user: Any, task: Any, **body: str) -> Any:
    return as_user(user).patch(f"/api/v1/tasks/{task.pk}/", body, format="json")


def test_tasks_list_only_the_users_tenants_tasks_with_the_schema_field_names(world: dict[str, Any]) -> None:
    body = as_user(world["approver"]).get("/api/v1/tasks/").json()
    assert sorted(t["id"] for t in body["results"]) == sorted([world["customer"].pk, world["partner"].pk])
    first = next(t for t in body["results"] if t["id"] == world["customer"].pk)
    assert first == {
        "id": world["customer"].pk,
        "incident": world["incident"].pk,
        "tenant": world["tenant"].pk,
        "action_type": "disable_user",
        "action_name": "Disable user account",
        "target": "jdoe",
        "performer": "customer",
        "status": "recommended",
        "reason": "Recommended to the customer: its own team performs this action.",
        "proposed_at": first["proposed_at"],
        "updated_at": first["updated_at"],
    }
    schema = json.loads(as_user(world["approver"]).get("/api/schema/?format=json").content)
    properties = schema["components"]["schemas"]["Task"]["properties"]
    assert set(properties) == set(first)
    assert set(schema["components"]["schemas"]["PatchedTaskMarkRequest"]["properties"]) == {"status", "note"}
    assert "/api/v1/tasks/{id}/" in schema["paths"]


def test_the_status_filter_and_a_bad_filter(world: dict[str, Any]) -> None:
    client = as_user(world["approver"])
    client.patch(f"/api/v1/tasks/{world['customer'].pk}/", {"status": "done"}, format="json")
    open_ids = [t["id"] for t in client.get("/api/v1/tasks/?status=open").json()["results"]]
    done_ids = [t["id"] for t in client.get("/api/v1/tasks/?status=done").json()["results"]]
    assert (open_ids, done_ids) == ([world["partner"].pk], [world["customer"].pk])
    bad = client.get("/api/v1/tasks/?status=maybe")
    assert bad.status_code == 400 and "status" in bad.json()


def test_the_partner_marks_its_task_done_through_the_api_recorded_with_who(world: dict[str, Any]) -> None:
    response = mark(world["technician"], world["partner"], status="done", note="Blocked at the firewall.")
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "done"
    assert response.json()["reason"] == "Marked done by tech-msp-api: Blocked at the firewall."
    event = world["incident"].events.get(kind=EventKind.TASK_MARKED)
    assert (event.actor, event.channel) == (world["technician"], Channel.API)


def test_bad_input_is_a_400_with_field_errors_and_changes_nothing(world: dict[str, Any]) -> None:
    client = as_user(world["approver"])
    url = f"/api/v1/tasks/{world['customer'].pk}/"
    for payload, field in (
        ({"status": "finished"}, "status"),
        ({}, "status"),
        ({"status": "not_done"}, "note"),
        ({"status": "done", "note": "x" * 2001}, "note"),
    ):
        response = client.patch(url, payload, format="json")
        assert response.status_code == 400, (payload, response.content)
        assert field in response.json(), (payload, response.json())
    assert ResponseAction.objects.get(pk=world["customer"].pk).status == ActionStatus.RECOMMENDED


def test_another_tenants_task_is_404_and_the_other_side_is_refused_with_403(world: dict[str, Any]) -> None:
    customer = world["customer"]
    assert mark(world["outsider"], customer, status="done").status_code == 404
    assert as_user(world["outsider"]).get(f"/api/v1/tasks/{customer.pk}/").status_code == 404
    listed = as_user(world["approver"]).get("/api/v1/tasks/").json()["results"]
    assert world["other_task"].pk not in [t["id"] for t in listed]
    assert mark(world["technician"], customer, status="done").status_code == 403  # the customer's to mark
    assert mark(make_member(world["tenant"], Role.VIEWER), customer, status="done").status_code == 403
    assert mark(world["approver"], world["isolate"], status="done").status_code == 404  # no task
    assert ResponseAction.objects.get(pk=world["customer"].pk).status == ActionStatus.RECOMMENDED


def test_reminder_settings_are_changed_validated_and_audited_through_the_api() -> None:
    tenant = make_tenant()
    admin = as_user(make_member(tenant, Role.ADMIN))
    url = f"/api/v1/tenants/{tenant.pk}/"
    response = admin.patch(url, {"reminder_minutes": 30, "reminder_count": 2}, format="json")
    assert response.status_code == 200
    assert (response.json()["reminder_minutes"], response.json()["reminder_count"]) == (30, 2)
    audited = SettingsChange.objects.filter(tenant=tenant, field__startswith="reminder_")
    assert sorted(audited.values_list("field", "before", "after")) == [
        ("reminder_count", 4, 2),
        ("reminder_minutes", 15, 30),
    ]
    refused = admin.patch(url, {"reminder_minutes": 0, "reminder_count": 21}, format="json")
    assert refused.status_code == 400
    assert set(refused.json()) == {"reminder_minutes", "reminder_count"}
    viewer = as_user(make_member(tenant, Role.VIEWER))
    assert viewer.patch(url, {"reminder_minutes": 5}, format="json").status_code == 403
    tenant.refresh_from_db()
    assert (tenant.reminder_minutes, tenant.reminder_count) == (30, 2)
