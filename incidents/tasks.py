"""Celery tasks of the incidents app: each takes ids and calls the service of the same name."""

from __future__ import annotations

from celery import shared_task

from incidents import execution


@shared_task(name="incidents.action_run", ignore_result=True)
def action_run(action_id: int) -> None:
    execution.action_run(action_id)


@shared_task(name="incidents.actions_sweep", ignore_result=True)
def actions_sweep() -> dict[str, int]:
    return execution.actions_sweep()
