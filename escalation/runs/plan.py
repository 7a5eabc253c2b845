"""A run's plan, made when the run is made: whom to phone, in call order, how many times (the contacts
available then: escalation.runs.availability)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Literal

from django.contrib.auth.models import AbstractBaseUser
from django.utils import timezone

from escalation.models import NotificationRun
from escalation.nudges import nudge_run
from escalation.runs.availability import Plan, plan_announce, plan_make
from incidents.models import Incident
from incidents.policy import PolicySnapshot

User = AbstractBaseUser | None


def run_create(
    incident: Incident,
    *,
    purpose: str,
    by: User,
    due_in: timedelta = timedelta(0),
    actions: list[Any] | None = None,
    last: NotificationRun | None | Literal["unread"] = "unread",
    nudge: bool = True,
    plan: Plan | None = None,
) -> NotificationRun:
    """A new round of the given purpose for a locked incident, telling about the given actions (`last`: the
    latest round of that purpose, when the caller has read it; `plan`: the round's plan, when the caller has
    made it). A round due now has its first step sent after commit, unless the caller sends it (`nudge`)."""
    if last == "unread":
        last = incident.notification_runs.filter(purpose=purpose).order_by("-round").first()
    if plan is None:
        plan = plan_make(incident, purpose=purpose, at=timezone.now() + due_in)
    run = NotificationRun.objects.create(
        incident=incident,
        purpose=purpose,
        round=(last.round + 1) if last else 1,
        plan=plan.steps,
        unavailable=plan.unavailable,
        ring_timeout_seconds=PolicySnapshot.read(incident).ring_timeout_seconds,
        next_step_at=timezone.now() + due_in,
        started_by=by,
    )
    if actions:
        run.actions.set(actions)
    plan_announce(run, incident)
    if nudge and due_in <= timedelta(0):
        nudge_run(run.pk)
    return run
