"""Every Celery task is named from one module (mdrportal.core.task_names), and every name there is a task a
worker runs: a name that drifted from its task would send messages no worker takes."""

from __future__ import annotations

from mdrportal.celery import app
from mdrportal.core import task_names

PROJECT_APPS = ("incidents.", "escalation.", "reports.")


def named() -> dict[str, str]:
    return {
        constant: value
        for constant, value in vars(task_names).items()
        if constant.isupper() and isinstance(value, str)
    }


def registered() -> set[str]:
    app.loader.import_default_modules()
    return {name for name in app.tasks if name.startswith(PROJECT_APPS)}


def test_every_constant_names_a_registered_task() -> None:
    missing = {constant: value for constant, value in named().items() if value not in registered()}
    assert missing == {}


def test_every_task_of_the_project_has_its_constant() -> None:
    assert registered() - set(named().values()) == set()


def test_no_two_constants_name_the_same_task() -> None:
    values = list(named().values())
    assert len(values) == len(set(values))


def test_routes_and_schedule_name_only_registered_tasks() -> None:
    from django.conf import settings

    routed = {name for name in settings.CELERY_TASK_ROUTES if "*" not in name}
    scheduled = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert (routed | scheduled) - registered() == set()
