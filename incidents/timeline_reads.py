"""What the timeline page reads, in a number of queries that does not grow with the incident's events: the
page of events shown, the first event of each milestone (one indexed query), and for the chart the events
counted by kind in each of its columns (the words only of the events that get a dot of their own)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from functools import reduce
from operator import or_

from django.core.paginator import Page, Paginator
from django.db import connection
from django.db.models import (
    Count,
    F,
    FloatField,
    Func,
    IntegerField,
    Max,
    Min,
    Q,
    QuerySet,
    Subquery,
    Value,
)
from django.db.models.functions import Cast, Floor, Least

from incidents.milestones import DECIDED, ENDED, NOTIFIED, Milestone, containing_actions
from incidents.models import EventKind, Incident, ResponseAction, TimelineEvent
from incidents.selectors import incident_timeline
from incidents.timeline import COLUMNS, Chart, KindInColumn, chart, chart_columns, chart_span, column_of


def timeline_page(incident: Incident, number: str | None, per_page: int) -> Page[TimelineEvent]:
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
        Q(kind=EventKind.INCIDENT_STATUS, data__after__in=ENDED),
    ]
    if containing:
        wanted.append(Q(kind=EventKind.ACTION_SUCCEEDED, data__action__in=sorted(containing)))
    events = TimelineEvent.objects.filter(incident=incident)
    firsts = [Q(pk=Subquery(events.filter(q).order_by("at", "id").values("pk")[:1])) for q in wanted]
    return list(events.filter(reduce(or_, firsts)).select_related("actor").order_by("at", "id"))


def timeline_chart(incident: Incident, marks: Sequence[Milestone]) -> Chart:
    """The drawn timeline: the events counted by kind in each column of the chart (by the database on
    PostgreSQL), and the words of the events alone in a column."""
    events = TimelineEvent.objects.filter(incident=incident)
    bounds = events.aggregate(first=Min("at"), last=Max("at"))
    start, end = chart_span(incident, bounds["first"], bounds["last"])
    counted = _counted_in_sql if connection.vendor == "postgresql" else _counted_here
    columns = chart_columns(start, end, counted(events, start, end))
    singles = columns.singles()
    summaries = (
        dict(TimelineEvent.objects.filter(pk__in=singles).values_list("id", "summary")) if singles else {}
    )
    return chart(incident, columns, marks, summaries)


def _counted_in_sql(
    events: QuerySet[TimelineEvent], start: datetime, end: datetime
) -> list[tuple[int, KindInColumn]]:
    # column_of in SQL: the seconds since start, in COLUMNS parts of the span, the last one closed.
    seconds = Func(F("at"), template="EXTRACT(EPOCH FROM %(expressions)s)", output_field=FloatField())
    span = (end - start).total_seconds()
    column = Least(
        Value(COLUMNS - 1), Floor(Value(float(COLUMNS)) * (seconds - Value(start.timestamp())) / Value(span))
    )
    rows = (
        events.order_by()
        .annotate(column=Cast(column, IntegerField()))
        .values("column", "kind")
        .annotate(count=Count("id"), first_at=Min("at"), first_id=Min("id"), last_at=Max("at"))
    )
    return [
        (
            row["column"],
            KindInColumn(row["kind"], row["count"], row["first_at"], row["first_id"], row["last_at"]),
        )
        for row in rows
    ]


def _counted_here(
    events: QuerySet[TimelineEvent], start: datetime, end: datetime
) -> list[tuple[int, KindInColumn]]:
    # The same count over each event's time and kind, for databases without EXTRACT(EPOCH ...).
    counted: dict[tuple[int, str], KindInColumn] = {}
    for pk, at, kind in events.order_by("at", "id").values_list("id", "at", "kind"):
        key = (column_of(at, start, end), kind)
        seen = counted.get(key)
        counted[key] = (
            KindInColumn(kind, 1, at, pk, at)
            if seen is None
            else replace(seen, count=seen.count + 1, last_at=at)
        )
    return [(column, entry) for (column, _kind), entry in counted.items()]
