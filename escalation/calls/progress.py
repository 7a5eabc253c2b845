"""What the phone says about a call: its status callbacks, a key pressed, the provider asked about a late
call, a call hung up. Duplicate, late and out-of-order news is harmless; only a final status ends a call."""

from __future__ import annotations

import logging

from escalation.acknowledgments.rule import incident_acknowledgeable
from escalation.acknowledgments.services import acknowledge
from escalation.calls.records import (
    call_could_not_notify,
    call_end,
    call_lock,
    call_not_placed,
    call_placed,
    call_ref,
)
from escalation.calls.run_side import run_side
from escalation.models import PARTNER_PURPOSES, Acknowledgment, CallAttempt, CallOutcome
from escalation.partners.services import partner_task_acknowledge
from escalation.phone.base import PhoneError
from escalation.phone.registry import phone_backend_named
from incidents.locks import incident_lock
from incidents.models import Channel
from mdrportal.core.retry import retried_atomic

log = logging.getLogger(__name__)

# Twilio's final call statuses other than "completed", and what each means.
FINAL_STATUS = {
    "busy": CallOutcome.BUSY,
    "no-answer": CallOutcome.NO_ANSWER,
    "failed": CallOutcome.FAILED,
    "canceled": CallOutcome.CANCELED,
}


def _final_outcome(call: CallAttempt, status: str | None) -> str | None:
    if status == "completed":
        machine = call.answered_by.startswith(("machine", "fax"))
        return CallOutcome.VOICEMAIL if machine else CallOutcome.NO_KEY
    return FINAL_STATUS.get(status or "")


@retried_atomic
def call_update(
    *, attempt_id: int, status: str | None = None, digits: str | None = None, answered_by: str | None = None
) -> None:
    """Record what the phone says about a call.

    A 1 pressed is an acknowledgment whatever the call's bookkeeping says, while the incident is active. On
    a test call it acknowledges nothing: it only says that somebody heard the message. Ringing and answered
    keep the call open: the run waits for its final status.
    """
    found = CallAttempt.objects.filter(pk=attempt_id).values_list("run__incident_id").first()
    if found is None:
        return
    incident = incident_lock(found[0]) if found[0] is not None else None
    call = call_lock(attempt_id)
    pressed_1 = digits is not None and digits.strip() == "1"
    if incident is None and pressed_1:  # a test call: somebody heard it, whatever the bookkeeping said
        if call.outcome != CallOutcome.ACKNOWLEDGED:
            call_end(call, CallOutcome.ACKNOWLEDGED)
        return
    if incident is not None:
        run = call.in_run  # the call's incident, locked above, is its run's
        run.incident = incident
        if pressed_1 and run.purpose in PARTNER_PURPOSES:
            # The partner's people acknowledge their task, never the customer's incident.
            if call.outcome == CallOutcome.DIALING:
                call_end(call, CallOutcome.ACKNOWLEDGED)
            if incident_acknowledgeable(incident):
                partner_task_acknowledge(
                    incident, run=run, contact=call.contact, channel=Channel.PHONE, call=call
                )
            return
        if pressed_1 and not Acknowledgment.objects.filter(call=call).exists():
            if call.outcome == CallOutcome.DIALING:
                call_end(call, CallOutcome.ACKNOWLEDGED)
            if incident_acknowledgeable(incident):
                acknowledge(incident, contact=call.contact, user=None, channel=Channel.PHONE, call=call)
            return
    if call.outcome != CallOutcome.DIALING:
        final = status == "completed" or status in FINAL_STATUS
        if (
            status is not None and final and call.provider_status != status
        ):  # the provider's last word, for the record only
            call.provider_status = status
            call.save(update_fields=["provider_status"])
        return  # already ended: a late or repeated callback changes nothing else
    call.answered_by = (answered_by or call.answered_by)[:32]
    call.provider_status = (status or call.provider_status)[:32]
    call.save(update_fields=["answered_by", "provider_status"])
    outcome = _final_outcome(call, status)
    if outcome is None:
        return  # queued, ringing, answered: the call goes on
    if outcome == CallOutcome.FAILED:
        call_end(call, outcome, note="the carrier reported it failed")
        if call.run is not None:
            call_could_not_notify(call, "the carrier reported the call failed")
    else:
        call_end(call, outcome)
    run_side().call_ended(call)


def call_check(attempt_id: int) -> None:
    """Ask the provider how an overdue call stands, outside any transaction, and record its answer."""
    call = CallAttempt.objects.select_related("run", "contact__tenant").filter(pk=attempt_id).first()
    if call is None or call.outcome != CallOutcome.DIALING:
        return
    if not call.provider_sid:
        call_find(call)
        return
    try:
        found = phone_backend_named(call.backend).fetch_status(call_ref(call))
    except PhoneError as error:
        # Unknown is not an answer: the run asks again at its next step and decides nothing meanwhile.
        log.warning("could not ask the phone provider about call %s: %s", attempt_id, error)
        return
    call_update(attempt_id=attempt_id, status=found.status, answered_by=found.answered_by or None)


def call_find(call: CallAttempt) -> None:
    """A claimed call whose placing was never recorded: ask the provider whether it has the call. Found, it is
    kept as placed (its callbacks and status then count); not found, nobody was phoned and the run dials the
    try again. Outside any transaction; no answer decides nothing (the run asks again at its next step)."""
    try:
        sids = phone_backend_named(call.backend).find_calls(call_ref(call))
    except PhoneError as error:
        log.warning("could not ask the phone provider for call %s: %s", call.pk, error)
        return
    # A call to the same number that another row already holds is that row's, not this one's.
    held = set(CallAttempt.objects.filter(provider_sid__in=sids).values_list("provider_sid", flat=True))
    mine = [sid for sid in sids if sid not in held]
    if mine:
        call_placed(attempt_id=call.pk, sid=mine[0])
    else:
        call_not_placed(attempt_id=call.pk, reason="the phone provider has no such call")


def call_hang_up(attempt_id: int) -> None:
    """Hang up a call whose run stopped, outside any transaction; record how it stands after."""
    call = CallAttempt.objects.select_related("run", "contact__tenant").filter(pk=attempt_id).first()
    if call is None or call.outcome != CallOutcome.DIALING or not call.provider_sid:
        return
    try:
        after = phone_backend_named(call.backend).hang_up(call_ref(call))
    except PhoneError as error:
        # The run has stopped whatever happens here: a call that keeps ringing can no longer change it.
        log.warning("could not hang up call %s: %s", attempt_id, error)
        return
    call_update(attempt_id=attempt_id, status=after.status, answered_by=after.answered_by or None)
