"""A run's plan: whom to phone, in call order, how many times (the contacts available then:
escalation.runs.availability). Made when the run is made, or, for a round scheduled for later, when that
round comes due: a contact back from holiday in the meantime is phoned, one gone away is not."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from escalation.models import NotificationRun
from escalation.nudges import nudge_run
from escalation.runs.availability import Plan, plan_announce, plan_make
from incidents.models import Channel, EventKind, Incident, ResponseAction
from incidents.policy import PolicySnapshot
from incidents.timeline_writes import timeline_record
from mdrportal.core.users import User


def round_next(incident: Incident, purpose: str) -> int:
    """The number of the incident's next round of this purpose."""
    rounds = incident.notification_runs.filter(purpose=purpose).order_by("-round")
    return (rounds.values_list("round", flat=True).first() or 0) + 1


def run_create(
    incident: Incident,
    *,
    purpose: str,
    number: int,
    by: User | None,
    due_in: timedelta = timedelta(0),
    actions: list[ResponseAction] | None = None,
    nudge: bool = True,
    plan: Plan | None = None,
    task: ResponseAction | None = None,
) -> NotificationRun:
    """Round `number` of the given purpose for a locked incident, telling about the given actions (`plan`:
    the round's plan, when the caller has made it). A round due now has its first step sent after commit,
    unless the caller sends it (`nudge`); a round due later has no plan until it comes due
    (run_plan_when_due)."""
    later = due_in > timedelta(0)
    if plan is None and not later:
        plan = plan_make(incident, purpose=purpose, at=timezone.now())
    run = NotificationRun.objects.create(
        incident=incident,
        purpose=purpose,
        round=number,
        plan=None if plan is None else plan.steps,
        unavailable=[] if plan is None else plan.unavailable,
        ring_timeout_seconds=PolicySnapshot.read(incident).ring_timeout_seconds,
        next_step_at=timezone.now() + due_in,
        started_by=by,
        task=task,
    )
    if actions:
        run.actions.set(actions)
    if plan is not None:
        plan_announce(run, incident)
    if nudge and not later:
        nudge_run(run.pk)
    return run


def run_plan_when_due(run: NotificationRun, incident: Incident) -> None:
    """A round scheduled for later has come due: its plan now, from the contacts available now."""
    plan = plan_make(incident, purpose=run.purpose, at=timezone.now())
    run.plan, run.unavailable = plan.steps, plan.unavailable
    run.save(update_fields=["plan", "unavailable"])
    run_started_record(run, incident, by=None, actions=[])
    plan_announce(run, incident)


def run_bring_forward(
    run: NotificationRun, incident: Incident, *, by: User | None, actions: list[ResponseAction], plan: Plan
) -> NotificationRun:
    """A round scheduled for later that a person starts now: due at once, with the plan just made, telling
    the given actions too. Its first step is the caller's to send."""
    run.plan, run.unavailable = plan.steps, plan.unavailable
    run.next_step_at, run.started_by = timezone.now(), by
    run.save(update_fields=["plan", "unavailable", "next_step_at", "started_by"])
    if actions:
        run.actions.add(*actions)
    plan_announce(run, incident)
    return run


def run_started_record(
    run: NotificationRun,
    incident: Incident,
    *,
    by: User | None,
    actions: list[ResponseAction],
    channel: str = Channel.ADMIN,
    why: str = "",
) -> None:
    """The timeline's word that a notification round starts, with its plan: once the plan is made."""
    who = "" if by is not None else " by itself"
    timeline_record(
        incident=incident,
        kind=EventKind.NOTIFICATION_STARTED,
        summary=f"Notification started{who} (round {run.round}): emails, then {len(run.planned_steps)} calls in "
        f"call order." + (f" {why}" if why else ""),
        by=by,
        channel=channel,
        data={"run": run.pk, "plan": run.plan, "actions": [a.pk for a in actions]},
    )
