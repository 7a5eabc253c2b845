"""A notification run's state: its lock, its transitions (the table in escalation.models), its end."""

from __future__ import annotations

from django.utils import timezone

from escalation.calls.records import calls_stop
from escalation.models import PARTNER_PURPOSES, RUN_TRANSITIONS, TELLING_PURPOSES, NotificationRun, RunState
from incidents.models import Incident
from mdrportal.core.transitions import check_transition


def run_lock(run_id: int) -> NotificationRun:
    """Lock a run of an incident whose lock the transaction holds already (the order: incidents.locks)."""
    return NotificationRun.objects.select_for_update(no_key=True).get(pk=run_id)


def run_set_state(run: NotificationRun, state: str) -> None:
    check_transition(RUN_TRANSITIONS, run.state, state, what=f"Run #{run.pk}")
    run.state, run.finished_at = state, timezone.now()
    run.save(update_fields=["state", "finished_at"])


def run_stop(run: NotificationRun, state: str) -> None:
    """End a locked run: its waiting calls are canceled and its ringing ones hung up."""
    run_set_state(run, state)
    calls_stop(run)


def runs_stop(incident: Incident, state: str, *, partners: bool = True) -> int:
    """End every active run of a locked incident (a round scheduled for later too); how many. Without
    `partners`, the partner's trees about its tasks go on (the customer acknowledged, not the partner)."""
    runs = list(incident.notification_runs.select_for_update(no_key=True).filter(state=RunState.ACTIVE))
    # A run that only tells what happened (who acknowledged, that it is over) is not stopped: it still tells.
    kept = TELLING_PURPOSES if partners else TELLING_PURPOSES | PARTNER_PURPOSES
    runs = [run for run in runs if run.purpose not in kept]
    for run in runs:
        run_stop(run, state)
    return len(runs)
