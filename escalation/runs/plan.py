"""A run's plan, made when the run is made: whom to phone, in call order, how many times."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.utils import timezone

from escalation.models import NotificationRun, RunPurpose
from escalation.nudges import nudge_run
from incidents.models import Incident
from incidents.policy import PolicySnapshot
from tenants.selectors import phone_contacts

User = AbstractBaseUser | None


def _plan(incident: Incident, *, purpose: str) -> list[dict[str, int]]:
    """Every active contact with a phone, in call order, the policy's number of times: round by round.

    A report (what was done) calls each contact once.
    """
    tries = 1 if purpose == RunPurpose.REPORT else PolicySnapshot.read(incident).call_attempts_per_contact
    contacts = list(phone_contacts(incident.tenant).values_list("pk", flat=True))
    return [{"contact": pk, "try": t} for t in range(1, tries + 1) for pk in contacts]


def run_create(
    incident: Incident,
    *,
    purpose: str,
    by: User,
    due_in: timedelta = timedelta(0),
    actions: list[Any] | None = None,
) -> NotificationRun:
    """A new round of the given purpose for a locked incident, telling about the given actions."""
    last = incident.notification_runs.filter(purpose=purpose).order_by("-round").first()
    run = NotificationRun.objects.create(
        incident=incident,
        purpose=purpose,
        round=(last.round + 1) if last else 1,
        plan=_plan(incident, purpose=purpose),
        ring_timeout_seconds=PolicySnapshot.read(incident).ring_timeout_seconds,
        next_step_at=timezone.now() + due_in,
        started_by=by,
    )
    if actions:
        run.actions.set(actions)
    if due_in <= timedelta(0):
        nudge_run(run.pk)
    return run
