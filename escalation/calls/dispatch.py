"""Placing queued calls: highest severity first, every run's first call before any run's second, test calls
last, and never more than the account's calls per second across all workers."""

from __future__ import annotations

import logging
import time

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from escalation.calls.pace import call_pacer
from escalation.calls.records import call_not_placed, call_placed
from escalation.models import CallAttempt, CallOutcome, RunState
from escalation.nudges import nudge_dispatch
from escalation.phone.base import CallRequest, PhoneBackend, PhoneError
from escalation.phone.registry import phone_backend
from escalation.runs.fallback import someone_has_it
from escalation.runs.states import run_stop
from escalation.selectors import calls_waiting
from incidents.events import incident_lock, timeline_record
from incidents.models import ACTIVE_INCIDENT_STATUSES, Channel, EventKind

log = logging.getLogger(__name__)
ORDER = ("severity_rank", "sequence", "queued_at", "id")


def _queued() -> QuerySet[CallAttempt]:
    return calls_waiting()


# Candidates looked at per claim: a candidate whose incident another worker holds is passed over.
CANDIDATES = 20


def call_claim_next(backend: str) -> CallRequest | None:
    """Take the most urgent queued call and mark it dialing; a second worker skips it and takes the next.

    A call of a run is claimed under its incident's lock, after checking (DESIGN rules 6 and 11) that the
    incident is active, the run still runs and nobody has acknowledged or decided: no call is placed after
    an acknowledgment, a written decision or a close.
    """
    for attempt_id, run_id in _queued().order_by(*ORDER).values_list("pk", "run_id")[:CANDIDATES]:
        with transaction.atomic():
            claimed = _claim(attempt_id, run_id, backend)
        if claimed is not None:
            return claimed
    return None


def _claim(attempt_id: int, run_id: int | None, backend: str) -> CallRequest | None:
    incident = None
    if run_id is not None:
        incident_id = CallAttempt.objects.values_list("run__incident_id", flat=True).get(pk=attempt_id)
        incident = incident_lock(incident_id)
    call = (
        CallAttempt.objects.select_for_update(of=("self",), skip_locked=True)
        .select_related("run", "contact__tenant")
        .filter(pk=attempt_id, outcome=CallOutcome.QUEUED)
        .first()
    )
    if call is None:
        return None  # another worker has it, or it moved on
    if call.run is None:  # a test call: about no incident
        _mark_dialing(call, backend)
        timeout = call.contact.tenant.ring_timeout_seconds
        return CallRequest(attempt_id=call.pk, to=call.to, ring_timeout_seconds=timeout)
    call.run.incident = incident
    if call.run.state != RunState.ACTIVE:
        call.outcome, call.ended_at = CallOutcome.CANCELED, timezone.now()
        call.save(update_fields=["outcome", "ended_at"])
        return None
    if incident.status not in ACTIVE_INCIDENT_STATUSES:
        run_stop(call.run, RunState.CANCELED)
        return None
    if someone_has_it(incident):
        run_stop(call.run, RunState.ACKNOWLEDGED)
        return None
    _mark_dialing(call, backend)
    timeline_record(
        incident=incident,
        kind=EventKind.CALL_ATTEMPT,
        summary=f"Calling {call.contact.name} at {call.to} (call {call.sequence}, try {call.try_number}).",
        label="MDR Ops call tree",
        channel=Channel.PHONE,
        data={"call": call.pk, "run": call.run_id, "outcome": "dialing"},
    )
    return CallRequest(attempt_id=call.pk, to=call.to, ring_timeout_seconds=call.run.ring_timeout_seconds)


def _mark_dialing(call: CallAttempt, backend: str) -> None:
    call.outcome, call.placed_at, call.backend = CallOutcome.DIALING, timezone.now(), backend
    call.save(update_fields=["outcome", "placed_at", "backend"])


def call_place(request: CallRequest, backend: PhoneBackend) -> bool:
    """Place one claimed call, outside any transaction, and record what the provider said; True if placed."""
    try:
        answer = backend.place_call(request)
    except PhoneError as error:
        call_not_placed(attempt_id=request.attempt_id, reason=str(error))
        return False
    except Exception as error:  # noqa: BLE001 - a backend bug: nobody was reached, the try is owed
        log.exception("phone backend %s raised for call %s", backend.name, request.attempt_id)
        call_not_placed(
            attempt_id=request.attempt_id, reason=f"the phone backend failed ({type(error).__name__})"
        )
        return False
    call_placed(attempt_id=request.attempt_id, sid=answer.sid)
    return True


def calls_dispatch(*, max_seconds: float = 1.0) -> int:
    """Place queued calls as their slots come free, outside transactions; returns how many were placed.

    It never waits for a slot: when none is free, the one dispatcher the pacer chose for the next slot is
    sent for it (a countdown of at most 1/CPS) and this task ends, so a dialing process is never held
    asleep while other runs' work waits behind it. Runs longer than max_seconds only while slots keep
    coming free, then hands over to a fresh task.
    """
    pacer, backend = call_pacer(), phone_backend()
    placed, deadline = 0, time.monotonic() + max_seconds
    while _queued().exists():
        if time.monotonic() >= deadline:
            nudge_dispatch()
            break
        grant = pacer.acquire()
        if not grant.granted:
            if grant.wake:
                nudge_dispatch(countdown=grant.wait)
            break
        request = call_claim_next(backend.name)
        if request is None:
            break
        placed += call_place(request, backend)
    return placed
