"""The report's incidents as CSV, one row each with every figure as a column, streamed: rows are read from
the database in chunks as the response is written, so a month of 100,000 incidents takes constant memory."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from datetime import datetime

from django.db.models import QuerySet

from incidents.models import Incident
from reports.figures import DURATIONS, incidents_with_figures

CHUNK = 2000

COLUMNS: list[tuple[str, str]] = [
    ("id", "incident"),
    ("tenant__name", "tenant"),
    ("title", "title"),
    ("severity", "severity"),
    ("status", "status"),
    ("outcome", "outcome"),
    ("detected", "detected_at"),
    ("opened_at", "opened_at"),
    ("acknowledged_at", "acknowledged_at"),
    ("decided_at", "decided_at"),
    ("contained_at", "contained_at"),
    ("resolved_at", "resolved_at"),
    *[(f"{d.key}_seconds", f"time_to_{d.key}_seconds") for d in DURATIONS],
    ("fallback_taken_at", "fallback_taken_at"),
]


class _Echo:
    """A file that hands back what is written to it, so csv.writer yields lines to stream."""

    def write(self, value: str) -> str:
        return value


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, float):
        return f"{value:.0f}"
    text = str(value)
    # A cell a spreadsheet would run as a formula is written as text.
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def csv_lines(incidents: QuerySet[Incident]) -> Iterator[str]:
    """The header, then one line per incident, oldest first, read CHUNK rows at a time."""
    writer = csv.writer(_Echo())
    yield writer.writerow([header for _field, header in COLUMNS])
    rows = (
        incidents_with_figures(incidents)
        .order_by("opened_at", "id")
        .values_list(*[field for field, _header in COLUMNS])
    )
    for row in rows.iterator(chunk_size=CHUNK):
        yield writer.writerow([_cell(value) for value in row])
