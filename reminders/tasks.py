"""Celery tasks of reminders: each takes ids and calls one service. Services nudge them by name."""

from __future__ import annotations

from celery import shared_task

from reminders.services import reminder_send, reminders_sweep, series_step


@shared_task(name="reminders.sweep", ignore_result=True)
def sweep() -> dict[str, int]:
    return reminders_sweep()


@shared_task(name="reminders.remind", ignore_result=True)
def remind(series_id: int) -> int:
    return series_step(series_id)


@shared_task(name="reminders.send", ignore_result=True)
def send(reminder_id: int) -> str:
    return reminder_send(reminder_id)
