"""The per-incident figures summed up in one pass: for each duration its count, median and p90, the
incidents by outcome, and by week the count and the median time to acknowledge.

On PostgreSQL one query: the annotated incidents are a subquery read once, grouped by GROUPING SETS ((),
(outcome), (week)) with percentile_cont. Elsewhere (SQLite, a demo) the same over the fetched rows, with
percentile_cont's interpolation (reports.percentiles.percentile).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from django.db import connection
from django.db.models import Model, QuerySet

from reports.percentiles import percentile


@dataclass(frozen=True)
class Spread:
    count: int
    median: float | None
    p90: float | None


@dataclass
class Summary:
    spreads: dict[str, Spread] = field(default_factory=dict)
    outcomes: dict[str, int] = field(default_factory=dict)
    weeks: list[tuple[datetime, int, float | None]] = field(default_factory=list)


def summarize(rows: QuerySet[Model], columns: Sequence[str], *, trend_column: str) -> Summary:
    """rows: incidents annotated with the columns (seconds), `outcome` and `week`."""
    if connection.vendor == "postgresql":
        return _in_sql(rows, columns, trend_column)
    return _here(rows, columns, trend_column)


def _in_sql(rows: QuerySet[Model], columns: Sequence[str], trend_column: str) -> Summary:
    inner, params = rows.values(*columns, "outcome", "week").order_by().query.sql_with_params()
    spreads = ", ".join(
        f'count(f."{c}"), percentile_cont(0.5) WITHIN GROUP (ORDER BY f."{c}"), '
        f'percentile_cont(0.9) WITHIN GROUP (ORDER BY f."{c}")'
        for c in columns
    )
    sql = (
        f'SELECT GROUPING(f."outcome"), GROUPING(f."week"), f."outcome", f."week", count(*), '
        f'percentile_cont(0.5) WITHIN GROUP (ORDER BY f."{trend_column}"), {spreads} '
        f'FROM ({inner}) AS f GROUP BY GROUPING SETS ((), (f."outcome"), (f."week"))'
    )
    summary = Summary()
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        found = cursor.fetchall()
    for no_outcome, no_week, outcome, week, count, trend, *figures in found:
        if no_outcome and no_week:
            summary.spreads = {
                c: Spread(figures[3 * i], figures[3 * i + 1], figures[3 * i + 2])
                for i, c in enumerate(columns)
            }
        elif no_week:
            summary.outcomes[outcome] = count
        else:
            summary.weeks.append((week, count, trend))
    if not summary.spreads:
        summary.spreads = {c: Spread(0, None, None) for c in columns}
    summary.weeks.sort()
    return summary


def _here(rows: QuerySet[Model], columns: Sequence[str], trend_column: str) -> Summary:
    values: dict[str, list[float]] = {c: [] for c in columns}
    outcomes: dict[str, int] = defaultdict(int)
    weekly: dict[datetime, list[float]] = defaultdict(list)
    counts: dict[datetime, int] = defaultdict(int)
    trend_at = list(columns).index(trend_column)
    for *figures, outcome, week in rows.values_list(*columns, "outcome", "week").order_by():
        for column, value in zip(columns, figures, strict=True):
            if value is not None:
                values[column].append(value)
        outcomes[outcome] += 1
        counts[week] += 1
        if figures[trend_at] is not None:
            weekly[week].append(figures[trend_at])
    return Summary(
        spreads={c: Spread(len(v), percentile(v, 0.5), percentile(v, 0.9)) for c, v in values.items()},
        outcomes=dict(outcomes),
        weeks=[(week, counts[week], percentile(weekly[week], 0.5)) for week in sorted(counts)],
    )
