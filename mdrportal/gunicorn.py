"""gunicorn settings for production: `gunicorn -c python:mdrportal.gunicorn mdrportal.wsgi:application`.

With PROMETHEUS_MULTIPROC_DIR set, every worker process counts into files there and /metrics adds them up;
the folder is emptied when gunicorn starts and a dead worker's live gauges are dropped.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

from gunicorn.glogging import Logger

from mdrportal.logs import redact

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
# Twilio waits 15 s for a webhook answer; nothing the site does should take this long.
timeout = 30
graceful_timeout = 20
accesslog = "-"
# The request id the site logs (X-Request-ID) also in the access log.
access_log_format = '%(h)s "%(r)s" %(s)s %(b)s %(M)sms request_id=%({x-request-id}o)s'


class RedactingLogger(Logger):  # type: ignore[misc]  # gunicorn ships no types
    """gunicorn's logger, with every access-log field redacted as the site's own logs are: an emailed link's
    path is its token (a credential for a day), in the request line, the path and a Referer alike."""

    def atoms(self, resp: Any, req: Any, environ: dict[str, Any], request_time: Any) -> dict[str, Any]:
        atoms = super().atoms(resp, req, environ, request_time)
        return {key: redact(value) if isinstance(value, str) else value for key, value in atoms.items()}


logger_class = RedactingLogger


def on_starting(server: Any) -> None:
    folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if folder:
        shutil.rmtree(folder, ignore_errors=True)
        Path(folder).mkdir(parents=True)


def child_exit(server: Any, worker: Any) -> None:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)  # type: ignore[no-untyped-call]  # unannotated upstream
