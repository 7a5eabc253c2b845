from __future__ import annotations

import os
from typing import Any

from celery import Celery
from celery.signals import worker_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mdrportal.settings")

app = Celery("mdrportal")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_init.connect
def refuse_misconfigured_worker(**kwargs: Any) -> None:
    """A worker does not run Django's system checks on its own; the ones it depends on must stop it."""
    from django.core import checks

    errors = [e for e in checks.run_checks(tags=["mdr"]) if e.is_serious()]
    if errors:
        # SystemExit, because Celery logs and ignores any Exception a signal handler raises.
        raise SystemExit("The worker will not start:\n" + "\n".join(str(e) for e in errors))
