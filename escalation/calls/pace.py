"""The shared call pacer: every worker asks here before it dials.

Calls are spaced at about 1/CPS (GCRA with a burst of 1): a slot is free when the theoretical arrival time
(TAT) is past, and taking it moves the TAT one interval on. A calendar-second counter let two full seconds
meet in one sliding second (2 x CPS), and Twilio then queued the excess in its own order.

A dispatcher woken for a slot always arrives a little late (the broker, the worker's timer, the process).
Moving the TAT on from now would lose that lateness at every slot, so the TAT may trail now by CATCH_UP,
and the interval is (1 s + CATCH_UP + MARGIN) / CPS: then any CPS + 1 grants span at least 1 s + MARGIN,
so no sliding second on the pacer's clock ever holds more than CPS of them, a request may take up to MARGIN
longer than another on its way from its grant to the provider without two seconds' calls meeting in one
there (on a loaded 2-core host, 11 of them met in one second at 1,000 tenants without it), and a
dispatcher up to CATCH_UP late loses nothing: the pace stays CPS / (1 + CATCH_UP + MARGIN).

A caller that finds no free slot is told how long until the next one, and whether it is the one to come
back then: one waker per slot, so that any number of nudges make one dispatcher chain, not many.
"""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass
from typing import Protocol

from django.conf import settings
from django.db.models import F, Q, QuerySet
from django.db.models.functions import Greatest

from escalation.models import CallPace

MICROSECONDS = 1_000_000


@dataclass(frozen=True)
class Grant:
    """The pacer's answer: a slot taken now (at `at`, seconds on the pacer's clock), or the wait for one."""

    granted: bool
    at: float = 0.0
    wait: float = 0.0
    # Not granted: True when this caller is the one to come back in `wait` seconds.
    wake: bool = False


class CallPacer(Protocol):
    def acquire(self) -> Grant:
        """Take the next call slot if it is free now."""
        ...

    def next_slot(self) -> Grant:
        """Look without taking: never granted; the wait until the next slot (0 when it is free now), and
        whether this caller is the one sent for it (one per slot; on Redis a free one too, where many
        workers ask: a dispatcher looking for itself may take a free slot whatever it is told)."""
        ...


# How far the TAT may trail now, at most (and at most half the plain interval, so calls stay spread out).
CATCH_UP_MICROSECONDS = 20_000
# How much longer one request may take than another from its grant to the provider.
MARGIN_MICROSECONDS = 20_000


def pace_microseconds(per_second: int) -> tuple[int, int]:
    """The interval between slots and the catch-up, for CPS calls per second."""
    catch_up = min(CATCH_UP_MICROSECONDS, MICROSECONDS // per_second // 2)
    # Rounded up: never faster than CPS.
    return -(-(MICROSECONDS + catch_up + MARGIN_MICROSECONDS) // per_second), catch_up


# KEYS[1]: the TAT in microseconds; KEYS[2]: the TAT a waker was sent for. ARGV: the interval, the catch-up,
# 1 to take a free slot (0 only looks).
# Redis' own clock, so that workers on any machine share one clock; one script, so one decision at a time.
_GCRA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval, catch_up = tonumber(ARGV[1]), tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat <= now and ARGV[3] == '1' then
  redis.call('SET', KEYS[1], math.max(tat, now - catch_up) + interval, 'PX', math.ceil(interval / 1000) + 1000)
  return {1, now, 0}
end
local wake = 0
if tonumber(redis.call('GET', KEYS[2]) or '-1') ~= tat then
  redis.call('SET', KEYS[2], tat, 'PX', math.ceil(math.max(tat - now, 0) / 1000) + 5000)
  wake = 1
end
return {0, math.max(tat - now, 0), wake}
"""


class RedisCallPacer:
    def __init__(self, url: str, per_second: int, *, name: str = "calls") -> None:
        import redis

        self.client = redis.Redis.from_url(url)
        self.interval, self.catch_up = pace_microseconds(per_second)
        self.keys = [f"mdr:pace:{name}:tat", f"mdr:pace:{name}:waker"]
        self.script = self.client.register_script(_GCRA)

    def acquire(self) -> Grant:
        return self._ask(take=1)

    def next_slot(self) -> Grant:
        return self._ask(take=0)

    def _ask(self, *, take: int) -> Grant:
        granted, value, wake = self.script(keys=self.keys, args=[self.interval, self.catch_up, take])
        if granted:
            return Grant(granted=True, at=int(value) / MICROSECONDS)
        return Grant(granted=False, wait=int(value) / MICROSECONDS, wake=bool(wake))


class DatabaseCallPacer:
    """The same GCRA on one row, for the embedded default: each step is a conditional UPDATE of that row."""

    def __init__(self, per_second: int, *, name: str = "calls") -> None:
        (self.interval, self.catch_up), self.name = pace_microseconds(per_second), name

    def acquire(self) -> Grant:
        now = int(time.time() * MICROSECONDS)
        CallPace.objects.get_or_create(name=self.name)
        row = CallPace.objects.filter(name=self.name)
        if row.filter(tat__lte=now).update(tat=Greatest(F("tat"), now - self.catch_up) + self.interval):
            return Grant(granted=True, at=now / MICROSECONDS)
        return self._refused(row, row.values_list("tat", flat=True).get())

    def next_slot(self) -> Grant:
        row = CallPace.objects.filter(name=self.name)
        tat = row.values_list("tat", flat=True).first() or 0
        if tat <= int(time.time() * MICROSECONDS):
            return Grant(granted=False, wait=0.0, wake=True)  # one worker, few dispatchers: all may come
        return self._refused(row, tat)

    def _refused(self, row: QuerySet[CallPace], tat: int) -> Grant:
        # Whoever changes woken_for to this TAT comes back for it; everybody else leaves it to them.
        wake = row.filter(~Q(woken_for=F("tat")), tat=tat).update(woken_for=F("tat")) == 1
        # Measured from now again: a caller held up since its first look would come back too late.
        wait = min(max(tat - int(time.time() * MICROSECONDS), 0), self.interval)
        return Grant(granted=False, wait=wait / MICROSECONDS, wake=wake)


@functools.lru_cache(maxsize=4)
def _redis_pacer(url: str, per_second: int) -> RedisCallPacer:
    # One client (and its connection pool) per process: a dispatch should not open a connection per call.
    return RedisCallPacer(url, per_second)


def call_pacer() -> CallPacer:
    if settings.RATE_LIMIT_REDIS_URL:
        return _redis_pacer(settings.RATE_LIMIT_REDIS_URL, settings.TWILIO_CPS)
    return DatabaseCallPacer(settings.TWILIO_CPS)
