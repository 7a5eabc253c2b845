"""What the timeline page reads, in a number of queries that does not grow with the incident's events: the
page of events shown, the first event of each milestone (one indexed query), and each event's time and
kind for the chart (the words only of the events that get a dot of their own)."""

from __future__ import annotations

from collections.abc import Sequence
from functools import reduce
from operator import or_

from django.core.paginator import Page, Paginator
from django.db.models import Q, Subquery

from incidents.models import EventKind, Incident, ResponseAction, TimelineEvent
from incidents.selectors import incident_timeline
from incidents.timeline import (
    DECIDED,
    NOTIFIED,
    Chart,
    EventPoint,
    Milestone,
    chart,
    chart_columns,
    containing_actions,
)


def timeline_page(incident: Incident, number: str | None, per_page: int) -> Page:
    """One page of the incident's events in time order, read from the database (a count and a slice)."""
    return Paginator(incident_timeline(incident), per_page).get_page(number)


def milestone_events(incident: Incident, actions: Sequence[ResponseAction]) -> list[TimelineEvent]:
    """The first event of each milestone's kinds, in time order: what timeline.milestones measures by.

    One query: each milestone's first event is a subquery on the (incident, kind, at, id) index.
    """
    containing = containing_actions(actions)
    wanted = [
        Q(kind=EventKind.INCIDENT_OPENED),
        Q(kind__in=NOTIFIED),
        Q(kind=EventKind.ACKNOWLEDGED),
        Q(kind__in=DECIDED),
    ]
    if containing:
        wanted.append(Q(kind=EventKind.ACTION_SUCCEEDED, data__action__in=sorted(containing)))
    events = TimelineEvent.objects.filter(incident=incident)
    firsts = [Q(pk=Subquery(events.filter(q).order_by("at", "id").values("pk")[:1])) for q in wanted]
    return list(events.filter(reduce(or_, firsts)).select_related("actor").order_by("at", "id"))


def timeline_chart(incident: Incident, marks: Sequence[Milestone]) -> Chart:
    """The drawn timeline: every event's time and kind (no model rows), the words of the lone ones."""
    rows = (
        TimelineEvent.objects.filter(incident=incident).order_by("at", "id").values_list("id", "at", "kind")
    )
    columns = chart_columns(incident, [EventPoint(*row) for row in rows])
    singles = columns.singles()
    summaries = (
        dict(TimelineEvent.objects.filter(pk__in=singles).values_list("id", "summary")) if singles else {}
    )
    return chart(incident, columns, marks, summaries)
