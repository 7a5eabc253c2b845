"""Placing queued calls: highest severity first, every run's first call before any run's second, test calls
last, and never more than the account's calls per second across all workers."""

from __future__ import annotations

import logging
import time

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from escalation.models import CallAttempt, CallOutcome
from escalation.phone.base import CallRequest, PhoneError
from escalation.phone.registry import phone_backend
from escalation.ratelimit import rate_limiter, seconds_to_next_slot
from escalation.selectors import calls_waiting
from escalation.services import call_not_placed, call_placed, nudge_dispatch
from incidents.models import Channel, EventKind
from incidents.services import timeline_record

log = logging.getLogger(__name__)
ORDER = ("severity_rank", "sequence", "queued_at", "id")


def _queued() -> QuerySet[CallAttempt]:
    return calls_waiting()


@transaction.atomic
def call_claim_next(backend: str) -> CallRequest | None:
    """Take the most urgent queued call and mark it dialing; a second worker skips it and takes the next."""
    call = (
        _queued()
        .select_for_update(of=("self",), skip_locked=True)
        .select_related("run__incident", "contact__tenant")
        .order_by(*ORDER)
        .first()
    )
    if call is None:
        return None
    call.outcome, call.placed_at, call.backend = CallOutcome.DIALING, timezone.now(), backend
    call.save(update_fields=["outcome", "placed_at", "backend"])
    if call.run is None:  # a test call: about no incident
        timeout = call.contact.tenant.ring_timeout_seconds
        return CallRequest(attempt_id=call.pk, to=call.to, ring_timeout_seconds=timeout)
    timeline_record(
        incident=call.run.incident,
        kind=EventKind.CALL_ATTEMPT,
        summary=f"Calling {call.contact.name} at {call.to} (call {call.sequence}, try {call.try_number}).",
        label="MDR Ops call tree",
        channel=Channel.PHONE,
        data={"call": call.pk, "run": call.run_id, "outcome": "dialing"},
    )
    return CallRequest(attempt_id=call.pk, to=call.to, ring_timeout_seconds=call.run.ring_timeout_seconds)


def calls_dispatch(*, max_seconds: float = 10.0) -> int:
    """Place queued calls for up to max_seconds; returns how many were placed. Calls happen outside transactions."""
    limiter, backend = rate_limiter(), phone_backend()
    placed, deadline = 0, time.monotonic() + max_seconds
    while time.monotonic() < deadline and _queued().exists():
        if not limiter.acquire():
            time.sleep(seconds_to_next_slot())
            continue
        request = call_claim_next(backend.name)
        if request is None:
            break
        try:
            answer = backend.place_call(request)
        except PhoneError as error:
            call_not_placed(attempt_id=request.attempt_id, reason=str(error), permanent=error.permanent)
        except Exception as error:  # noqa: BLE001 - a backend bug: this call fails, the tree goes on
            log.exception("phone backend %s raised for call %s", backend.name, request.attempt_id)
            call_not_placed(attempt_id=request.attempt_id, reason=type(error).__name__, permanent=True)
        else:
            call_placed(attempt_id=request.attempt_id, sid=answer.sid)
            placed += 1
    if _queued().exists():
        with transaction.atomic():
            nudge_dispatch()
    return placed
