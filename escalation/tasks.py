"""Celery tasks of the escalation app: each takes ids and calls one service."""

from __future__ import annotations

from celery import shared_task

from escalation.dispatch import calls_dispatch
from escalation.emails import email_send
from escalation.services import run_advance
from escalation.sweep import escalation_sweep


@shared_task(name="escalation.advance_run", ignore_result=True)
def advance_run(run_id: int) -> None:
    run_advance(run_id)


@shared_task(name="escalation.dispatch_calls", ignore_result=True)
def dispatch_calls() -> int:
    return calls_dispatch()


@shared_task(name="escalation.send_email", ignore_result=True)
def send_email(email_id: int) -> None:
    email_send(email_id)


@shared_task(name="escalation.sweep", ignore_result=True)
def sweep() -> dict[str, int]:
    return escalation_sweep()
