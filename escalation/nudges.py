"""The escalation app's nudges, by task name (see mdrportal.core.nudges)."""

from __future__ import annotations

from mdrportal.core import task_names
from mdrportal.core.nudges import nudge


def nudge_run(run_id: int, *, countdown: float = 0) -> None:
    nudge(task_names.RUN_ADVANCE, run_id, countdown=countdown)


def nudge_dispatch(*, countdown: float = 0) -> None:
    nudge(task_names.CALLS_DISPATCH, countdown=countdown)


def nudge_dial(attempt_id: int) -> None:
    """Place this queued call now if it goes first and a slot is free (else it waits for the dispatcher)."""
    nudge(task_names.CALL_DIAL, attempt_id)


def nudge_call_check(attempt_id: int) -> None:
    """Ask the phone provider how a call stands whose final status is late."""
    nudge(task_names.CALL_CHECK, attempt_id)


def nudge_hang_up(attempt_id: int) -> None:
    nudge(task_names.CALL_HANG_UP, attempt_id)
