"""What a manager reads first on an incident's timeline page: the milestones (detection, first notification,
acknowledgment, authorization or fallback, containment) and how long after detection each came.

Pure functions over rows fetched once (incidents.timeline_reads fetches the first event of each milestone).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Exists, OuterRef, QuerySet

from incidents.models import (
    ActionType,
    Category,
    EventKind,
    Incident,
    IncidentStatus,
    ResponseAction,
    TimelineEvent,
)
from incidents.policy import PolicySnapshot


@dataclass(frozen=True)
class Milestone:
    """One point the customer and MDR Ops measure themselves by, counted from detection."""

    key: str
    label: str
    event: TimelineEvent | None
    since_detection: timedelta | None
    note: str = ""
    # Nothing is awaited: the milestone does not apply to this incident (a decision in Authorize mode).
    not_needed: bool = False

    @property
    def duration(self) -> str:
        return format_duration(self.since_detection) if self.since_detection is not None else ""


NOTIFIED = frozenset({EventKind.NOTIFICATION_SENT, EventKind.CALL_ATTEMPT})
DECIDED = frozenset(
    {EventKind.AUTHORIZATION_GIVEN, EventKind.AUTHORIZATION_DECLINED, EventKind.FALLBACK_TAKEN}
)
# Resolution is the first status change to either: closing without resolving first ends the incident too.
ENDED = (IncidentStatus.RESOLVED, IncidentStatus.CLOSED)


def is_resolution(event: TimelineEvent) -> bool:
    return event.kind == EventKind.INCIDENT_STATUS and event.data.get("after") in ENDED


def format_duration(delta: timedelta) -> str:
    seconds = max(0, int(delta.total_seconds()))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes:02d} min"
    if minutes:
        return f"{minutes} min {seconds:02d} s"
    return f"{seconds} s"


def detected_at(incident: Incident) -> datetime:
    """When the threat was detected: as given when the incident opened, else its opening (older incidents)."""
    return incident.detected_at or incident.opened_at


def _first(events: Sequence[TimelineEvent], kinds: frozenset[str]) -> TimelineEvent | None:
    return next((e for e in events if e.kind in kinds), None)


def timeline_actions(incident: Incident) -> QuerySet[ResponseAction]:
    """The incident's actions with their types, each saying whether its type undoes another one."""
    undo = ActionType.objects.filter(revert=OuterRef("action_type"))
    return incident.actions.select_related("action_type").annotate(undoes=Exists(undo))


def containing_actions(actions: Sequence[ResponseAction]) -> set[int]:
    """The actions whose success is containment."""
    # Releasing from isolation or unblocking is in the containment category, but it undoes containment.
    return {
        a.pk
        for a in actions
        if a.action_type.category == Category.CONTAINMENT
        and a.reverts_id is None
        and not getattr(a, "undoes", False)
    }


def _containment_succeeded(
    events: Sequence[TimelineEvent], actions: Sequence[ResponseAction]
) -> TimelineEvent | None:
    containing = containing_actions(actions)
    return next(
        (e for e in events if e.kind == EventKind.ACTION_SUCCEEDED and e.data.get("action") in containing),
        None,
    )


def milestones(
    incident: Incident, events: Sequence[TimelineEvent], actions: Sequence[ResponseAction]
) -> list[Milestone]:
    """Each milestone is its first event, if any, counted from detection (given when the incident opened, or
    its opening)."""
    detected = _first(events, frozenset({EventKind.INCIDENT_OPENED}))
    start = detected_at(incident)

    def since(event: TimelineEvent | None) -> timedelta | None:
        return event.at - start if event is not None else None

    notified = _first(events, NOTIFIED)
    acknowledged = _first(events, frozenset({EventKind.ACKNOWLEDGED}))
    decided = _first(events, DECIDED)
    contained = _containment_succeeded(events, actions)
    resolved = next((e for e in events if is_resolution(e)), None)
    decision_note = ""
    no_decision_needed = decided is None and PolicySnapshot.read(incident).authorize_mode
    if no_decision_needed:
        decision_note = "Not needed: the customer was in Authorize mode when the incident opened."
    elif decided is not None:
        decision_note = decided.get_kind_display()
    return [
        Milestone("detection", "Detection", detected, timedelta(0)),
        Milestone("notified", "First notification", notified, since(notified)),
        Milestone("acknowledged", "Acknowledgment", acknowledged, since(acknowledged)),
        Milestone(
            "decided",
            "Authorization or fallback",
            decided,
            since(decided),
            decision_note,
            not_needed=no_decision_needed,
        ),
        Milestone("contained", "Containment", contained, since(contained)),
        Milestone("resolved", "Resolved or closed", resolved, since(resolved)),
    ]
