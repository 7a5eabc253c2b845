"""What a manager reads on an incident's timeline page: the durations that matter and a drawn timeline.

Pure functions over rows fetched once (the incident, its events, its actions from timeline_actions), so
the page's query count does not depend on how many events there are. The chart is SVG geometry computed
on the server; the template only writes it out (no script, no inline style: the CSP forbids both). It
summarizes: the events of a lane that fall in one of COLUMNS columns are one dot saying how many they are
and of which kinds, so an incident with thousands of call attempts draws at most COLUMNS dots a lane.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Exists, OuterRef, QuerySet
from django.utils import timezone

from incidents.models import ActionType, Category, EventKind, Incident, ResponseAction, TimelineEvent
from incidents.policy import PolicySnapshot


@dataclass(frozen=True)
class Milestone:
    """One point the customer and MDR Ops measure themselves by, counted from detection."""

    key: str
    label: str
    event: TimelineEvent | None
    since_detection: timedelta | None
    note: str = ""

    @property
    def duration(self) -> str:
        return format_duration(self.since_detection) if self.since_detection is not None else ""


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


NOTIFIED = frozenset({EventKind.NOTIFICATION_SENT, EventKind.CALL_ATTEMPT})
DECIDED = frozenset(
    {EventKind.AUTHORIZATION_GIVEN, EventKind.AUTHORIZATION_DECLINED, EventKind.FALLBACK_TAKEN}
)

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


def _first(events: Sequence[TimelineEvent], kinds: frozenset[str]) -> TimelineEvent | None:
    return next((e for e in events if e.kind in kinds), None)


def timeline_actions(incident: Incident) -> QuerySet[ResponseAction]:
    """The incident's actions with their types, each saying whether its type undoes another one."""
    undo = ActionType.objects.filter(revert=OuterRef("action_type"))
    return incident.actions.select_related("action_type").annotate(undoes=Exists(undo))


def _containment_succeeded(
    events: Sequence[TimelineEvent], actions: Sequence[ResponseAction]
) -> TimelineEvent | None:
    # Releasing from isolation or unblocking is in the containment category, but it undoes containment.
    containing = {
        a.pk
        for a in actions
        if a.action_type.category == Category.CONTAINMENT
        and a.reverts_id is None
        and not getattr(a, "undoes", False)
    }
    return next(
        (e for e in events if e.kind == EventKind.ACTION_SUCCEEDED and e.data.get("action") in containing),
        None,
    )


def milestones(
    incident: Incident, events: Sequence[TimelineEvent], actions: Sequence[ResponseAction]
) -> list[Milestone]:
    """Detection is when the incident was opened; each later milestone is its first event, if any."""
    detected = _first(events, frozenset({EventKind.INCIDENT_OPENED}))
    start = incident.opened_at

    def since(event: TimelineEvent | None) -> timedelta | None:
        return event.at - start if event is not None else None

    notified = _first(events, NOTIFIED)
    acknowledged = _first(events, frozenset({EventKind.ACKNOWLEDGED}))
    decided = _first(events, DECIDED)
    contained = _containment_succeeded(events, actions)
    decision_note = ""
    if decided is None and PolicySnapshot.read(incident).authorize_mode:
        decision_note = "Not needed: the customer was in Authorize mode when the incident opened."
    elif decided is not None:
        decision_note = decided.get_kind_display()
    return [
        Milestone("detection", "Detection", detected, timedelta(0)),
        Milestone("notified", "First notification", notified, since(notified)),
        Milestone("acknowledged", "Acknowledgment", acknowledged, since(acknowledged)),
        Milestone("decided", "Authorization or fallback", decided, since(decided), decision_note),
        Milestone("contained", "Containment", contained, since(contained)),
    ]


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


def _dot(group: Sequence[TimelineEvent], y: float, lane: int, x_of: Callable[[datetime], float]) -> Dot:
    first, last = group[0], group[-1]
    when = timezone.localtime(first.at).strftime("%H:%M:%S")
    if len(group) == 1:
        title = f"{when} {first.get_kind_display()}: {first.summary}"
        return Dot(x=x_of(first.at), y=y, color=_color(first.kind, lane), title=title, big=first.kind in BIG)
    # Counted by the stored kind, then labelled: get_kind_display rebuilds the choices on every call.
    kinds = Counter(e.kind for e in group)
    until = timezone.localtime(last.at).strftime("%H:%M:%S")
    title = f"{when}–{until} {len(group)} events: " + ", ".join(
        f"{n} {_label(k)}" for k, n in kinds.most_common()
    )
    bad = next((e.kind for e in group if e.kind in BAD), None)
    return Dot(
        x=x_of(first.at + (last.at - first.at) / 2),
        y=y,
        color=_color(bad or first.kind, lane),
        title=title,
        big=any(e.kind in BIG for e in group),
        count=len(group),
    )


def chart(incident: Incident, events: Sequence[TimelineEvent], marks: Sequence[Milestone]) -> Chart:
    """The timeline as SVG geometry: one lane per kind of fact, a dot per event or per column of events
    (COLUMNS across), a line per milestone. Events come in time order."""
    width, left, right = 1000, 118, 24
    reached = [m for m in marks if m.event is not None and m.key != "detection"]
    flag_row, lane_height = 16, 34
    top = 12 + flag_row * max(1, len(reached))
    axis_y = top + lane_height * len(LANES)
    height = int(axis_y + 30)
    start = events[0].at if events else incident.opened_at
    start = min(start, incident.opened_at)
    end = max([e.at for e in events] + [start])
    if end - start < timedelta(minutes=1):
        end = start + timedelta(minutes=1)
    span = (end - start).total_seconds()
    plot = width - left - right

    def x_of(at: datetime) -> float:
        return round(left + plot * (at - start).total_seconds() / span, 1)

    lanes = tuple(Lane(label, top + lane_height * i + lane_height / 2) for i, (label, _) in enumerate(LANES))
    columns: dict[tuple[int, int], list[TimelineEvent]] = {}
    for event in events:
        column = min(COLUMNS - 1, int(COLUMNS * (event.at - start).total_seconds() / span))
        columns.setdefault((_lane_of(event.kind), column), []).append(event)
    dots = [_dot(group, lanes[lane].y, lane, x_of) for (lane, _column), group in sorted(columns.items())]
    flags = []
    for row, mark in enumerate(reached):
        x = x_of(mark.event.at)  # type: ignore[union-attr]
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
        f"Timeline of incident #{incident.pk}: {len(events)} events over {format_duration(end - start)}; "
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
