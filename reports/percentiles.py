"""Median and 90th percentile of a column, as PostgreSQL's percentile_cont computes them (linear between the
two nearest values): in the database on PostgreSQL, over the fetched column elsewhere (SQLite, a demo)."""

from __future__ import annotations

import math
from collections.abc import Sequence

from django.db import connection
from django.db.models import Aggregate, FloatField, QuerySet

FRACTIONS = {"median": 0.5, "p90": 0.9}


class PercentileCont(Aggregate):
    """percentile_cont(fraction) WITHIN GROUP (ORDER BY expression): PostgreSQL's ordered-set aggregate."""

    function = "percentile_cont"
    template = "%(function)s(%(fraction)s) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = FloatField()

    def __init__(self, expression: str, fraction: float) -> None:
        super().__init__(expression, fraction=float(fraction))


def percentile(values: Sequence[float], fraction: float) -> float | None:
    """percentile_cont over a list: the value at rank fraction * (n - 1), linear between neighbours."""
    ordered = sorted(values)
    if not ordered:
        return None
    rank = fraction * (len(ordered) - 1)
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def percentiles(rows: QuerySet, columns: Sequence[str]) -> dict[str, dict[str, float | None]]:
    """For each column, its median and p90 over the rows where it is set."""
    if connection.vendor == "postgresql":
        aggregates = {
            f"{column}__{name}": PercentileCont(column, fraction)
            for column in columns
            for name, fraction in FRACTIONS.items()
        }
        found = rows.aggregate(**aggregates)
        return {column: {name: found[f"{column}__{name}"] for name in FRACTIONS} for column in columns}
    values: dict[str, list[float]] = {column: [] for column in columns}
    for row in rows.values_list(*columns):
        for column, value in zip(columns, row, strict=True):
            if value is not None:
                values[column].append(value)
    return {
        column: {name: percentile(values[column], fraction) for name, fraction in FRACTIONS.items()}
        for column in columns
    }
