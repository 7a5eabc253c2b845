"""The drawn timeline on an incident's timeline page: SVG geometry computed on the server from rows fetched
once (incidents.timeline_reads counts each event's time and kind as a point), so the page's query count does
not depend on how many events there are. The template only writes it out (no script, no inline style: the
CSP forbids both). It summarizes: the events of a lane that fall in one of COLUMNS columns are one dot saying
how many they are and of which kinds, so an incident with thousands of call attempts draws at most COLUMNS
dots a lane. Its flags are the milestones (incidents.milestones).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.utils import timezone

from incidents.milestones import Milestone, format_duration
from incidents.models import EventKind, Incident


@dataclass(frozen=True)
class KindInColumn:
    """The events of one kind in one column of the chart: how many, the first (time and id), the last time."""

    kind: str
    count: int
    first_at: datetime
    first_id: int
    last_at: datetime


@dataclass(frozen=True)
class Columns:
    """The events of each lane in each of COLUMNS columns between start and end, kind by kind in the order
    of each kind's first event."""

    start: datetime
    end: datetime
    groups: dict[tuple[int, int], list[KindInColumn]]

    @property
    def count(self) -> int:
        return sum(k.count for group in self.groups.values() for k in group)

    def singles(self) -> list[int]:
        """The events alone in their column: their dots say their summary."""
        return [
            group[0].first_id for group in self.groups.values() if len(group) == 1 and group[0].count == 1
        ]


def chart_span(
    incident: Incident, first: datetime | None, last: datetime | None
) -> tuple[datetime, datetime]:
    """From the incident's opening (or its first event, if earlier) to its last event; a minute at least."""
    start = min(first, incident.opened_at) if first is not None else incident.opened_at
    end = max(last or start, start)
    return start, max(end, start + timedelta(minutes=1))


def column_of(at: datetime, start: datetime, end: datetime) -> int:
    return min(COLUMNS - 1, int(COLUMNS * (at - start).total_seconds() / (end - start).total_seconds()))


def chart_columns(start: datetime, end: datetime, kinds: Sequence[tuple[int, KindInColumn]]) -> Columns:
    """The columns from each (column, kind's events in it), whatever order they come in."""
    groups: dict[tuple[int, int], list[KindInColumn]] = {}
    for column, entry in kinds:
        groups.setdefault((_lane_of(entry.kind), column), []).append(entry)
    for group in groups.values():
        group.sort(key=lambda k: (k.first_at, k.first_id))
    return Columns(start=start, end=end, groups=groups)


@dataclass(frozen=True)
class Dot:
    """The events of one lane that fall in one column of the chart: one event, or a summary of several."""

    x: float
    y: float
    color: str
    title: str
    big: bool
    count: int = 1

    @property
    def r(self) -> float:
        if self.count == 1:
            return 7.0 if self.big else 4.5
        # Grows with the number of events it stands for, within the lane's height.
        return min(12.0, max(7.0 if self.big else 4.5, 4.5 + 1.5 * math.log2(self.count)))


@dataclass(frozen=True)
class Flag:
    """A milestone drawn as a vertical line with its label."""

    x: float
    label: str
    label_y: float
    anchor: str

    @property
    def line_top(self) -> float:
        return self.label_y + 3


@dataclass(frozen=True)
class Tick:
    x: float
    label: str


@dataclass(frozen=True)
class Lane:
    label: str
    y: float

    @property
    def text_y(self) -> float:
        return self.y + 4


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    left: int
    right: int
    axis_y: float
    top: float
    lanes: tuple[Lane, ...]
    dots: tuple[Dot, ...]
    flags: tuple[Flag, ...]
    ticks: tuple[Tick, ...]
    summary: str

    @property
    def tick_end(self) -> float:
        return self.axis_y + 5

    @property
    def tick_label_y(self) -> float:
        return self.axis_y + 18


LANES: tuple[tuple[str, frozenset[str]], ...] = (
    (
        "Incident",
        frozenset(
            {
                EventKind.INCIDENT_OPENED,
                EventKind.INCIDENT_STATUS,
                EventKind.POLICY_REAPPLIED,
                EventKind.FLAGGED,
            }
        ),
    ),
    (
        "Notification",
        frozenset(
            {
                EventKind.NOTIFICATION_STARTED,
                EventKind.NOTIFICATION_SENT,
                EventKind.CALL_ATTEMPT,
                EventKind.CALLS_EXHAUSTED,
                EventKind.ACKNOWLEDGED,
            }
        ),
    ),
    (
        "Authorization",
        frozenset(
            {
                EventKind.AUTHORIZATION_REQUESTED,
                EventKind.AUTHORIZATION_GIVEN,
                EventKind.AUTHORIZATION_DECLINED,
                EventKind.FALLBACK_TAKEN,
            }
        ),
    ),
    ("Actions", frozenset()),  # everything else: proposals, decisions, execution
)
COLUMNS = 120
KIND_LABELS: dict[str, str] = dict(EventKind.choices)
COLORS = {"status": "#5b6673", "notify": "#2f6fb3", "authz": "#9a6400", "act": "#1b7a43", "bad": "#b3261e"}
BAD = frozenset(
    {
        EventKind.FLAGGED,
        EventKind.CALLS_EXHAUSTED,
        EventKind.AUTHORIZATION_DECLINED,
        EventKind.ACTION_FAILED,
        EventKind.ACTION_ATTEMPT_FAILED,
    }
)
BIG = frozenset(
    {
        EventKind.INCIDENT_OPENED,
        EventKind.ACKNOWLEDGED,
        EventKind.AUTHORIZATION_GIVEN,
        EventKind.AUTHORIZATION_DECLINED,
        EventKind.FALLBACK_TAKEN,
        EventKind.ACTION_SUCCEEDED,
    }
)


def _lane_of(kind: str) -> int:
    for index, (_label, kinds) in enumerate(LANES):
        if kind in kinds:
            return index
    return len(LANES) - 1


def _color(kind: str, lane: int) -> str:
    if kind in BAD:
        return COLORS["bad"]
    return COLORS[("status", "notify", "authz", "act")[lane]]


def _label(kind: str) -> str:
    return KIND_LABELS.get(kind, kind)


def _dot(
    group: Sequence[KindInColumn],
    y: float,
    lane: int,
    x_of: Callable[[datetime], float],
    summaries: Mapping[int, str],
) -> Dot:
    first, last_at = group[0], max(k.last_at for k in group)
    count = sum(k.count for k in group)
    when = timezone.localtime(first.first_at).strftime("%H:%M:%S")
    if count == 1:
        title = f"{when} {_label(first.kind)}: {summaries.get(first.first_id, '')}"
        big = first.kind in BIG
        return Dot(x=x_of(first.first_at), y=y, color=_color(first.kind, lane), title=title, big=big)
    # In the order of each kind's first event: most_common keeps that order between equal counts.
    kinds = Counter({k.kind: k.count for k in group})
    until = timezone.localtime(last_at).strftime("%H:%M:%S")
    title = f"{when}–{until} {count} events: " + ", ".join(f"{n} {_label(k)}" for k, n in kinds.most_common())
    bad = next((k.kind for k in group if k.kind in BAD), None)
    return Dot(
        x=x_of(first.first_at + (last_at - first.first_at) / 2),
        y=y,
        color=_color(bad or first.kind, lane),
        title=title,
        big=any(k.kind in BIG for k in group),
        count=count,
    )


def chart(
    incident: Incident, columns: Columns, marks: Sequence[Milestone], summaries: Mapping[int, str]
) -> Chart:
    """The timeline as SVG geometry: one lane per kind of fact, a dot per event or per column of events
    (COLUMNS across), a line per milestone. `summaries` holds the words of the events alone in a column."""
    width, left, right = 1000, 118, 24
    reached = [m for m in marks if m.event is not None and m.key != "detection"]
    flag_row, lane_height = 16, 34
    top = 12 + flag_row * max(1, len(reached))
    axis_y = top + lane_height * len(LANES)
    height = int(axis_y + 30)
    start, end = columns.start, columns.end
    span = (end - start).total_seconds()
    plot = width - left - right

    def x_of(at: datetime) -> float:
        return round(left + plot * (at - start).total_seconds() / span, 1)

    lanes = tuple(Lane(label, top + lane_height * i + lane_height / 2) for i, (label, _) in enumerate(LANES))
    dots = [
        _dot(group, lanes[lane].y, lane, x_of, summaries)
        for (lane, _column), group in sorted(columns.groups.items())
    ]
    flags = []
    for row, mark in enumerate(reached):
        assert mark.event is not None  # `reached` keeps the milestones reached, each with its event
        x = x_of(mark.event.at)
        flags.append(
            Flag(
                x=x,
                label=f"{mark.label} +{mark.duration}",
                label_y=12 + flag_row * row,
                anchor="end" if x > left + plot * 0.6 else "start",
            )
        )
    ticks = []
    for i in range(5):
        at = start + (end - start) * i / 4
        label = timezone.localtime(at).strftime("%H:%M") if i == 0 else f"+{format_duration(at - start)}"
        ticks.append(Tick(x=x_of(at), label=label))
    summary = (
        f"Timeline of incident #{incident.pk}: {columns.count} events over {format_duration(end - start)}; "
        + "; ".join(f"{m.label} after {m.duration}" for m in reached)
    )
    return Chart(
        width=width,
        height=height,
        left=left,
        right=width - right,
        axis_y=axis_y,
        top=top,
        lanes=lanes,
        dots=tuple(dots),
        flags=tuple(flags),
        ticks=tuple(ticks),
        summary=summary,
    )
