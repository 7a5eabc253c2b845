"""Celery tasks of the incidents app: each takes ids and calls the service of the same name."""

from __future__ import annotations

from celery import shared_task

from incidents import execution
from mdrportal.core import task_names


@shared_task(name=task_names.ACTION_RUN, ignore_result=True)
def action_run(action_id: int) -> None:
    execution.action_run(action_id)


@shared_task(name=task_names.ACTIONS_SWEEP, ignore_result=True)
def actions_sweep() -> dict[str, int]:
    return execution.actions_sweep()
