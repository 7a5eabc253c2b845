"""Celery tasks of the escalation app: each takes ids and calls the service of the same name, which nudges
the next task by this name (escalation.nudges)."""

from __future__ import annotations

from celery import shared_task

from escalation import sweep
from escalation.calls import dispatch, progress
from escalation.emails import send as emails
from escalation.reminders import services as reminders
from escalation.runs import advance, customer, severity
from escalation.sms import send as texts
from mdrportal.core import task_names


@shared_task(name=task_names.RUN_ADVANCE, ignore_result=True)
def run_advance(run_id: int) -> None:
    advance.run_advance_and_call(run_id)


@shared_task(name=task_names.CALLS_DISPATCH, ignore_result=True)
def calls_dispatch() -> int:
    return dispatch.calls_dispatch()


@shared_task(name=task_names.CALL_DIAL, ignore_result=True)
def call_dial(attempt_id: int) -> bool:
    return dispatch.call_dial(attempt_id)


@shared_task(name=task_names.CALL_CHECK, ignore_result=True)
def call_check(attempt_id: int) -> None:
    progress.call_check(attempt_id)


@shared_task(name=task_names.CALL_HANG_UP, ignore_result=True)
def call_hang_up(attempt_id: int) -> None:
    progress.call_hang_up(attempt_id)


@shared_task(name=task_names.CUSTOMER_TELL, ignore_result=True)
def customer_tell(incident_id: int) -> None:
    customer.customer_tell(incident_id)


@shared_task(name=task_names.SEVERITY_NOTIFY, ignore_result=True)
def severity_notify(incident_id: int) -> None:
    severity.severity_notify(incident_id)


@shared_task(name=task_names.EMAIL_SEND, ignore_result=True)
def email_send(email_id: int) -> None:
    emails.email_send(email_id)


@shared_task(name=task_names.TEXT_SEND, ignore_result=True)
def text_send(text_id: int) -> None:
    texts.text_send(text_id)


@shared_task(name=task_names.ESCALATION_SWEEP, ignore_result=True)
def escalation_sweep() -> dict[str, int]:
    return sweep.escalation_sweep()


@shared_task(name=task_names.REMINDERS_SWEEP, ignore_result=True)
def reminders_sweep() -> dict[str, int]:
    return reminders.reminders_sweep()


@shared_task(name=task_names.REMINDER_SERIES_STEP, ignore_result=True)
def reminder_series_step(series_id: int) -> int:
    return reminders.reminder_series_step(series_id)


@shared_task(name=task_names.REMINDER_SEND, ignore_result=True)
def reminder_send(reminder_id: int) -> str:
    return reminders.reminder_send(reminder_id)
