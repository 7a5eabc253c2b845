"""The milestones' times kept on the incident (incidents.milestone_fields): which events record each one, the
write that goes with every such event, and the fill from the events for incidents recorded before.

One definition, used by both: a milestone's time is the time of the first event that records it (the
definitions reports.figures shows). The write keeps the earliest: an event recorded with an earlier time
than the column's moves it back, a later one (another acknowledgment, a second closing after a reopening)
changes nothing.
"""

from __future__ import annotations

from django.db.models import Exists, IntegerField, Model, OuterRef, Q, QuerySet, Subquery
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast

from incidents.milestones import DECIDED, ENDED
from incidents.models import ActionType, Category, EventKind, Incident, ResponseAction, TimelineEvent

# Each column and the kinds of the events that may record it (the write looks no further for other kinds).
KINDS: dict[str, frozenset[str]] = {
    "first_acknowledged_at": frozenset({EventKind.ACKNOWLEDGED}),
    "first_decided_at": DECIDED,
    "first_contained_at": frozenset({EventKind.ACTION_SUCCEEDED}),
    "first_resolved_at": frozenset({EventKind.INCIDENT_STATUS}),
}


def _containing_actions(actions: QuerySet[Model], types: QuerySet[Model]) -> QuerySet[Model]:
    # incidents.milestones.containing_actions in SQL: a containment action that neither reverts a succeeded
    # action nor is of a type that undoes another (releasing from isolation is in the category too).
    undoes = types.filter(revert=OuterRef("action_type"))
    return actions.filter(
        incident=OuterRef("incident"),
        action_type__category=Category.CONTAINMENT,
        reverts__isnull=True,
    ).filter(~Exists(undoes))


def milestone_events(
    column: str,
    *,
    events: QuerySet[Model] | None = None,
    actions: QuerySet[Model] | None = None,
    types: QuerySet[Model] | None = None,
) -> QuerySet[Model]:
    """The events of the outer incident that record the column's milestone (the models may be a migration's)."""
    events = TimelineEvent.objects.all() if events is None else events
    found = events.filter(incident=OuterRef("pk"), kind__in=KINDS[column])
    if column == "first_resolved_at":
        return found.filter(data__after__in=ENDED)
    if column == "first_contained_at":
        containing = _containing_actions(
            ResponseAction.objects.all() if actions is None else actions,
            ActionType.objects.all() if types is None else types,
        )
        # The plugin types no annotation on a queryset of a model it does not know (it may be a migration's).
        numbered: QuerySet[Model] = found.annotate(
            action_id=Cast(KeyTextTransform("action", "data"), IntegerField())
        )
        return numbered.filter(action_id__in=containing.values("pk"))
    return found


def milestone_times_record(incident: Incident, event: TimelineEvent) -> None:
    """Keep the incident's column for the milestone the event records, if any, in the event's transaction."""
    for column, kinds in KINDS.items():
        if event.kind not in kinds:
            continue
        earliest = Q(**{f"{column}__isnull": True}) | Q(**{f"{column}__gt": event.at})
        records = Exists(milestone_events(column).filter(pk=event.pk))
        if Incident.objects.filter(earliest, records, pk=incident.pk).update(**{column: event.at}):
            setattr(incident, column, event.at)


def milestone_times_fill(
    incidents: QuerySet[Model], events: QuerySet[Model], actions: QuerySet[Model], types: QuerySet[Model]
) -> int:
    """Set every column of the incidents from their events (incidents recorded before the columns)."""
    times = {
        column: Subquery(
            milestone_events(column, events=events, actions=actions, types=types)
            .order_by("at", "id")
            .values("at")[:1]
        )
        for column in KINDS
    }
    return incidents.update(**times)
