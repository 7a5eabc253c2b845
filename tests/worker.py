"""A real Celery worker (with beat embedded, for the sweeper) on the test database and the configured broker."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

from django.conf import settings
from django.db import connection

from mdrportal.celery import app

ROOT = Path(__file__).resolve().parent.parent
WORKER_ENV = {
    "SWEEP_INTERVAL_SECONDS": "1",
    "ACTION_RETRY_BASE_SECONDS": "1",
    "ACTION_RUN_TIMEOUT_SECONDS": "8",
    "CONNECTOR_TIMEOUT_SECONDS": "3",
}


def test_database_url() -> str:
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    credentials = quote(db["USER"] or "") + (f":{quote(db['PASSWORD'])}" if db.get("PASSWORD") else "")
    return f"postgres://{credentials}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


class Worker:
    def __init__(self, log_dir: Path, *, name: str = "test", beat: bool = True, **env: str) -> None:
        self.log_dir, self.name, self.beat, self.extra_env = log_dir, name, beat, env
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self) -> None:
        self.starts += 1
        log = open(self.log_path, "wb")  # noqa: SIM115 - closed with the process
        env = {
            **os.environ,
            **WORKER_ENV,
            **self.extra_env,
            "DATABASE_URL": test_database_url(),
            "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        }
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "mdrportal",
                "worker",
                *(["--beat"] if self.beat else []),
                "--loglevel=INFO",
                "--concurrency=2",
                "--queues",
                ",".join(settings.CELERY_QUEUES_BY_JOB),
                "--schedule",
                str(self.log_dir / "beat-schedule"),
                "--hostname",
                f"{self.name}-{os.getpid()}-{self.starts}@%h",
            ],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        wait_for(lambda: b"ready." in self.log(), timeout=60, what="the worker to start")

    @property
    def log_path(self) -> Path:
        return self.log_dir / f"{self.name}-{self.starts}.log"

    def log(self) -> bytes:
        return self.log_path.read_bytes()

    def kill(self) -> None:
        """SIGKILL the worker and its pool: nothing gets to finish or clean up."""
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()


def purge_broker() -> None:
    with app.connection_for_write() as conn:
        app.control.purge(connection=conn)


def wait_for(condition: Callable[[], object], *, timeout: float = 30, what: str = "a condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")
