"""Transactions retried whole when PostgreSQL gives one up so that another may go on.

PostgreSQL ends one transaction of a deadlock ("deadlock detected", SQLSTATE 40P01), and one of two that
cannot both be serialised (40001). Nothing the transaction did remains, so running it again from its start
is safe and, with jitter, almost always succeeds: no person sees a 500 for it and no step waits for the
sweeper. Django wraps psycopg's DeadlockDetected / SerializationFailure as OperationalError, with psycopg's
error as `__cause__`.

Only a transaction's outermost block can be retried: a block nested in another is rolled back with it and
cannot be run again alone. So `retried_atomic` refuses to start inside an atomic block, unless that block is
itself retried (then it joins it, as a nested `transaction.atomic` would, and the outer one retries) or a test
case's. What the function does outside the database waits for the commit (`transaction.on_commit`); Django
drops the callbacks of a try that rolls back, so a retry repeats nothing outside the database.
"""

from __future__ import annotations

import functools
import logging
import random
import time
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from django.db import OperationalError, transaction

log = logging.getLogger(__name__)

P = ParamSpec("P")
R = TypeVar("R")

# deadlock_detected, serialization_failure: the transaction was given up, nothing of it remains.
RETRIED_SQLSTATES = frozenset({"40P01", "40001"})
TRIES = 5
# The first retry waits up to this long, each next one up to twice as long (the jitter: a random part of it).
FIRST_WAIT_SECONDS = 0.02


class NestedRetry(RuntimeError):
    """A retried transaction asked to run inside a plain atomic block, where it could not be retried."""


def is_retryable(error: BaseException) -> bool:
    """Whether the database gave the transaction up so that another could go on (deadlock, serialization)."""
    cause = error.__cause__
    return isinstance(error, OperationalError) and getattr(cause, "sqlstate", None) in RETRIED_SQLSTATES


def retry_wait(attempt: int) -> float:
    """Seconds to wait before try `attempt + 1`: full jitter over an exponential bound."""
    return random.uniform(0, FIRST_WAIT_SECONDS * 2 ** (attempt - 1))  # noqa: S311 - jitter, not a secret


def _outer_blocks(using: str | None) -> list[transaction.Atomic]:
    """The connection's open atomic blocks, without those a test case opened around the test."""
    blocks = transaction.get_connection(using).atomic_blocks
    return [block for block in blocks if not block._from_testcase]


def retried_atomic(func: Callable[P, R]) -> Callable[P, R]:
    """`transaction.atomic` for a service's outermost transaction: one that meets a deadlock or a
    serialization failure is rolled back and run again whole, up to TRIES times, waiting a little between."""

    @functools.wraps(func)
    def inner(*args: P.args, **kwargs: P.kwargs) -> R:
        outer = _outer_blocks(None)
        if outer:
            if getattr(outer[0], "retried", False):
                with transaction.atomic():
                    return func(*args, **kwargs)
            raise NestedRetry(
                f"{func.__module__}.{func.__qualname__} is retried whole on a deadlock: it cannot run inside "
                "another atomic block (call it outside, or make the outer block retried_atomic)."
            )
        attempt = 1
        while True:
            block = transaction.atomic()
            block.retried = True  # type: ignore[attr-defined]  # our mark on the block, read by a nested call
            try:
                with block:
                    return func(*args, **kwargs)
            except OperationalError as error:
                if not is_retryable(error) or attempt >= TRIES:
                    raise
                wait = retry_wait(attempt)
                log.warning(
                    "%s: %s (try %d of %d); running it again in %.3f s",
                    func.__qualname__,
                    str(error.__cause__).splitlines()[0],
                    attempt,
                    TRIES,
                    wait,
                )
                time.sleep(wait)
                attempt += 1

    return inner
