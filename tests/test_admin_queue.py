"""The incidents changelist as the analysts' queue: owners, saved views with counts, the attention flag's
reason and age, the self-refreshing list, and the migration that keeps the flags raised before."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.test import Client
from django.utils import timezone

from escalation.runs.lifecycle import incident_change_status
from incidents.attention import incident_flag
from incidents.models import EventKind, Incident
from incidents.queue import incident_assign, queue_counts
from incidents.services import incident_clear_attention
from tenants.models import Role
from tests.admin_pages import page_data
from tests.factories import make_analyst, make_incident, make_member, make_tenant, propose
from tests.incident_admin import CHANGELIST, change_url, shown

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_passwords")]


@pytest.fixture
def queue(analyst: Any) -> dict[str, Incident]:
    """Active incidents in every view, and a resolved one in none."""
    tenant = make_tenant()
    incidents = {
        "flagged": make_incident(tenant),
        "mine": make_incident(tenant),
        "theirs": make_incident(tenant),
        "waiting": make_incident(tenant),
        "resolved_flagged": make_incident(tenant),
    }
    incident_flag(incident=incidents["flagged"], reason="Could not notify: the phone provider refused")
    incident_assign(incident=incidents["mine"], owner=analyst, by=analyst)
    incident_assign(incident=incidents["theirs"], owner=make_analyst("other"), by=analyst)
    propose(incidents["waiting"], "isolate_endpoint")  # Collaborate: awaits the customer's authorization
    incident_flag(incident=incidents["resolved_flagged"], reason="Old news")
    incident_change_status(incident=incidents["resolved_flagged"], status="resolved", by=None)
    return incidents


@pytest.mark.parametrize(
    ("view", "expected"),
    [
        ("attention", ["flagged"]),
        ("unassigned", ["flagged", "waiting"]),
        ("waiting", ["waiting"]),
        ("mine", ["mine"]),
    ],
)
def test_each_saved_view_lists_its_active_incidents(
    analyst_client: Client, queue: dict[str, Incident], view: str, expected: list[str]
) -> None:
    response = analyst_client.get(CHANGELIST, {"view": view})

    assert response.status_code == 200
    assert shown(response) == sorted(queue[name].pk for name in expected)


def test_the_views_show_their_counts(
    analyst_client: Client, analyst: Any, queue: dict[str, Incident]
) -> None:
    response = analyst_client.get(CHANGELIST)

    assert queue_counts(user=analyst) == {
        "attention": 1,
        "unassigned": 2,
        "waiting": 1,
        "responded": 0,
        "mine": 1,
    }
    page = response.content.decode()
    for label in ["Needs attention (1)", "Unassigned (2)", "Waiting on customer (1)", "Mine (1)"]:
        assert label in page


def test_the_list_shows_why_and_since_when_an_incident_is_flagged(
    analyst_client: Client, queue: dict[str, Incident]
) -> None:
    response = analyst_client.get(CHANGELIST, {"view": "attention"})

    page = response.content.decode()
    assert "Could not notify: the phone provider refused" in page
    assert queue["flagged"].attention_since.isoformat() in page


def test_the_list_refreshes_itself(analyst_client: Client) -> None:
    response = analyst_client.get(CHANGELIST)

    assert "mdrportal/queue_poll.js" in response.content.decode()


def test_a_second_flag_keeps_since_when_and_takes_the_new_reason() -> None:
    incident = make_incident(make_tenant())
    incident_flag(incident=incident, reason="First")
    first_since = Incident.objects.get(pk=incident.pk).attention_since
    Incident.objects.filter(pk=incident.pk).update(attention_since=first_since - timedelta(minutes=5))

    incident_flag(incident=incident, reason="Second")

    stored = Incident.objects.get(pk=incident.pk)
    assert (stored.needs_attention, stored.attention_reason) == (True, "Second")
    assert stored.attention_since == first_since - timedelta(minutes=5)


def test_clearing_the_flag_clears_its_reason_and_age(analyst: Any) -> None:
    incident = make_incident(make_tenant())
    incident_flag(incident=incident, reason="First")

    incident_clear_attention(incident=incident, by=analyst)

    stored = Incident.objects.get(pk=incident.pk)
    assert (stored.needs_attention, stored.attention_reason, stored.attention_since) == (False, "", None)


def test_assign_to_me_sets_the_owner_and_says_so_on_the_timeline(
    analyst_client: Client, analyst: Any
) -> None:
    incident = make_incident(make_tenant())

    response = analyst_client.post(
        CHANGELIST, {"action": "assign_to_me", "_selected_action": [incident.pk]}, follow=True
    )

    assert response.status_code == 200
    assert Incident.objects.get(pk=incident.pk).owner == analyst
    event = incident.events.get(kind=EventKind.OWNER_CHANGED)
    assert (event.actor, event.data) == (analyst, {"before": None, "after": analyst.username})


def test_an_owner_change_on_the_incident_page_records_before_and_after(
    analyst_client: Client, analyst: Any
) -> None:
    incident = make_incident(make_tenant())
    incident_assign(incident=incident, owner=analyst, by=analyst)
    other = make_analyst("night-shift")
    data = page_data(analyst_client.get(change_url(incident)))

    response = analyst_client.post(change_url(incident), {**data, "owner": other.pk})

    assert response.status_code == 302
    assert Incident.objects.get(pk=incident.pk).owner == other
    last = incident.events.filter(kind=EventKind.OWNER_CHANGED).last()
    assert last.data == {"before": analyst.username, "after": "night-shift"}
    assert last.actor == analyst


def test_only_mdr_staff_can_own_an_incident(analyst: Any) -> None:
    incident = make_incident(make_tenant())
    customer = make_member(incident.tenant, Role.ADMIN)

    with pytest.raises(ValidationError, match="Only active MDR staff"):
        incident_assign(incident=incident, owner=customer, by=analyst)

    assert Incident.objects.get(pk=incident.pk).owner is None


def test_a_customer_user_is_not_offered_as_owner(analyst_client: Client) -> None:
    incident = make_incident(make_tenant())
    customer = make_member(incident.tenant, Role.ADMIN)

    form = analyst_client.get(change_url(incident)).context["adminform"].form

    assert customer not in form.fields["owner"].queryset


BEFORE = ("incidents", "0019_incident_detected_at")


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_migration_keeps_the_flags_raised_before_with_their_reason_and_age() -> None:
    tenant = make_tenant()
    executor = MigrationExecutor(connection)
    executor.migrate([BEFORE])
    old = executor.loader.project_state([BEFORE]).apps
    OldIncident, OldEvent = (
        old.get_model("incidents", "Incident"),
        old.get_model("incidents", "TimelineEvent"),
    )
    opened = timezone.now() - timedelta(hours=3)
    flagged, quiet = (
        OldIncident.objects.create(
            tenant_id=tenant.pk, title=t, policy={}, opened_at=opened, needs_attention=a
        )
        for t, a in [("flagged", True), ("quiet", False)]
    )
    unexplained = OldIncident.objects.create(
        tenant_id=tenant.pk, title="unexplained", policy={}, opened_at=opened, needs_attention=True
    )
    for minutes, summary, data in [
        (170, "An old flag", {}),
        (160, "Flag cleared by an analyst", {"needs_attention": False}),
        (120, "Calls failed", {}),
        (60, "Still failing", {}),
    ]:
        OldEvent.objects.create(
            incident_id=flagged.pk,
            kind="flagged",
            summary=summary,
            data=data,
            actor_label="system",
            at=timezone.now() - timedelta(minutes=minutes),
        )

    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())

    kept = Incident.objects.get(pk=flagged.pk)
    assert (kept.needs_attention, kept.attention_reason) == (True, "Still failing")
    assert timezone.now() - kept.attention_since > timedelta(minutes=119)
    assert timezone.now() - kept.attention_since < timedelta(minutes=121)
    assert Incident.objects.get(pk=quiet.pk).attention_since is None
    assert Incident.objects.get(pk=unexplained.pk).attention_since == opened
