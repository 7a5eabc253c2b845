"""Percentiles as PostgreSQL's percentile_cont computes them (linear between the two nearest values), for
the databases that have no percentile_cont (SQLite, a demo)."""

from __future__ import annotations

import math
from collections.abc import Sequence


def percentile(values: Sequence[float], fraction: float) -> float | None:
    """percentile_cont over a list: the value at rank fraction * (n - 1), linear between neighbours."""
    ordered = sorted(values)
    if not ordered:
        return None
    rank = fraction * (len(ordered) - 1)
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)
