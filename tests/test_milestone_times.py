"""The milestones' times kept on the incident agree with its events on every path that records one: each
column holds the time of the first event that records the milestone (the timeline page's own reading of the
events, incidents.milestones), written in the event's transaction; the migration's fill gives the same."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from escalation.acknowledgments.services import acknowledgment_record
from escalation.calls.progress import call_update
from escalation.models import CallAttempt, NotificationRun, RunPurpose
from escalation.runs.lifecycle import incident_change_status
from incidents.actions import action_propose_revert
from incidents.execution import action_run
from incidents.milestone_times import KINDS, milestone_times_fill
from incidents.milestones import milestones, timeline_actions
from incidents.models import (
    ActionStatus,
    ActionType,
    Authorization,
    Channel,
    EventKind,
    Incident,
    ResponseAction,
    TimelineEvent,
)
from incidents.services import incident_take_fallback
from incidents.timeline_writes import timeline_record
from tenants.models import ResponseMode, Role
from tests.factories import (
    as_user,
    first_contact,
    make_incident,
    make_member,
    make_tenant,
    portal_decision,
    propose,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_passwords")]

# The timeline page's milestone for each column.
MILESTONE = {
    "first_acknowledged_at": "acknowledged",
    "first_decided_at": "decided",
    "first_contained_at": "contained",
    "first_resolved_at": "resolved",
}


def from_events(incident: Incident) -> dict[str, Any]:
    """Each column's value as the incident's events say, read by the timeline page's definitions."""
    events = list(incident.events.order_by("at", "id"))
    marks = {m.key: m for m in milestones(incident, events, list(timeline_actions(incident)))}
    return {
        column: marks[key].event.at if marks[key].event is not None else None
        for column, key in MILESTONE.items()
    }


def kept(incident: Incident) -> dict[str, Any]:
    return dict(Incident.objects.filter(pk=incident.pk).values(*KINDS).get())


def agrees(incident: Incident) -> dict[str, Any]:
    columns = kept(incident)
    assert columns == from_events(incident)
    return columns


def _called(incident: Incident) -> CallAttempt:
    run = NotificationRun.objects.create(incident=incident, purpose=RunPurpose.NOTIFY)
    contact = first_contact(incident.tenant)
    return CallAttempt.objects.create(
        run=run, contact=contact, try_number=1, sequence=1, severity_rank=0, to=str(contact.phone)
    )


def test_a_key_pressed_on_a_call_sets_the_acknowledgment_and_a_later_one_keeps_the_first() -> None:
    incident = make_incident(make_tenant())
    call_update(attempt_id=_called(incident).pk, digits="1")
    first = agrees(incident)["first_acknowledged_at"]
    assert first is not None
    acknowledgment_record(incident=incident, channel=Channel.SMS, contact=first_contact(incident.tenant))
    assert agrees(incident)["first_acknowledged_at"] == first


@pytest.mark.parametrize("channel", [Channel.SMS, Channel.EMAIL_LINK])
def test_a_contacts_text_reply_or_emailed_link_sets_the_acknowledgment(channel: str) -> None:
    incident = make_incident(make_tenant())
    acknowledgment_record(incident=incident, channel=channel, contact=first_contact(incident.tenant))
    assert agrees(incident)["first_acknowledged_at"] is not None


def test_a_customer_acknowledging_on_the_web_sets_the_acknowledgment() -> None:
    incident = make_incident(make_tenant())
    user = make_member(incident.tenant, Role.APPROVER)
    response = as_user(user).post(f"/api/v1/incidents/{incident.pk}/acknowledge/")
    assert response.status_code == 201, response.content
    columns = agrees(incident)
    assert columns["first_acknowledged_at"] is not None and columns["first_decided_at"] is None


@pytest.mark.parametrize("decision", [Authorization.Decision.GRANTED, Authorization.Decision.DECLINED])
def test_a_written_decision_either_way_sets_the_decision(decision: str) -> None:
    incident = make_incident(make_tenant())
    isolate = propose(incident, "isolate_endpoint")
    portal_decision(incident, [isolate], make_member(incident.tenant, Role.APPROVER), decision)
    columns = agrees(incident)
    assert columns["first_decided_at"] is not None and columns["first_acknowledged_at"] is None


def test_the_fallback_sets_the_decision_and_its_containment_the_containment() -> None:
    incident = make_incident(make_tenant(fallback=True))
    isolate = propose(incident, "isolate_endpoint")
    incident_take_fallback(incident=incident, attempts=[{"call": 1, "outcome": "no_answer"}])
    action_run(isolate.pk)
    isolate.refresh_from_db()
    assert isolate.status == ActionStatus.SUCCEEDED
    columns = agrees(incident)
    assert columns["first_decided_at"] is not None and columns["first_contained_at"] is not None


def test_only_a_containment_that_succeeded_sets_the_containment_not_its_undoing_or_a_neutralization() -> None:
    incident = make_incident(make_tenant(mode=ResponseMode.AUTHORIZE))
    clean = propose(incident, "clean_malware")
    action_run(clean.pk)
    assert agrees(incident)["first_contained_at"] is None  # a neutralization is not containment
    isolate = propose(incident, "isolate_endpoint")
    action_run(isolate.pk)
    contained = agrees(incident)["first_contained_at"]
    assert contained is not None
    assert agrees(incident)["first_decided_at"] is None  # Authorize mode: nobody decided
    release = action_propose_revert(action=ResponseAction.objects.get(pk=isolate.pk), by=None)
    action_run(release.pk)
    assert ResponseAction.objects.get(pk=release.pk).status == ActionStatus.SUCCEEDED
    assert agrees(incident)["first_contained_at"] == contained


def test_the_undoing_type_alone_never_sets_the_containment() -> None:
    incident = make_incident(make_tenant(mode=ResponseMode.AUTHORIZE))
    undoing = ActionType.objects.filter(revert__isnull=False).values_list("revert__code", flat=True).first()
    assert undoing is not None
    release = propose(incident, undoing)
    timeline_record(
        incident=incident, kind=EventKind.ACTION_SUCCEEDED, summary="released", data={"action": release.pk}
    )
    assert agrees(incident)["first_contained_at"] is None


def test_resolving_closing_and_reopening_keep_the_first_resolution(analyst: Any) -> None:
    incident = make_incident(make_tenant())
    incident_change_status(incident=incident, status="contained", by=analyst, reason="isolated")
    assert agrees(incident)["first_resolved_at"] is None
    incident_change_status(incident=incident, status="resolved", by=analyst, reason="reimaged")
    resolved = agrees(incident)["first_resolved_at"]
    assert resolved is not None
    incident_change_status(incident=incident, status="open", by=analyst, reason="seen again")
    incident_change_status(incident=incident, status="closed", by=analyst, reason="done")
    assert agrees(incident)["first_resolved_at"] == resolved


def test_an_event_recorded_with_an_earlier_time_moves_the_milestone_back() -> None:
    incident = make_incident(make_tenant())
    acknowledgment_record(incident=incident, channel=Channel.SMS, contact=first_contact(incident.tenant))
    earlier = timezone.now() - timedelta(minutes=3)
    timeline_record(incident=incident, kind=EventKind.ACKNOWLEDGED, summary="ack", at=earlier)
    assert agrees(incident)["first_acknowledged_at"] == earlier


def test_the_fill_from_the_events_gives_what_was_written_as_it_happened(analyst: Any) -> None:
    incident = make_incident(make_tenant(fallback=True))
    isolate = propose(incident, "isolate_endpoint")
    call_update(attempt_id=_called(incident).pk, digits="1")
    incident_take_fallback(incident=incident, attempts=[{"call": 1, "outcome": "no_answer"}])
    action_run(isolate.pk)
    incident_change_status(incident=incident, status="resolved", by=analyst, reason="reimaged")
    written = agrees(incident)
    assert all(written.values())
    Incident.objects.update(**dict.fromkeys(KINDS))
    milestone_times_fill(
        Incident.objects.all(),
        TimelineEvent.objects.all(),
        ResponseAction.objects.all(),
        ActionType.objects.all(),
    )
    assert kept(incident) == written
