"""The periodic sweep: whatever a lost message left behind is picked up from the rows within seconds."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from escalation.calls.test_calls import test_calls_end_stale
from escalation.emails.send import EMAILS
from escalation.models import NotificationRun, RunState
from escalation.nudges import nudge_dispatch, nudge_run
from escalation.runs.severity import incidents_severity_unnotified, nudge_severity_notify
from escalation.selectors import calls_waiting, incidents_to_tell
from escalation.sms.send import TEXTS
from incidents.models import ACTIVE_INCIDENT_STATUSES
from incidents.nudges import nudge_customer
from mdrportal.core.nudges import due_locked
from mdrportal.core.outbox import outbox_fail_stuck, outbox_resend_unsent
from mdrportal.core.retry import retried_atomic


def escalation_sweep(*, batch: int = 200) -> dict[str, int]:
    # Each part in its own short transaction (or none): a lock the sweep held to its end would hold up
    # every run step and claim that needs the same rows meanwhile.
    due = _runs_due(batch)
    queued = calls_waiting().exists()
    if queued:
        nudge_dispatch()
    # The outbox: a claimed message's own nudge is normally in flight, so only one that waited
    # OUTBOX_RESEND_UNSENT_AFTER is nudged again; one stuck sending OUTBOX_STUCK_AFTER is failed, not resent.
    unsent: dict[str, int] = {}
    for name, channel in (("emails", EMAILS), ("texts", TEXTS)):
        unsent[name] = len(outbox_resend_unsent(channel, batch=batch))
        outbox_fail_stuck(channel, batch=batch)
    # An action's change nudges the customer's news; a lost nudge (or a report waiting to settle) is here.
    untold = incidents_to_tell(statuses=ACTIVE_INCIDENT_STATUSES, batch=batch)
    for incident_id in untold:
        nudge_customer(incident_id)
    # A severity that called for notification whose nudge was lost (no round started since).
    unnotified = incidents_severity_unnotified(now=timezone.now(), batch=batch)
    for incident_id in unnotified:
        nudge_severity_notify(incident_id)
    # A run times out its own calls as it advances; a test call has no run, so it is timed out here.
    test_calls = test_calls_end_stale(batch=batch)
    return {
        "runs": len(due),
        "dispatch": int(queued),
        **unsent,
        "customers": len(untold),
        "severities": len(unnotified),
        "test_calls": test_calls,
    }


# A run's step that is due has its own nudge on its way (sent with a countdown by whatever set the time):
# the sweeper sends one only when the step is this late, so that a busy queue is not filled with duplicates
# of steps that are merely waiting their turn. A lost nudge costs this long at most.
RUN_OVERDUE_SECONDS = 15


@retried_atomic
def _runs_due(batch: int) -> list[int]:
    """Nudge the runs whose step is overdue, skipping those a step holds now (it moves next_step_at on)."""
    overdue = timezone.now() - timedelta(seconds=RUN_OVERDUE_SECONDS)
    runs = NotificationRun.objects.filter(state=RunState.ACTIVE, next_step_at__lte=overdue)
    due = due_locked(runs, due="next_step_at", batch=batch)
    for run_id in due:
        nudge_run(run_id)  # sent when this transaction commits; duplicates are dropped by the step
    return due
