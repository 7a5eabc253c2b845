"""Notification runs: start one, and advance it one step.

The database is the truth: a run is a row with a state and next_step_at; every step locks the incident,
then the run, checks the state is still the one it expects, does one thing and schedules the next nudge
after commit. The plan is made in runs.plan, a step's calls in runs.steps, the end of the tree and its
fallback in runs.fallback; the task that takes a step, and what a run does when its call ends, in
runs.advance.
"""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from escalation.emails.services import emails_claim
from escalation.models import (
    PARTNER_PURPOSES,
    TELLING_PURPOSES,
    NotificationRun,
    RunPurpose,
    RunState,
)
from escalation.nudges import nudge_dial, nudge_run
from escalation.partners.services import partner_task_open
from escalation.runs.availability import plan_make
from escalation.runs.plan import run_bring_forward, run_create, run_plan_when_due, run_started_record
from escalation.runs.states import run_lock, run_stop
from escalation.runs.steps import call_in_flight, call_queue_next, next_call_or_end
from escalation.selectors import actions_to_tell
from escalation.sms.outbound import texts_claim
from escalation.wanted import someone_has_it
from incidents.active_guard import incident_must_be_active
from incidents.locks import incident_lock
from incidents.models import ACTIVE_INCIDENT_STATUSES, Channel, Incident
from mdrportal.core.retry import retried_atomic
from mdrportal.core.users import User


@retried_atomic
def notification_start(
    *, incident: Incident, by: User | None, channel: str = Channel.ADMIN, why: str = ""
) -> NotificationRun:
    """Start notifying the customer: emails to every contact, then the call tree until someone acknowledges.

    Starting while a round is under way changes nothing and returns that round; a person starting while
    the next round waits for its time (nobody acknowledged the last) starts that round now.
    """
    locked = incident_lock(incident.pk)
    incident_must_be_active(locked, what="notifying the customer")
    # At most one round runs at a time, and it is the latest.
    last = locked.notification_runs.filter(purpose=RunPurpose.NOTIFY).order_by("-round").first()
    active = last if last is not None and last.state == RunState.ACTIVE else None
    if active is not None and (active.plan is not None or by is None):
        return active  # under way; or waiting for its time, which only a person brings forward
    actions = actions_to_tell(locked)
    plan = plan_make(locked, purpose=RunPurpose.NOTIFY, at=timezone.now())
    if active is not None:
        run = run_bring_forward(active, locked, by=by, actions=actions, plan=plan)
    else:
        number = (last.round + 1) if last else 1
        run = run_create(
            locked, purpose=RunPurpose.NOTIFY, number=number, by=by, actions=actions, nudge=False, plan=plan
        )
    run_started_record(run, locked, by=by, actions=actions, channel=channel, why=why)
    # One hop to the first call: it is queued with the run and the dialing worker sent for it first, the
    # call being the urgent channel; the run's first step, sent next, claims the emails and finds the call
    # under way.
    if not someone_has_it(locked):
        first, _ = call_queue_next(run, locked, timezone.now(), calls=[], contacts=plan.contacts)
        if first is not None:
            nudge_dial(first.pk)
    nudge_run(run.pk)
    return run


def run_advance(run_id: int) -> bool:
    """One step of a run: emails first, then the next call, or the end of the tree.

    True when the step queued a call: the caller places it once this step has committed (and may claim
    it in the same transaction: no savepoint of its own then).
    """
    with transaction.atomic(savepoint=False):
        # A stale or early delivery (a ring deadline after the callback, a sweeper's duplicate) takes no lock.
        due = NotificationRun.objects.filter(
            pk=run_id, state=RunState.ACTIVE, next_step_at__lte=timezone.now()
        )
        incident_id = due.values_list("incident_id", flat=True).first()
        if incident_id is None:
            return False
        incident = incident_lock(incident_id)
        run = run_lock(run_id)
        now = timezone.now()
        if run.state != RunState.ACTIVE or run.next_step_at > now:
            return False  # stale or early delivery: the row says there is nothing to do yet
        run.incident = incident
        if run.purpose in TELLING_PURPOSES:
            # It only tells (the end of an incident too): its messages are claimed, and it is over.
            emails_claim(run)
            texts_claim(run)
            run_stop(run, RunState.COMPLETED)
            return False
        if incident.status not in ACTIVE_INCIDENT_STATUSES:
            run_stop(run, RunState.CANCELED)
            return False
        if run.plan is None:
            run_plan_when_due(run, incident)  # a round scheduled for later: the contacts available now
        if run.purpose in PARTNER_PURPOSES:
            # The partner's tree reads its task only: the customer's acknowledgment is not the partner's.
            if not partner_task_open(run):
                run_stop(run, RunState.COMPLETED)
                return False
        elif not run.emails.exists():
            emails_claim(run)  # sent by their own tasks after commit
            texts_claim(run)  # at the same moment, to the contacts who chose SMS
        if run.purpose not in PARTNER_PURPOSES and someone_has_it(incident):
            # Somebody has it: the emails say what there is to know, nobody is phoned.
            run_stop(run, RunState.ACKNOWLEDGED)
            return False
        if call_in_flight(run, now):
            return False
        return next_call_or_end(run, incident, now)
