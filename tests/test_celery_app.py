"""The Celery app reads the broker from the settings and can reach it."""

from __future__ import annotations

import time
from types import SimpleNamespace

import pytest
from celery.fixups.django import DjangoWorkerFixup
from celery.signals import task_postrun, task_prerun
from django.db import connection

import escalation.tasks  # noqa: F401 - the worker's tasks, by name
from mdrportal.celery import app
from mdrportal.core import task_names


def test_tasks_are_acknowledged_only_after_they_ran() -> None:
    # A worker killed mid-task leaves the message to be redelivered; the database decides what is left to do.
    assert app.conf.task_acks_late is True
    assert app.conf.task_reject_on_worker_lost is True
    assert app.conf.worker_prefetch_multiplier == 1


@pytest.mark.redis
def test_the_redis_broker_is_reachable() -> None:
    with app.connection_for_write() as connection:
        connection.ensure_connection(max_retries=2)
        assert connection.transport_cls == "redis" or "redis" in connection.as_uri()


@pytest.mark.parametrize(
    ("task", "queue"),
    [
        (task_names.CALLS_DISPATCH, "dial"),
        (task_names.CALL_DIAL, "dial"),
        (task_names.RUN_ADVANCE, "runs"),
        (task_names.ACTION_RUN, "actions"),
        (task_names.EMAIL_SEND, "mail"),
        (task_names.ESCALATION_SWEEP, "sweep"),
        (task_names.ACTIONS_SWEEP, "sweep"),
        ("escalation.some_future_task", "runs"),
    ],
)
def test_each_job_goes_to_its_own_queue(task: str, queue: str) -> None:
    assert app.amqp.router.route({}, task)["queue"].name == queue


def test_every_task_goes_to_a_queue_the_workers_consume() -> None:
    from django.conf import settings

    app.loader.import_default_modules()
    ours = [name for name in app.tasks if name.startswith(("escalation.", "incidents."))]
    assert len(ours) >= 6
    for name in ours:
        assert app.amqp.router.route({}, name)["queue"].name in settings.CELERY_QUEUES_BY_JOB, name


def test_a_worker_started_without_queues_consumes_every_job_queue() -> None:
    from django.conf import settings

    assert set(app.amqp.queues) == set(settings.CELERY_QUEUES_BY_JOB)


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_worker_keeps_its_database_connection_between_tasks_for_db_conn_max_age(monkeypatch) -> None:
    """Celery's Django fixup would close it around every task (a connection, and a PostgreSQL backend, per
    task); the worker closes it as Django does around a request instead."""
    assert DjangoWorkerFixup(app).db_reuse_max  # the fixup never closes it itself
    monkeypatch.setitem(connection.settings_dict, "CONN_MAX_AGE", 300)
    connection.close()
    connection.ensure_connection()
    kept = connection.connection
    task = app.tasks[task_names.RUN_ADVANCE]
    monkeypatch.setattr(type(task), "request", SimpleNamespace(is_eager=False))

    task_prerun.send(sender=task, task_id="1", task=task, args=(), kwargs={})
    task_postrun.send(sender=task, task_id="1", task=task, args=(), kwargs={})
    assert connection.connection is kept  # younger than DB_CONN_MAX_AGE: kept for the next task

    connection.close_at = time.monotonic() - 1  # older than DB_CONN_MAX_AGE
    task_postrun.send(sender=task, task_id="2", task=task, args=(), kwargs={})
    assert connection.connection is None
