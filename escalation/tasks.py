"""Celery tasks of the escalation app: each takes ids and calls one service. Services nudge them by name."""

from __future__ import annotations

from celery import shared_task

from escalation.customer import customer_tell
from escalation.dispatch import calls_dispatch
from escalation.emails import email_send
from escalation.progress import call_check, call_hang_up
from escalation.services import run_advance
from escalation.sms.send import text_send
from escalation.sweep import escalation_sweep


@shared_task(name="escalation.advance_run", ignore_result=True)
def advance_run(run_id: int) -> None:
    if run_advance(run_id):
        # One hop: the step has committed its call; place it now if a slot is free (the most urgent
        # waiting call, which is this one unless others wait before it), else a dispatcher comes for it.
        calls_dispatch()


@shared_task(name="escalation.dispatch_calls", ignore_result=True)
def dispatch_calls() -> int:
    return calls_dispatch()


@shared_task(name="escalation.check_call", ignore_result=True)
def check_call(attempt_id: int) -> None:
    call_check(attempt_id)


@shared_task(name="escalation.hang_up_call", ignore_result=True)
def hang_up_call(attempt_id: int) -> None:
    call_hang_up(attempt_id)


@shared_task(name="escalation.tell_customer", ignore_result=True)
def tell_customer(incident_id: int) -> None:
    customer_tell(incident_id)


@shared_task(name="escalation.send_email", ignore_result=True)
def send_email(email_id: int) -> None:
    email_send(email_id)


@shared_task(name="escalation.send_text", ignore_result=True)
def send_text(text_id: int) -> None:
    text_send(text_id)


@shared_task(name="escalation.sweep", ignore_result=True)
def sweep() -> dict[str, int]:
    return escalation_sweep()
