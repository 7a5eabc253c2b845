"""Drives notification runs step by step in a test, playing the phone's part through call_update."""

from __future__ import annotations

from django.utils import timezone

from escalation.calls.dispatch import calls_dispatch
from escalation.calls.progress import call_update
from escalation.models import CallAttempt, CallOutcome, NotificationRun, RunState
from escalation.runs.services import run_advance


def advance(run: NotificationRun) -> NotificationRun:
    """One step now, whatever next_step_at says (as if its time had come)."""
    NotificationRun.objects.filter(pk=run.pk).update(next_step_at=timezone.now())
    run_advance(run.pk)
    run.refresh_from_db()
    return run


def ringing(run: NotificationRun) -> CallAttempt | None:
    """Advance the run and dial its next call; the call that rings, or None when the run has ended."""
    advance(run)
    calls_dispatch(max_seconds=5)
    return run.calls.filter(outcome=CallOutcome.DIALING).first()


def answer(call: CallAttempt, *, status: str = "no-answer", digits: str | None = None) -> None:
    if digits is not None:
        call_update(attempt_id=call.pk, status="in-progress", answered_by="human")
        call_update(attempt_id=call.pk, digits=digits)
    call_update(attempt_id=call.pk, status=status)


def nobody_answers(run: NotificationRun) -> NotificationRun:
    while (call := ringing(run)) is not None:
        answer(call, status="no-answer")
    run.refresh_from_db()
    assert run.state != RunState.ACTIVE
    return run
