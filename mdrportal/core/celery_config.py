"""What the Celery settings compute: the filesystem broker's folders, the queue each task goes to, and beat's
schedule of the sweepers and monthly reports (each task named from mdrportal.core.task_names)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mdrportal.core import task_names


def filesystem_broker_options(broker_dir: Path) -> dict[str, Any]:
    """The filesystem transport's options (settings.CELERY_BROKER_TRANSPORT_OPTIONS), its folders under
    broker_dir."""
    return {
        "data_folder_in": str(broker_dir / "queue"),
        "data_folder_out": str(broker_dir / "queue"),
        "processed_folder": str(broker_dir / "processed"),
        "store_processed": False,
        "control_folder": str(broker_dir / "control"),
        # A worker looks for new messages this often (kombu's default is 1 s): a call tree's step, its email
        # and a sweeper's nudge each wait for the next look, so 1 s a hop made every step a second late.
        "polling_interval": 0.1,
    }


def task_routes() -> dict[str, dict[str, str]]:
    """The queue of each task (settings.CELERY_TASK_ROUTES); one not named here goes to the default queue."""
    return {
        task_names.CALLS_DISPATCH: {"queue": "dial"},
        task_names.CALL_DIAL: {"queue": "dial"},
        # Asking the phone provider about a late call, or hanging one up: the provider's work, like placing.
        task_names.CALL_CHECK: {"queue": "dial"},
        task_names.CALL_HANG_UP: {"queue": "dial"},
        task_names.RUN_ADVANCE: {"queue": "runs"},
        task_names.CUSTOMER_TELL: {"queue": "runs"},
        task_names.EMAIL_SEND: {"queue": "mail"},
        task_names.TEXT_SEND: {"queue": "mail"},
        task_names.ESCALATION_SWEEP: {"queue": "sweep"},
        task_names.ACTIONS_SWEEP: {"queue": "sweep"},
        task_names.REMINDERS_SWEEP: {"queue": "sweep"},
        task_names.REMINDER_SERIES_STEP: {"queue": "runs"},
        task_names.REMINDER_SEND: {"queue": "mail"},
        "incidents.*": {"queue": "actions"},
    }


def beat_schedule(*, sweep_interval_seconds: int) -> dict[str, dict[str, Any]]:
    """What beat sends and how often (settings.CELERY_BEAT_SCHEDULE): the sweepers every interval, each
    message expiring when the next is due, and the monthly reports hourly."""
    return {
        "sweep-actions": {
            "task": task_names.ACTIONS_SWEEP,
            "schedule": sweep_interval_seconds,
            "options": {"expires": sweep_interval_seconds},
        },
        "sweep-escalation": {
            "task": task_names.ESCALATION_SWEEP,
            "schedule": sweep_interval_seconds,
            "options": {"expires": sweep_interval_seconds},
        },
        "sweep-reminders": {
            "task": task_names.REMINDERS_SWEEP,
            "schedule": sweep_interval_seconds,
            "options": {"expires": sweep_interval_seconds},
        },
        # Sends only what was not sent: once per recipient and month (reports.services).
        "monthly-reports": {
            "task": task_names.MONTHLY_REPORTS_SEND,
            "schedule": 3600,
            "options": {"expires": 3600},
        },
    }
