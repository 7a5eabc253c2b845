"""The DATABASES entry the settings build from DATABASE_URL: SQLite's lock waits and test file, PostgreSQL's
health checks."""

from __future__ import annotations

import os
from pathlib import Path

import dj_database_url


def database_config(url: str, *, conn_max_age: int, var_dir: Path) -> dj_database_url.DBConfig:
    """The default database, as settings.DATABASES names it."""
    database = dj_database_url.parse(url, conn_max_age=conn_max_age)
    if database["ENGINE"].endswith("sqlite3"):
        # The web process and the worker share one file: wait for the lock instead of failing, and take the
        # write lock when a transaction starts so that a read-then-write cannot be overtaken.
        database["OPTIONS"] = {
            "timeout": 20,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
        # A file, not memory, so that a worker process started by a test sees the test database.
        database["TEST"] = {"NAME": str(var_dir / f"test-db-{os.getpid()}.sqlite3")}
    else:
        database["CONN_HEALTH_CHECKS"] = True
    return database
