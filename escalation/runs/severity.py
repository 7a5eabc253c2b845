"""An incident whose severity the customer's policy notifies at (opened at it, or raised to it) starts
notification at once, through the one start every round takes; a round under way is not started twice."""

from __future__ import annotations

from escalation.models import NotificationRun, RunPurpose, RunState
from escalation.runs.services import notification_start
from incidents.locks import incident_lock
from incidents.models import ACTIVE_INCIDENT_STATUSES, Channel
from incidents.policy import PolicySnapshot
from mdrportal.core.retry import retried_atomic


@retried_atomic
def severity_notify(incident_id: int) -> NotificationRun | None:
    """Start notifying if the incident's severity (as it is now) calls for it and no round is under way."""
    incident = incident_lock(incident_id)
    if incident.status not in ACTIVE_INCIDENT_STATUSES:
        return None
    if not PolicySnapshot.read(incident).notifies_at(incident.severity):
        return None  # lowered again since: a lowering starts nothing
    runs = incident.notification_runs.filter(purpose=RunPurpose.NOTIFY, state=RunState.ACTIVE)
    if runs.exists():
        return None  # already notifying: nothing duplicates
    return notification_start(
        incident=incident,
        by=None,
        channel=Channel.SYSTEM,
        why=f"The customer's policy notifies at {incident.get_severity_display()} severity.",
    )
