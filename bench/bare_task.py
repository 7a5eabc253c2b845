"""The yardsticks of bench/latency: a bare Celery task making the same request to Twilio as a placed call, and
the floor of a durable path (the call's row committed before the task is sent, claimed once in the task)."""

from __future__ import annotations

from celery import shared_task
from django.db import connection, transaction

from escalation.phone.base import CallRequest
from escalation.phone.twilio import TwilioPhone

FLOOR_TABLE = "bench_floor_call"


@shared_task(name="bench.bare_call", ignore_result=True)
def bare_call(attempt_id: int, to: str) -> None:
    TwilioPhone().place_call(CallRequest(attempt_id=attempt_id, to=to, ring_timeout_seconds=30))


@shared_task(name="bench.floor_call", ignore_result=True)
def floor_call(row_id: int, to: str) -> None:
    """The least a call path that keeps the rules does: its row was committed before this task was sent (no
    network call inside a transaction), and the task claims it in one statement (placed once, however often
    the task is delivered) before the same request as the bare task."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {FLOOR_TABLE} SET claimed = true WHERE id = %s AND NOT claimed RETURNING id", [row_id]
        )
        claimed = cursor.fetchone()
    if claimed:
        request = CallRequest(attempt_id=2 * 10**9 + row_id, to=to, ring_timeout_seconds=30)
        TwilioPhone().place_call(request)
