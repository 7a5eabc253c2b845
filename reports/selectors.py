"""What a report reads: the incidents a user may see in a period (filtered by tenant and severity), and every
figure over them, each a few aggregate queries whatever the number of incidents (reports.figures defines them).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Count, Model, Q, QuerySet
from django.db.models.functions import TruncWeek

from escalation.models import Acknowledgment, CallAttempt, CallOutcome
from incidents.milestones import format_duration
from incidents.models import (
    ActionStatus,
    Basis,
    Channel,
    EventKind,
    Incident,
    IncidentStatus,
    ResponseAction,
    Severity,
    TimelineEvent,
)
from reports.figures import DURATIONS, OUTCOMES, Duration, incidents_with_figures
from reports.periods import Period
from reports.summary import summarize
from tenants.models import Performer, Tenant


def duration_text(seconds: float | None) -> str:
    # Rounded: SQLite's julianday arithmetic gives 419.9999 for seven minutes.
    return format_duration(timedelta(seconds=round(seconds))) if seconds is not None else "—"


@dataclass(frozen=True)
class DurationFigure:
    duration: Duration
    count: int  # incidents that reached the milestone
    median: float | None
    p90: float | None

    @property
    def median_text(self) -> str:
        return duration_text(self.median)

    @property
    def p90_text(self) -> str:
        return duration_text(self.p90)


@dataclass(frozen=True)
class Week:
    start: datetime
    incidents: int
    median_acknowledge: float | None

    @property
    def median_text(self) -> str:
        return duration_text(self.median_acknowledge)


@dataclass(frozen=True)
class Fallback:
    incident_id: int
    tenant: str
    title: str
    at: datetime
    attempts: list[dict[str, Any]]


@dataclass(frozen=True)
class Report:
    """Every figure of one report."""

    period: Period
    tenant: Tenant | None
    severity: str
    incidents: int
    by_severity: list[tuple[str, int]]
    by_status: list[tuple[str, int]]
    by_outcome: list[tuple[str, int]]
    durations: list[DurationFigure]
    calls: dict[str, int]
    acknowledgments_by_channel: list[tuple[str, int]]
    actions_by_basis: list[tuple[str, str, int]]
    actions_by_performer: list[tuple[str, str, int]]
    fallbacks: list[Fallback]
    weeks: list[Week]


def report_incidents(
    *, tenants: QuerySet[Tenant], period: Period, tenant: Tenant | None = None, severity: str = ""
) -> QuerySet[Incident]:
    """The incidents opened in the period among the tenants read (a user's: tenants_for_user), or the one
    chosen among them, of that severity."""
    # The ids first: as a subquery (DISTINCT over memberships and partners' memberships) the planner
    # misjudges it under the per-incident figures and reads the whole timeline (3 s at 100k incidents).
    ids = list(tenants.order_by().values_list("pk", flat=True))
    incidents = Incident.objects.filter(
        tenant_id__in=ids, opened_at__gte=period.start, opened_at__lt=period.end
    )
    if tenant is not None:
        incidents = incidents.filter(tenant=tenant)
    if severity:
        incidents = incidents.filter(severity=severity)
    return incidents.order_by()


def _tallies(rows: QuerySet[Model], *fields: str) -> list[tuple[Any, ...]]:
    """The rows counted by every combination of the fields' values, in one query: (*values, count)."""
    return list(rows.values(*fields).annotate(n=Count("pk")).values_list(*fields, "n").order_by())


def _counted(tallies: list[tuple[Any, ...]], at: int, labels: dict[str, str]) -> list[tuple[str, int]]:
    found: dict[str, int] = defaultdict(int)
    for row in tallies:
        found[row[at]] += row[-1]
    return [(label, found[value]) for value, label in labels.items() if found.get(value)]


def _by_two(tallies: list[tuple[Any, ...]], at: int, labels: dict[str, str]) -> list[tuple[str, str, int]]:
    """Counted by one field (at) and the action's status (the last value before the count)."""
    counted: dict[tuple[str, str], int] = defaultdict(int)
    for row in tallies:
        counted[row[at], row[-2]] += row[-1]
    status = dict(ActionStatus.choices)
    order = {value: rank for rank, value in enumerate(labels)}
    ranked = sorted(counted.items(), key=lambda item: (order.get(item[0][0], len(order)), item[0][1]))
    return [(labels.get(value, value), status.get(s, s), n) for (value, s), n in ranked]


def _fallbacks(incidents: QuerySet[Incident]) -> list[Fallback]:
    events = (
        TimelineEvent.objects.filter(
            incident__in=incidents.filter(fallback_taken_at__isnull=False), kind=EventKind.FALLBACK_TAKEN
        )
        .select_related("incident__tenant")
        .order_by("at", "id")
    )
    return [
        Fallback(e.incident_id, e.incident.tenant.name, e.incident.title, e.at, e.data.get("attempts", []))
        for e in events
    ]


def _calls(incidents: QuerySet[Incident]) -> dict[str, int]:
    calls = CallAttempt.objects.filter(run__incident__in=incidents)
    return calls.aggregate(
        placed=Count("pk", filter=Q(placed_at__isnull=False)),
        answered=Count("pk", filter=Q(outcome__in=[CallOutcome.ACKNOWLEDGED, CallOutcome.NO_KEY])),
        acknowledged=Count("pk", filter=Q(outcome=CallOutcome.ACKNOWLEDGED)),
        voicemail=Count("pk", filter=Q(outcome=CallOutcome.VOICEMAIL)),
        unanswered=Count("pk", filter=Q(outcome__in=[CallOutcome.NO_ANSWER, CallOutcome.BUSY])),
    )


def report_read(
    *, tenants: QuerySet[Tenant], period: Period, tenant: Tenant | None = None, severity: str = ""
) -> Report:
    """Every figure of the report, over the incidents of the tenants read (see report_incidents)."""
    incidents = report_incidents(tenants=tenants, period=period, tenant=tenant, severity=severity)
    figures = incidents_with_figures(incidents).annotate(week=TruncWeek("opened_at"))
    columns = [f"{d.key}_seconds" for d in DURATIONS]
    summary = summarize(figures, columns, trend_column="acknowledge_seconds")
    # One query each for the incidents' and the actions' counts (the month's rows read once).
    counts = _tallies(incidents, "severity", "status")
    actions = _tallies(ResponseAction.objects.filter(incident__in=incidents), "basis", "performer", "status")
    return Report(
        period=period,
        tenant=tenant,
        severity=severity,
        incidents=sum(row[-1] for row in counts),
        by_severity=_counted(counts, 0, dict(Severity.choices)),
        by_status=_counted(counts, 1, dict(IncidentStatus.choices)),
        by_outcome=[
            (label, summary.outcomes[key]) for key, label in OUTCOMES.items() if summary.outcomes.get(key)
        ],
        durations=[
            DurationFigure(d, summary.spreads[c].count, summary.spreads[c].median, summary.spreads[c].p90)
            for d, c in zip(DURATIONS, columns, strict=True)
        ],
        calls=_calls(incidents),
        acknowledgments_by_channel=_counted(
            _tallies(Acknowledgment.objects.filter(incident__in=incidents), "channel"),
            0,
            dict(Channel.choices),
        ),
        actions_by_basis=_by_two(
            actions, 0, {"": "No basis (not performed by MDR Ops)"} | dict(Basis.choices)
        ),
        actions_by_performer=_by_two(actions, 1, dict(Performer.choices)),
        fallbacks=_fallbacks(incidents),
        weeks=[Week(week, n, median) for week, n, median in summary.weeks],
    )
