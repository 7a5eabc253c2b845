"""An incident whose severity the customer's policy notifies at (opened at it, or raised to it) starts
notification at once, through the one start every round takes; a round under way is not started twice.

The timeline event that says so (`notifies` in its data) is the row the sweeper finds when the nudge was
lost: no notification round started since it.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db.models import Exists, OuterRef

from escalation.models import NotificationRun, RunPurpose, RunState
from escalation.runs.services import notification_start
from incidents.locks import incident_lock
from incidents.models import ACTIVE_INCIDENT_STATUSES, Channel, EventKind, TimelineEvent
from incidents.policy import PolicySnapshot
from mdrportal.core import task_names
from mdrportal.core.nudges import nudge
from mdrportal.core.retry import retried_atomic

# The nudge is normally on its way for this long; the sweeper looks back this far for one that was lost.
NUDGE_GRACE = timedelta(seconds=15)
LOOK_BACK = timedelta(minutes=10)


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


def incidents_severity_unnotified(*, now: datetime, batch: int) -> list[int]:
    """Active incidents whose severity lately called for notification and where no round started since."""
    started_since = NotificationRun.objects.filter(
        incident_id=OuterRef("incident_id"), purpose=RunPurpose.NOTIFY, started_at__gte=OuterRef("at")
    )
    return list(
        TimelineEvent.objects.filter(
            kind__in=[EventKind.INCIDENT_OPENED, EventKind.CASE_EDITED],
            data__notifies=True,
            at__gte=now - LOOK_BACK,
            at__lte=now - NUDGE_GRACE,
            incident__status__in=ACTIVE_INCIDENT_STATUSES,
        )
        .exclude(Exists(started_since))
        .order_by("incident_id")
        .values_list("incident_id", flat=True)
        .distinct()[:batch]
    )


def nudge_severity_notify(incident_id: int) -> None:
    nudge(task_names.SEVERITY_NOTIFY, incident_id)
