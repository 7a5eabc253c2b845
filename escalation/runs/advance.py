"""A run's step as its task takes it, and what a run does when one of its calls reports.

One hop: the step, and the call it queued claimed in the same transaction and placed after commit when a
slot is free (escalation.calls.dispatch places it). The calls report back through escalation.calls.run_side,
which this module fills in when the app is ready: the calls never import the runs.
"""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from escalation.calls.dispatch import call_claim_stepped, call_place_stepped
from escalation.calls.run_side import RunSide, run_side_register
from escalation.models import CallAttempt, CallOutcome, NotificationRun, RunState
from escalation.nudges import nudge_run
from escalation.phone.base import CallRequest, PhoneBackend
from escalation.runs.services import run_advance
from escalation.runs.states import run_stop
from incidents.models import ACTIVE_INCIDENT_STATUSES, Incident
from mdrportal.core.retry import retried_atomic

# A call answered without the key: a 1 pressed at its very end may still be on its way to us.
ANSWERED_SETTLE_SECONDS = 2


def run_advance_and_call(run_id: int) -> None:
    """One hop: a run's step, and the call it queued claimed in the same transaction and placed after
    commit when a slot is free (escalation.calls.dispatch.call_place_stepped)."""
    stepped = _advance_and_claim(run_id)
    if stepped is not None:
        call_place_stepped(*stepped)


@retried_atomic
def _advance_and_claim(run_id: int) -> tuple[CallRequest | None, PhoneBackend] | None:
    """The run's step and the claim of the call it queued, in one transaction; None when no call was queued."""
    if not run_advance(run_id):
        return None
    return call_claim_stepped(run_id)


def call_ended_advance(call: CallAttempt) -> None:
    """A call of a run has ended: its run takes its next step now (or in a moment after an answer)."""
    run = call.run
    if run is None or run.state != RunState.ACTIVE:
        return
    delay = ANSWERED_SETTLE_SECONDS if call.outcome == CallOutcome.NO_KEY else 0
    run.next_step_at = timezone.now() + timedelta(seconds=delay)
    run.save(update_fields=["next_step_at"])
    nudge_run(run.pk, countdown=delay)


def call_unwanted_stop(run: NotificationRun, incident: Incident) -> None:
    """A queued call of an active run is no longer wanted: the incident was closed, or someone has it."""
    run_stop(
        run, RunState.CANCELED if incident.status not in ACTIVE_INCIDENT_STATUSES else RunState.ACKNOWLEDGED
    )


def calls_report_to_runs() -> None:
    run_side_register(RunSide(call_ended=call_ended_advance, call_unwanted=call_unwanted_stop))
