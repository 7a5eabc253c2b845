"""The periodic sweep: whatever a lost message left behind is picked up from the rows within seconds."""

from __future__ import annotations

from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from escalation.calls.test_calls import test_calls_end_stale
from escalation.emails.services import emails_fail_interrupted, nudge_email
from escalation.models import EmailNotification, EmailOutcome, NotificationRun, RunState
from escalation.nudges import nudge_customer, nudge_dispatch, nudge_run
from escalation.selectors import calls_waiting, incidents_to_tell
from escalation.sms.send import nudge_text, texts_fail_interrupted, texts_unsent
from incidents.models import ACTIVE_INCIDENT_STATUSES
from mdrportal.core.nudges import due_locked


def escalation_sweep(*, batch: int = 200) -> dict[str, int]:
    # Each part in its own short transaction (or none): a lock the sweep held to its end would hold up
    # every run step and claim that needs the same rows meanwhile.
    due = _runs_due(batch)
    queued = calls_waiting().exists()
    if queued:
        nudge_dispatch()
    # A claimed email's own nudge is normally in flight; only one that waited a while is nudged again.
    unsent = list(
        EmailNotification.objects.filter(
            outcome=EmailOutcome.CLAIMED, claimed_at__lt=timezone.now() - timedelta(seconds=30)
        ).values_list("pk", flat=True)[:batch]
    )
    for email_id in unsent:
        nudge_email(email_id)
    emails_fail_interrupted()
    unsent_texts = texts_unsent(batch=batch)
    for text_id in unsent_texts:
        nudge_text(text_id)
    texts_fail_interrupted()
    # An action's change nudges the customer's news; a lost nudge (or a report waiting to settle) is here.
    untold = incidents_to_tell(statuses=ACTIVE_INCIDENT_STATUSES, batch=batch)
    for incident_id in untold:
        nudge_customer(incident_id)
    # A run times out its own calls as it advances; a test call has no run, so it is timed out here.
    test_calls = test_calls_end_stale(batch=batch)
    return {
        "runs": len(due),
        "dispatch": int(queued),
        "emails": len(unsent),
        "texts": len(unsent_texts),
        "customers": len(untold),
        "test_calls": test_calls,
    }


@transaction.atomic
def _runs_due(batch: int) -> list[int]:
    """Nudge the runs whose step is due, skipping those a step holds now (it moves next_step_at on)."""
    due = due_locked(NotificationRun.objects.filter(state=RunState.ACTIVE), due="next_step_at", batch=batch)
    for run_id in due:
        nudge_run(run_id)  # sent when this transaction commits; duplicates are dropped by the step
    return due
