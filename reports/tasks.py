"""Celery tasks of the reports: an interface that calls one service."""

from __future__ import annotations

from celery import shared_task

from mdrportal.core import task_names
from reports.services import monthly_reports_send, report_resends_deliver, report_send_deliver_requested


@shared_task(name=task_names.MONTHLY_REPORTS_SEND)
def monthly_reports() -> int:
    """Last month's report to each recipient not sent it yet: beat runs it hourly, so a beat that was down on
    the first of the month catches up, and a run that finds everything sent sends nothing. It also delivers
    the resends someone asked for whose worker never took them; it never asks for one."""
    return monthly_reports_send() + report_resends_deliver()


@shared_task(name=task_names.REPORT_SEND_DELIVER)
def report_send_deliver(send_id: int) -> str | None:
    """A resend someone asked for, once its claim committed."""
    return report_send_deliver_requested(send_id=send_id)
