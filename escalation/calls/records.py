"""Call rows: the bookkeeping of one phone call, from claimed to its final status, and stopping calls.

Lock order everywhere (incidents.locks): the incident, then the run, then the call.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from escalation.models import ATTEMPT_OUTCOMES, CallAttempt, CallOutcome, NotificationRun, RunState
from escalation.nudges import nudge_hang_up, nudge_run
from escalation.phone.base import CallRef
from incidents.attention import incident_flag
from incidents.locks import incident_lock
from incidents.models import Channel, EventKind
from incidents.timeline_writes import timeline_record
from mdrportal.core.retry import retried_atomic

# A deadline further off than this is left to the sweeper: the broker is no place for long waits.
DEADLINE_NUDGE_MAX_SECONDS = 120


def call_lock(attempt_id: int) -> CallAttempt:
    """Lock a call; of an incident's run, only once the transaction holds the incident's lock."""
    return (
        CallAttempt.objects.select_for_update(of=("self",), no_key=True)
        .select_related("run", "contact")
        .get(pk=attempt_id)
    )


def call_ring_seconds(call: CallAttempt) -> int:
    """How long a call rings: as its run says; a test call, as its tenant says."""
    return call.run.ring_timeout_seconds if call.run is not None else call.tested_tenant.ring_timeout_seconds


def call_ref(call: CallAttempt) -> CallRef:
    """What the provider needs to find the call again."""
    return CallRef(
        attempt_id=call.pk,
        sid=call.provider_sid,
        placed_at=call.placed_at or call.queued_at,
        ring_timeout_seconds=call_ring_seconds(call),
        to=call.to,
        provider_status=call.provider_status,
        answered_by=call.answered_by,
    )


def call_deadline(call: CallAttempt, ring_timeout_seconds: int) -> datetime:
    """When a dialing call's final status is overdue: the ring timeout, plus the time a real phone takes
    to report how a call ended. An answered call may last longer: the provider is asked then."""
    grace = 0 if call.backend == "simulated" else settings.CALL_STATUS_GRACE_SECONDS
    return (call.placed_at or call.queued_at) + timedelta(seconds=ring_timeout_seconds + grace)


def call_end(call: CallAttempt, outcome: str, *, note: str = "") -> None:
    """Record how a locked call ended, on the row and (for an incident's call) on the timeline."""
    call.outcome, call.ended_at = outcome, timezone.now()
    if note and outcome not in ATTEMPT_OUTCOMES:
        call.error = note[:500]
    call.save(update_fields=["outcome", "ended_at", "error"])
    if call.run is None:
        return  # a test call is about no incident: its row is its record
    label = CallOutcome(outcome).label.lower()
    counts = "" if outcome in ATTEMPT_OUTCOMES else "; not an attempt: the contact was not reached by phone"
    timeline_record(
        incident=call.run.incident,
        kind=EventKind.CALL_ATTEMPT,
        summary=f"Call {call.sequence} to {call.contact.name} ({call.to}): {label}"
        + (f" ({note})" if note else "")
        + counts,
        label=call.contact.name,
        channel=Channel.PHONE,
        data={
            "call": call.pk,
            "run": call.run_id,
            "try": call.try_number,
            "outcome": outcome,
            "attempt": outcome in ATTEMPT_OUTCOMES,
            "provider_sid": call.provider_sid,
            "provider_status": call.provider_status,
            "answered_by": call.answered_by,
        },
    )


@retried_atomic
def call_placed(*, attempt_id: int, sid: str) -> None:
    """Keep the provider's id of a dialing call, so that its callbacks can be matched.

    When the call's run stopped while it was being placed, it is hung up at once.
    """
    incident_id = CallAttempt.objects.values_list("run__incident_id", flat=True).get(pk=attempt_id)
    incident = incident_lock(incident_id) if incident_id is not None else None
    call = call_lock(attempt_id)
    if call.outcome != CallOutcome.DIALING:
        return
    call.provider_sid = sid[:64]
    call.save(update_fields=["provider_sid"])
    run = call.run
    if run is None:
        return
    # Recorded once the provider has the call: a claim that found no slot free was released unrecorded.
    timeline_record(
        incident=incident,
        kind=EventKind.CALL_ATTEMPT,
        summary=f"Calling {call.contact.name} at {call.to} (call {call.sequence}, try {call.try_number}).",
        label="MDR Ops call tree",
        channel=Channel.PHONE,
        data={"call": call.pk, "run": run.pk, "outcome": "dialing"},
    )
    if run.state != RunState.ACTIVE:
        nudge_hang_up(call.pk)
        return
    # The run looks next when the call is due to have ended, not at a queued call's recheck: a call that
    # no callback ends (the simulated phone ringing out, a lost callback) moves its run on at its deadline.
    # A step that is due already (a run's first, which claims its emails) keeps its turn: it finds the
    # call under way and waits for the same deadline.
    deadline, now = call_deadline(call, run.ring_timeout_seconds), timezone.now()
    NotificationRun.objects.filter(pk=run.pk, state=RunState.ACTIVE, next_step_at__gt=now).update(
        next_step_at=deadline
    )
    wait = (deadline - now).total_seconds()
    if wait <= DEADLINE_NUDGE_MAX_SECONDS:
        nudge_run(run.pk, countdown=max(wait, 0))


@retried_atomic
def call_not_placed(*, attempt_id: int, reason: str) -> None:
    """The provider refused the call or never placed it: nobody was reached (DESIGN rule 5).

    The row ends as failed, which is no attempt; its run dials the same try again after a backoff and
    the incident is flagged "could not notify" meanwhile. It never counts toward the fallback.
    """
    incident_id = CallAttempt.objects.values_list("run__incident_id", flat=True).get(pk=attempt_id)
    incident = incident_lock(incident_id) if incident_id is not None else None
    call = call_lock(attempt_id)
    if call.outcome != CallOutcome.DIALING or call.provider_sid:
        return
    run = call.run
    if run is None:  # a test call: about no incident, nobody to flag and no run to move on
        call_end(call, CallOutcome.FAILED, note=reason)
        return
    assert incident is not None  # the incident of the call's run, locked above
    run.incident = incident
    call_end(call, CallOutcome.FAILED, note=reason)
    call_could_not_notify(call, reason)
    run.next_step_at = timezone.now()
    run.save(update_fields=["next_step_at"])
    nudge_run(run.pk)


def call_could_not_notify(call: CallAttempt, reason: str) -> None:
    """Flag the incident for analysts while a contact cannot be reached through our side or the provider's."""
    incident = call.in_run.incident
    if incident.needs_attention:
        return  # already in front of an analyst; the failed call itself is on the timeline
    incident_flag(
        incident=incident,
        reason=f"Could not notify {call.contact.name} by phone ({reason}). The call is placed again with "
        "backoff; no fallback is taken while a contact has not been reached.",
    )


def calls_stop(run: NotificationRun) -> None:
    """A run stopped: calls waiting for a slot are canceled, calls already dialing are hung up."""
    now = timezone.now()
    run.calls.filter(outcome=CallOutcome.QUEUED).update(outcome=CallOutcome.CANCELED, ended_at=now)
    for attempt_id in (
        run.calls.filter(outcome=CallOutcome.DIALING).exclude(provider_sid="").values_list("pk", flat=True)
    ):
        nudge_hang_up(attempt_id)
