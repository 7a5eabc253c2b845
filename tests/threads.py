"""Test code run in several threads at once, as several web processes or workers would run it."""

from __future__ import annotations

import threading
from collections.abc import Callable

from django.db import connection


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
