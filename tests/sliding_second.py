"""Counting calls in a sliding second, as Twilio's limit counts them."""

from __future__ import annotations


def most_in_one_sliding_second(times: list[float], *, late_by: float = 0.0) -> int:
    """The most times any half-open second [t, t + 1) holds; the busiest such window starts at one of them.

    late_by: how late a time may have been taken after the event (a clock read behind other busy threads):
    the window is that much shorter, so that a late reading cannot make a second look fuller than it was.
    """
    times = sorted(times)
    return max((sum(1 for other in times if at <= other < at + 1 - late_by) for at in times), default=0)
