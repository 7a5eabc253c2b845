"""Every report figure, defined once, from the recorded facts: an incident's detection and the first time of
each milestone, kept on the incident as the event that records it is written (incidents.milestone_times says
which events record each one). The page shows these definitions as written here.

A duration is in seconds from detection (`detected_at`, or the opening of incidents recorded before it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.db.models import Case, F, FloatField, Func, QuerySet, Value, When
from django.db.models.expressions import Combinable
from django.db.models.functions import Coalesce

from incidents.models import Incident

if TYPE_CHECKING:
    from django.db.backends.base.base import BaseDatabaseWrapper
    from django.db.models.sql.compiler import SQLCompiler, _AsSqlType

DETECTED = Coalesce(F("detected_at"), F("opened_at"))


@dataclass(frozen=True)
class Duration:
    """One time-to figure: from detection to a milestone, and the words that define it on the page."""

    key: str
    label: str
    definition: str
    milestone: str  # the annotation holding the milestone's time


def milestone_times() -> dict[str, Combinable]:
    """Each milestone's time on an incident: the first event that records it, as kept on the incident."""
    return {
        "detected": DETECTED,
        "acknowledged_at": F("first_acknowledged_at"),
        "decided_at": F("first_decided_at"),
        "contained_at": F("first_contained_at"),
        "resolved_at": F("first_resolved_at"),
    }


DURATIONS = (
    Duration(
        "acknowledge",
        "Time to acknowledge",
        "From detection to the first acknowledgment by any channel (a key pressed on a call, the portal, an "
        "emailed link, a text reply).",
        "acknowledged_at",
    ),
    Duration(
        "decide",
        "Time to decide",
        "From detection to the first decision on the response: a written authorization given or declined, or "
        "the no-acknowledgment fallback taken.",
        "decided_at",
    ),
    Duration(
        "contain",
        "Time to contain",
        "From detection to the first containment action that succeeded (not one that undoes containment).",
        "contained_at",
    ),
    Duration(
        "resolve",
        "Time to resolve",
        "From detection to the first time the incident was marked resolved or closed.",
        "resolved_at",
    ),
)


class Seconds(Func):
    """Seconds from the first datetime to the second, in the database."""

    output_field = FloatField()
    arity = 2

    def as_sqlite(
        self, compiler: SQLCompiler, connection: BaseDatabaseWrapper, **extra_context: Any
    ) -> _AsSqlType:
        (start, end) = self.get_source_expressions()
        sql_start, params_start = compiler.compile(start)
        sql_end, params_end = compiler.compile(end)
        return f"((julianday({sql_end}) - julianday({sql_start})) * 86400.0)", (*params_end, *params_start)

    def as_sql(
        self,
        compiler: SQLCompiler,
        connection: BaseDatabaseWrapper,
        function: str | None = None,
        template: str | None = None,
        arg_joiner: str | None = None,
        **extra_context: Any,
    ) -> _AsSqlType:
        (start, end) = self.get_source_expressions()
        sql_start, params_start = compiler.compile(start)
        sql_end, params_end = compiler.compile(end)
        return f"EXTRACT(EPOCH FROM ({sql_end} - {sql_start}))", (*params_end, *params_start)


OUTCOMES = {
    "contained": "Contained",
    "ended_uncontained": "Resolved or closed without containment by MDR Ops",
    "ongoing": "Still open, not contained",
}


def incidents_with_figures(incidents: QuerySet[Incident]) -> QuerySet[Incident]:
    """The incidents annotated with each milestone's time, each duration in seconds and the outcome."""
    annotated = incidents.annotate(**milestone_times())
    durations = {f"{d.key}_seconds": Seconds(F("detected"), F(d.milestone)) for d in DURATIONS}
    outcome = Case(
        When(contained_at__isnull=False, then=Value("contained")),
        When(resolved_at__isnull=False, then=Value("ended_uncontained")),
        default=Value("ongoing"),
    )
    return annotated.annotate(**durations, outcome=outcome)
