"""Test code run in several threads at once, as several web processes or workers would run it."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from django.db import connection, transaction


def at_once(target: Callable[[], object], *, threads: int = 2, timeout: float = 60) -> None:
    """Run `target` in `threads` threads started together and wait for them all. Each thread has a database
    connection of its own, closed as it ends (the test database could not be emptied while it is open)."""

    def run() -> None:
        try:
            target()
        finally:
            connection.close()

    started = [threading.Thread(target=run) for _ in range(threads)]
    for thread in started:
        thread.start()
    for thread in started:
        thread.join(timeout=timeout)


class Running(threading.Thread):
    """`target` run in a thread of its own, with a database connection of its own; what it returned or
    raised is kept for the test to look at once joined."""

    def __init__(self, target: Callable[[], object]) -> None:
        super().__init__(daemon=True)
        self.target_call = target
        self.result: object = None
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.result = self.target_call()
        except BaseException as error:  # noqa: BLE001 - handed to the test, which asserts on it
            self.error = error
        finally:
            connection.close()

    def outcome(self, timeout: float = 30) -> object:
        """Wait for the thread; what it returned, or raise what it raised."""
        self.join(timeout)
        assert not self.is_alive(), "the thread did not end in time"
        if self.error is not None:
            raise self.error
        return self.result


class Holding(threading.Thread):
    """A transaction of its own that does `hold` (takes a lock, writes a row others will wait for) and stays
    open until released, then rolls back: the barrier that puts two other transactions where a test wants."""

    def __init__(self, hold: Callable[[], object]) -> None:
        super().__init__(daemon=True)
        self.hold = hold
        self.held = threading.Event()
        self.released = threading.Event()

    def run(self) -> None:
        try:
            with transaction.atomic():
                self.hold()
                self.held.set()
                self.released.wait(60)
                transaction.set_rollback(True)
        finally:
            self.held.set()
            connection.close()

    def __enter__(self) -> Holding:
        self.start()
        assert self.held.wait(30)
        return self

    def __exit__(self, *exc: object) -> None:
        self.released.set()
        self.join(30)


def waiting_for_locks() -> int:
    """How many connections to the test database wait for a lock now (PostgreSQL)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return cursor.fetchone()[0]


def wait_until(condition: Callable[[], bool], *, timeout: float = 15, what: str = "") -> None:
    """Poll until the condition holds; fail the test when it does not within `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"not reached within {timeout} s: {what}"
        time.sleep(0.02)
