"""The customer hears from MDR Ops without an analyst's click (DESIGN rule 12).

The first action that needs the customer (awaiting written authorization, or recommended to its team or
partner) starts notification; what MDR Ops performed without asking (Authorize mode, or the fallback) is
reported by email and phone once it settles. Each action is told once: the run that tells it names it.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.utils import timezone

from escalation.models import NotificationRun, RunPurpose, RunState
from escalation.partners.services import partner_tasks_call
from escalation.runs.plan import round_next, run_create
from escalation.runs.services import notification_start
from escalation.selectors import NEEDS_CUSTOMER, REPORTED_BASES, UNSETTLED, actions_to_tell
from incidents.locks import incident_lock
from incidents.models import ACTIVE_INCIDENT_STATUSES, Basis, Channel, EventKind, Incident, ResponseAction
from incidents.timeline_writes import timeline_record
from mdrportal.core.retry import retried_atomic

# How long a report waits for the actions it tells about to finish before it tells what it has.
SETTLE_SECONDS = 120


def _performed_since(action: ResponseAction, incident: Incident) -> datetime:
    if action.basis == Basis.NO_ACK_FALLBACK and incident.fallback_taken_at is not None:
        return incident.fallback_taken_at
    return action.proposed_at


def _report_ready(performed: list[ResponseAction], incident: Incident, now: datetime) -> bool:
    """Everything performed has settled, or the oldest has had its time: tell what there is."""
    unsettled = [a for a in performed if a.status in UNSETTLED]
    if not unsettled:
        return True
    oldest = min(_performed_since(a, incident) for a in unsettled)
    return now - oldest >= timedelta(seconds=SETTLE_SECONDS)


def _active(incident: Incident, purpose: str) -> NotificationRun | None:
    return incident.notification_runs.filter(purpose=purpose, state=RunState.ACTIVE).first()


@retried_atomic
def customer_tell(incident_id: int) -> NotificationRun | None:
    """Start the run that tells the customer what it has not been told yet, if one is due; the run, or None."""
    incident = incident_lock(incident_id)
    if incident.status not in ACTIVE_INCIDENT_STATUSES:
        return None
    partner_tasks_call(incident)  # the partner's own people, about each task given to it
    untold = actions_to_tell(incident)
    if not untold:
        return None
    performed = [a for a in untold if a.basis in REPORTED_BASES]
    if performed:
        if _active(incident, RunPurpose.REPORT) or not _report_ready(performed, incident, timezone.now()):
            return None  # the action's next move, or the sweeper, asks again
        number = round_next(incident, RunPurpose.REPORT)
        run = run_create(incident, purpose=RunPurpose.REPORT, number=number, by=None, actions=untold)
        timeline_record(
            incident=incident,
            kind=EventKind.NOTIFICATION_STARTED,
            summary=f"Reporting to the customer what MDR Ops did (report {run.round}): emails, then "
            f"{len(run.planned_steps)} calls.",
            data={"run": run.pk, "plan": run.plan, "actions": [a.pk for a in untold]},
        )
        return run
    needs = [a for a in untold if a.status in NEEDS_CUSTOMER]
    waiting = _active(incident, RunPurpose.NOTIFY)
    if waiting is not None:
        if not waiting.emails.exists():
            waiting.actions.add(*needs)  # its emails, not sent yet, will name them
        return None
    if _active(incident, RunPurpose.REPORT):
        return None
    first = needs[0]
    return notification_start(
        incident=incident,
        by=None,
        channel=Channel.SYSTEM,
        why=f"{first} {first.get_status_display().lower()}.",
    )
