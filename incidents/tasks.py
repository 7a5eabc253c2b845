"""Celery tasks of the incidents app: each takes ids and calls one service."""

from __future__ import annotations

from celery import shared_task

from incidents.execution import action_run, actions_sweep


@shared_task(name="incidents.execute_action", ignore_result=True)
def execute_action(action_id: int) -> None:
    action_run(action_id)


@shared_task(name="incidents.sweep_actions", ignore_result=True)
def sweep_actions() -> dict[str, int]:
    return actions_sweep()
