from __future__ import annotations

import os
from typing import Any

from celery import Celery
from celery.signals import worker_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mdrportal.settings")

app = Celery("mdrportal")
app.config_from_object("django.conf:settings", namespace="CELERY")
# Celery's Django fixup closes the database connection before and after every task unless this is set: a
# worker then opened a connection (a PostgreSQL backend process) per task, whatever DB_CONN_MAX_AGE said.
# It never closes them itself now; a worker closes its connection around each task as Django does around a
# request (operations.worker_hooks), so that DB_CONN_MAX_AGE and the health checks hold in workers too.
app.conf.CELERY_DB_REUSE_MAX = 2**62
app.autodiscover_tasks()


@worker_init.connect
def refuse_misconfigured_worker(**kwargs: Any) -> None:
    """A worker does not run Django's system checks on its own; the ones it depends on must stop it."""
    from django.core import checks

    errors = [e for e in checks.run_checks(tags=["mdr"]) if e.is_serious()]
    if errors:
        # SystemExit, because Celery logs and ignores any Exception a signal handler raises.
        raise SystemExit("The worker will not start:\n" + "\n".join(str(e) for e in errors))
