"""The yardstick of bench/latency: a bare Celery task making the same request to Twilio as a placed call."""

from __future__ import annotations

from celery import shared_task

from escalation.phone.base import CallRequest
from escalation.phone.twilio import TwilioPhone


@shared_task(name="bench.bare_call", ignore_result=True)
def bare_call(attempt_id: int, to: str) -> None:
    TwilioPhone().place_call(CallRequest(attempt_id=attempt_id, to=to, ring_timeout_seconds=30))
