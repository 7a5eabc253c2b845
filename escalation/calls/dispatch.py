"""Placing queued calls: highest severity first, every run's first call before any run's second, test calls
last, and never more than the account's calls per second across all workers."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import datetime, timedelta

from django.db.models import QuerySet
from django.utils import timezone

from escalation.calls.claim_first import Claimed, claim_if_first, claim_most_urgent, goes_first
from escalation.calls.pace import CallPacer, call_pacer
from escalation.calls.records import call_not_placed, call_placed
from escalation.calls.run_side import run_side
from escalation.models import CallAttempt, CallOutcome, RunState
from escalation.nudges import nudge_dispatch
from escalation.phone.base import CallRequest, PhoneBackend, PhoneError
from escalation.phone.registry import phone_backend
from escalation.selectors import calls_waiting
from escalation.wanted import call_still_wanted
from incidents.locks import incident_lock
from mdrportal.core.retry import retried_atomic

log = logging.getLogger(__name__)
ORDER = ("severity_rank", "sequence", "queued_at", "id")


def _queued() -> QuerySet[CallAttempt]:
    return calls_waiting()


# Candidates looked at per claim: a candidate whose incident another worker holds is passed over.
CANDIDATES = 20
# A claim not placed yet (no provider id) holds back less urgent calls this long at most: its worker is
# taking a slot for it (or releasing it), and a less urgent claim must not take that slot first.
CLAIM_AHEAD_SECONDS = 2


def _claims_since(now: datetime | None = None) -> datetime:
    """Claims made since then and not placed yet hold back less urgent calls."""
    return (now or timezone.now()) - timedelta(seconds=CLAIM_AHEAD_SECONDS)


def call_claim_next(backend: str) -> CallRequest | None:
    """Take the most urgent queued call and mark it dialing; a second worker skips it and takes the next.

    A call of a run is claimed only while (DESIGN rules 6 and 11) its incident is active, its run still runs
    and nobody has acknowledged or decided: no call is placed after an acknowledgment, a written decision or
    a close. One conditional update claims it (escalation.calls.claim_first): a stop committed meanwhile
    cancels the call before the update or finds it dialing, and then it is hung up as soon as the provider
    has it, as for call_dial. When no call may go but some wait, each is looked at under its incident's lock,
    so that a run that must stop is stopped, not passed over at every slot.
    """
    claimed = claim_most_urgent(backend=backend, now=timezone.now())
    if claimed is not None:
        return _request(claimed)
    candidates = _queued().order_by(*ORDER).values_list("pk", "run__incident_id")[:CANDIDATES]
    for attempt_id, incident_id in candidates:
        request = _claim(attempt_id, incident_id, backend)
        if request is not None:
            return request
    return None


@retried_atomic
def _claim(attempt_id: int, incident_id: int | None, backend: str) -> CallRequest | None:
    # A call's run (and so its incident) never changes: the candidate's incident is the one to lock.
    incident = incident_lock(incident_id) if incident_id is not None else None
    call = (
        CallAttempt.objects.select_for_update(of=("self",), no_key=True, skip_locked=True)
        .select_related("run", "contact__tenant")
        .filter(pk=attempt_id, outcome=CallOutcome.QUEUED)
        .first()
    )
    if call is None:
        return None  # another worker has it, or it moved on
    if call.run is None:  # a test call: about no incident
        _mark_dialing(call, backend)
        timeout = call.tested_tenant.ring_timeout_seconds
        return CallRequest(attempt_id=call.pk, to=call.to, ring_timeout_seconds=timeout)
    assert incident is not None  # the candidate's incident is its run's: locked above
    call.run.incident = incident
    if call.run.state != RunState.ACTIVE:
        call.outcome, call.ended_at = CallOutcome.CANCELED, timezone.now()
        call.save(update_fields=["outcome", "ended_at"])
        return None
    if not call_still_wanted(call.run, incident):
        run_side().call_unwanted(call.run, incident)
        return None
    _mark_dialing(call, backend)
    # The timeline says "Calling" once the request is made (call_placed): a claim may yet be released.
    return CallRequest(attempt_id=call.pk, to=call.to, ring_timeout_seconds=call.run.ring_timeout_seconds)


def call_claim_in_step(run_id: int, backend: str) -> CallRequest | None:
    """Claim the call a run's step has just queued, in that step's transaction, when no call waiting or
    just claimed elsewhere goes before it (severity, then its place in its run, then its time); else it
    waits for the dispatcher.

    Only inside the step that queued it: that step holds the incident's lock and has checked, as a claim
    does, that the incident is active, the run runs and nobody has acknowledged or decided.
    """
    now = timezone.now()
    claimed = claim_if_first(
        run=run_id, backend=backend, now=now, claimed_since=_claims_since(now), still_wanted=False
    )
    return _request(claimed)


def _request(claimed: Claimed | None) -> CallRequest | None:
    if claimed is None:
        return None
    attempt_id, to, ring_timeout = claimed
    return CallRequest(attempt_id=attempt_id, to=to, ring_timeout_seconds=ring_timeout)


def call_dial(attempt_id: int) -> bool:
    """Place a run's queued call at once, sent by whatever queued it (a run's start: one hop to the first
    call), when nothing goes before it and a slot is free; else it waits its turn and the dispatcher is
    sent for the next slot. True if the provider was asked.

    Claimed in one conditional update, with no lock held: the run must be active, its incident active and
    nobody may have acknowledged or decided (DESIGN rules 6 and 11). A stop committed meanwhile cancels the
    call before the update (it is no longer queued) or finds it dialing, and then it is hung up as soon as
    the provider has it (call_placed), as for any claim made just before a stop.
    """
    backend, now = phone_backend(), timezone.now()
    request = _request(
        claim_if_first(
            call=attempt_id,
            backend=backend.name,
            now=now,
            claimed_since=_claims_since(now),
            still_wanted=True,
        )
    )
    if request is None:
        calls_hand_over(call_pacer())
        return False
    return call_place_paced(request, backend, call_pacer(), checked=True)


def _mark_dialing(call: CallAttempt, backend: str) -> None:
    call.outcome, call.placed_at, call.backend = CallOutcome.DIALING, timezone.now(), backend
    call.save(update_fields=["outcome", "placed_at", "backend"])


def call_place(
    request: CallRequest, backend: PhoneBackend, *, meanwhile: Callable[[], None] | None = None
) -> bool:
    """Place one claimed call, outside any transaction, and record what the provider said; True if placed.
    `meanwhile` runs between the provider's answer and the record."""
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
    finally:
        if meanwhile is not None:
            meanwhile()
    call_placed(attempt_id=request.attempt_id, sid=answer.sid)
    return True


def calls_dispatch(*, max_seconds: float = 1.0, most: int | None = None) -> int:
    """Place queued calls as their slots come free, outside transactions; returns how many were placed.

    The call is claimed first and its slot taken right before the request, so that the pacer's spacing is
    the spacing Twilio sees; a claim that finds no slot is released (the call waits again). It never waits
    for a slot: when none is free, the one dispatcher the pacer chose for the next slot is sent for it (a
    countdown of at most 1/CPS) and this task ends, so a dialing process is never held asleep while other
    runs' work waits behind it. Places at most `most` calls and runs longer than max_seconds only while
    slots keep coming free, then hands over to a dispatcher.
    """
    pacer, backend = call_pacer(), phone_backend()
    placed, deadline = 0, time.monotonic() + max_seconds
    while True:
        if placed == most or time.monotonic() >= deadline:
            calls_hand_over(pacer)
            break
        slot = pacer.next_slot()  # a look first: no claim (and no release) while no slot is free
        if slot.wait > 0:
            if slot.wake:  # whatever waits then: a waker that finds nothing ends the chain
                nudge_dispatch(countdown=slot.wait)
            break
        request = call_claim_next(backend.name)
        if request is None:
            break
        if not call_place_paced(request, backend, pacer):
            break
        placed += 1
    return placed


def call_place_paced(
    request: CallRequest, backend: PhoneBackend, pacer: CallPacer, *, checked: bool = False
) -> bool:
    """Take a slot for a claimed call and place it; with no slot free the claim is released and the
    dispatcher chosen for the next slot sent for it. A more urgent call, waiting or claimed elsewhere and not
    placed yet, goes first: this claim is released (the next slot's dispatcher takes them in order); a claim
    that has just checked this itself (`checked`) is not checked again. True if the provider was asked."""
    if not checked and not goes_first(request.attempt_id, claimed_since=_claims_since()):
        # A more urgent call waits (released meanwhile) or is claimed elsewhere: it takes the slot first,
        # and a dispatcher comes for the slot after it.
        call_release(request.attempt_id)
        calls_hand_over(pacer)
        return False
    grant = pacer.acquire()
    if not grant.granted:
        call_release(request.attempt_id)
        if grant.wake:
            nudge_dispatch(countdown=grant.wait)
        return False
    # The next slot's dispatcher is sent once the provider has answered, before this call's record: it is
    # then on time in the other dialing process while this one still records.
    call_place(request, backend, meanwhile=lambda: calls_hand_over(pacer))
    return True


def calls_hand_over(pacer: CallPacer) -> None:
    """Send the dispatcher chosen for the next slot when calls wait and none is on its way."""
    if _queued().exists():
        slot = pacer.next_slot()
        if slot.wake:
            nudge_dispatch(countdown=slot.wait)


@retried_atomic
def call_release(attempt_id: int) -> None:
    """A claimed call that got no slot waits again, unless its run stopped meanwhile (then it is canceled).

    Under its incident's lock, as a claim: a run stopping now either sees it queued (and cancels it) or
    has stopped already (and it is canceled here).
    """
    incident_id = CallAttempt.objects.values_list("run__incident_id", flat=True).get(pk=attempt_id)
    if incident_id is not None:
        incident_lock(incident_id)
    call = (
        CallAttempt.objects.select_for_update(of=("self",), no_key=True)
        .select_related("run")
        .get(pk=attempt_id)
    )
    if call.outcome != CallOutcome.DIALING or call.provider_sid:
        return
    if call.run is not None and call.run.state != RunState.ACTIVE:
        call.outcome, call.ended_at = CallOutcome.CANCELED, timezone.now()
        call.save(update_fields=["outcome", "ended_at"])
        return
    call.outcome, call.placed_at, call.backend = CallOutcome.QUEUED, None, ""
    call.save(update_fields=["outcome", "placed_at", "backend"])


def call_claim_stepped(run_id: int) -> tuple[CallRequest | None, PhoneBackend]:
    """In a run's step that queued a call: claim it (call_claim_in_step) for the backend that will place it."""
    backend = phone_backend()
    return call_claim_in_step(run_id, backend.name), backend


def call_place_stepped(request: CallRequest | None, backend: PhoneBackend) -> None:
    """After the step committed: place its claimed call when a slot is free; a call that waits its turn
    sends the dialing worker for the next slot (when none is on its way). A step never dials for other runs,
    so that the steps and the dialer do not race each other for the same slots."""
    if request is None:
        calls_hand_over(call_pacer())
    else:
        call_place_paced(request, backend, call_pacer(), checked=True)
