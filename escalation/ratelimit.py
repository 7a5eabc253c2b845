"""The shared calls-per-second limit: every worker asks here before it dials."""

from __future__ import annotations

import time
from typing import Protocol

from django.conf import settings
from django.db import IntegrityError, transaction

from escalation.models import CallRateSlot


class RateLimiter(Protocol):
    def acquire(self) -> bool:
        """Take one call slot in the current second; False when the second's slots are gone."""
        ...


def seconds_to_next_slot() -> float:
    return 1.0 - (time.time() % 1.0) + 0.01


class RedisRateLimiter:
    def __init__(self, url: str, per_second: int) -> None:
        import redis

        self.client, self.per_second = redis.Redis.from_url(url), per_second

    def acquire(self) -> bool:
        key = f"mdr:call-slots:{int(time.time())}"
        with self.client.pipeline() as pipe:
            taken, _ = pipe.incr(key).expire(key, 10).execute()
        return int(taken) <= self.per_second


class DatabaseRateLimiter:
    """A unique (second, slot) row per call: the insert that fails means the slot was taken."""

    def __init__(self, per_second: int) -> None:
        self.per_second = per_second

    def acquire(self) -> bool:
        second = int(time.time())
        for slot in range(self.per_second):
            try:
                with transaction.atomic():
                    CallRateSlot.objects.create(second=second, slot=slot)
                return True
            except IntegrityError:
                continue
        return False


def rate_limiter() -> RateLimiter:
    if settings.RATE_LIMIT_REDIS_URL:
        return RedisRateLimiter(settings.RATE_LIMIT_REDIS_URL, settings.TWILIO_CPS)
    return DatabaseRateLimiter(settings.TWILIO_CPS)


def forget_old_slots(*, older_than_seconds: int = 60) -> None:
    CallRateSlot.objects.filter(second__lt=int(time.time()) - older_than_seconds).delete()
