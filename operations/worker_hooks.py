"""Celery signals for operations: heartbeats of the sweepers, the ids every task's log lines carry, and the
database connection's life around each task."""

from __future__ import annotations

import logging
from typing import Any

from celery.signals import task_postrun, task_prerun, task_success
from django.db import close_old_connections

from escalation.models import NotificationRun
from incidents.models import ResponseAction
from mdrportal import logs
from mdrportal.core import task_names
from operations.services import SWEEPERS, heartbeat_record

log = logging.getLogger(__name__)

# Which argument of which task names what the task is about.
_TASK_SUBJECT = {
    task_names.ACTION_RUN: "action_id",
    task_names.RUN_ADVANCE: "run_id",
    task_names.CUSTOMER_TELL: "incident_id",
}


def _incident_of(kind: str, pk: object) -> int | None:
    if not isinstance(pk, int):  # a task called without its subject
        return None
    if kind == "incident_id":
        return pk
    model = ResponseAction if kind == "action_id" else NotificationRun
    return model.objects.filter(pk=pk).values_list("incident_id", flat=True).first()


@task_prerun.connect
@task_postrun.connect
def close_old_database_connections(sender: Any = None, **_: Any) -> None:
    """As around a request: a connection older than DB_CONN_MAX_AGE, or broken, is closed (mdrportal.celery).
    Not for a task run in the caller's process (eagerly): that connection is the caller's."""
    if not getattr(getattr(sender, "request", None), "is_eager", False):
        close_old_connections()


@task_prerun.connect
def bind_task_ids(
    sender: Any = None, task_id: str | None = None, args: Any = (), kwargs: Any = None, **_: Any
) -> None:
    logs.clear()
    logs.bind(task_id=task_id)
    kind = _TASK_SUBJECT.get(getattr(sender, "name", ""))
    if kind is None:
        return
    pk = (kwargs or {}).get(kind, args[0] if args else None)
    try:
        logs.bind(**{kind: pk, "incident_id": _incident_of(kind, pk)})
    except Exception:  # noqa: BLE001 - log ids never stop a task
        log.warning("could not look up the incident of %s %s", kind, pk, exc_info=True)


@task_postrun.connect
def clear_task_ids(**_: Any) -> None:
    logs.clear()


@task_success.connect
def sweeper_heartbeat(sender: Any = None, **_: Any) -> None:
    name = getattr(sender, "name", "")
    if name in SWEEPERS:
        heartbeat_record(name=name)
