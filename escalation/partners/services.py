"""The partner's own call tree for a task given to it: its contacts, on its hours and away dates, phoned until
one of them acknowledges the task.

A partner's acknowledgment is the task's, never the incident's: no Acknowledgment row is written, so the
customer's calls go on, its fallback stays due and the gate reads the same facts (DESIGN rules 6 and 8).
A customer's acknowledgment does not stop the partner's tree either: the task still needs the partner.
"""

from __future__ import annotations

from django.db.models import QuerySet

from escalation.models import CallAttempt, NotificationRun, RunPurpose, RunState
from escalation.partners.models import TaskAcknowledgment
from escalation.runs.plan import round_next, run_create
from escalation.runs.states import run_lock, run_stop
from incidents.attention import incident_flag
from incidents.customer_tasks import OPEN_TASK_STATUS
from incidents.models import Channel, EventKind, Incident, ResponseAction
from incidents.timeline_writes import timeline_record
from tenants.models import Contact, Performer


def _tasks_to_call(incident: Incident) -> QuerySet[ResponseAction]:
    return incident.actions.filter(
        performer=Performer.PARTNER, status=OPEN_TASK_STATUS, partner_runs__isnull=True
    ).select_related("action_type")


def partner_tasks_call(incident: Incident) -> list[NotificationRun]:
    """A locked, active incident: start the partner's call tree for each open task of the partner that has
    none yet. Each run's first step is sent after commit."""
    if incident.tenant.partner_id is None:
        return []
    runs = []
    for task in _tasks_to_call(incident):
        number = round_next(incident, RunPurpose.PARTNER_TASK)
        run = run_create(incident, purpose=RunPurpose.PARTNER_TASK, number=number, by=None, task=task)
        timeline_record(
            incident=incident,
            kind=EventKind.NOTIFICATION_STARTED,
            summary=f"Phoning {incident.tenant.partner}'s people about its task {task}: {len(run.planned_steps)} calls "
            "in the partner's call order. Their acknowledgment is the task's, not the incident's.",
            data={"run": run.pk, "plan": run.plan, "task": task.pk},
        )
        runs.append(run)
    return runs


def partner_task_open(run: NotificationRun) -> bool:
    """The run's task still waits for the partner: nobody marked it, took it over or canceled it."""
    return ResponseAction.objects.filter(pk=run.partner_task_id, status=OPEN_TASK_STATUS).exists()


def partner_tree_ended(run: NotificationRun, incident: Incident) -> None:
    """Every available contact of the partner was phoned and none acknowledged the task: analysts are told.
    Nothing else changes: the customer's calls and fallback never read the partner's tree."""
    task = ResponseAction.objects.select_related("action_type").get(pk=run.partner_task_id)
    who = (
        "no contact of the partner was available"
        if not run.plan
        else f"nobody at {incident.tenant.partner} acknowledged"
    )
    incident_flag(
        incident=incident,
        reason=f"The partner's call tree for its task {task} ended: {who}. An analyst should follow up with "
        "the partner; MDR Ops may take the task over.",
    )


def partner_task_acknowledge(
    incident: Incident,
    *,
    run: NotificationRun,
    contact: Contact,
    channel: str,
    call: CallAttempt | None = None,
) -> TaskAcknowledgment | None:
    """A partner's contact acknowledges the task its run is about (the incident is locked): recorded with who
    and when, and the run stops. The first one counts; a later one, or one for a task no longer open, is None."""
    locked = run_lock(run.pk)
    if locked.purpose != RunPurpose.PARTNER_TASK or contact.partner_id != incident.tenant.partner_id:
        return None
    if locked.task_acknowledgments.exists() or not partner_task_open(locked):
        return None
    ack = TaskAcknowledgment.objects.create(
        task_id=locked.partner_task_id, run=locked, contact=contact, channel=channel, call=call
    )
    task = ResponseAction.objects.select_related("action_type").get(pk=locked.partner_task_id)
    timeline_record(
        incident=incident,
        kind=EventKind.TASK_ACKNOWLEDGED,
        summary=f"{contact.name} ({incident.tenant.partner}) acknowledged the partner's task {task} "
        f"({Channel(channel).label.lower()}). The incident is not acknowledged for {incident.tenant} by this.",
        label=contact.name,
        channel=channel,
        data={"task": task.pk, "run": locked.pk, "contact": contact.pk, "call": call.pk if call else None},
    )
    if locked.state == RunState.ACTIVE:
        run_stop(locked, RunState.ACKNOWLEDGED)
    return ack
