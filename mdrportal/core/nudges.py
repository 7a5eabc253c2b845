"""Nudges: ask a worker, once the current transaction commits, to take the next step of something whose
state the database already holds. A lost nudge only waits for the sweeper, which finds the rows by time.

Tasks are named, not imported: the services that nudge are the ones the tasks call, and an app may nudge a
later one (incidents tell escalation that the customer has news) without importing it.
"""

from __future__ import annotations

import logging
from typing import Any

from celery import current_app
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

log = logging.getLogger(__name__)


def send_now(task: str, *args: Any, countdown: float = 0) -> None:
    """Send the named task; if the broker is down, log it and leave the row for the sweeper."""
    try:
        current_app.send_task(task, args=list(args), countdown=countdown or None)
    except Exception:  # noqa: BLE001 - broker down: the sweeper finds the work by its rows
        log.warning("could not send %s%r; the sweeper will pick it up", task, args, exc_info=True)


def nudge(task: str, *args: Any, countdown: float = 0) -> None:
    """Send the named task once this transaction commits (at once outside one).

    A countdown is for seconds only: the broker is no place for long waits (the row's time is).
    """
    transaction.on_commit(lambda: send_now(task, *args, countdown=countdown))


def due_locked(rows: QuerySet[Any], *, due: str, batch: int) -> list[int]:
    """The sweeper's side: the ids of up to `batch` rows whose time in the field `due` has come, earliest
    first, locked until the transaction ends; rows a worker holds now are skipped (its step moves the time on).
    """
    return list(
        rows.select_for_update(no_key=True, skip_locked=True)
        .filter(**{f"{due}__lte": timezone.now()})
        .order_by(due)
        .values_list("pk", flat=True)[:batch]
    )
