"""An incident's status as analysts change it: resolving or closing stops everything that acts on it.

Under the incident's lock, in one transaction: the status changes, actions that wait for authorization or
are queued are canceled (incidents.services), and the notification runs stop, their ringing calls hung up
after commit (DESIGN rule 11). Reopening restarts nothing by itself.
"""

from __future__ import annotations

from escalation.models import RunState
from escalation.runs.states import runs_stop
from escalation.runs.tell import tell_closed
from incidents.locks import incident_lock
from incidents.models import ACTIVE_INCIDENT_STATUSES, Channel, EventKind, Incident
from incidents.services import incident_status_move_for_lifecycle
from incidents.timeline_writes import timeline_record
from mdrportal.core.retry import retried_atomic
from mdrportal.core.users import User


@retried_atomic
def incident_change_status(
    *,
    incident: Incident,
    status: str,
    by: User | None,
    reason: str = "",
    channel: str = Channel.ADMIN,
) -> Incident:
    """The one way to change an incident's status, from every path (admin, API, pages, services)."""
    was_active = incident_lock(incident.pk).status in ACTIVE_INCIDENT_STATUSES
    locked = incident_status_move_for_lifecycle(
        incident=incident, status=status, by=by, reason=reason, channel=channel
    )
    if locked.status not in ACTIVE_INCIDENT_STATUSES:
        stopped = runs_stop(locked, RunState.CANCELED)
        if stopped:
            timeline_record(
                incident=locked,
                kind=EventKind.NOTIFICATION_STOPPED,
                summary=f"Notification stopped: the incident is {locked.get_status_display().lower()} "
                f"({stopped} run{'s' if stopped != 1 else ''} ended, calls in progress hung up).",
                by=by,
                channel=channel,
                data={"stopped_runs": stopped},
            )
        if was_active:
            tell_closed(locked)
    return locked
