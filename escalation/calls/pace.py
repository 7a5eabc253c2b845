"""The shared call pacer: every worker asks here before it dials.

Two rules, kept together:
- A window: at most CPS grants in any WINDOW (1 s + MARGIN). Then no sliding second on the pacer's clock
  ever holds more than CPS calls, and a request may take up to MARGIN longer than another on its way from
  its grant to the provider without two seconds' calls meeting in one there (on a loaded 2-core host, 11 of
  them met in one second at 1,000 tenants without a margin, and one request took 27 ms to the fake Twilio
  where most took 2 ms). A calendar-second counter let two full seconds meet in one sliding second
  (2 x CPS), and Twilio then queued the excess in its own order.
- A spacing, so that calls are spread out rather than sent in bursts: GCRA with a burst of 1 and an interval
  of WINDOW / CPS. A slot is free when the theoretical arrival time (TAT) is past, and taking it moves the
  TAT one interval on.

A dispatcher woken for a slot always arrives a little late (the broker, the worker's timer, the claim).
Moving the TAT on from now would lose that lateness at every slot, so the TAT may trail now by CATCH_UP: a
dispatcher up to CATCH_UP late loses nothing, and the window, not the interval, keeps the sliding second.
The pace is CPS / (1 s + MARGIN) while the dialer keeps up; a grant is never closer than the interval less
the catch-up to the one before.

A caller that finds no free slot is told how long until the next one, and whether it is the one to come
back then: one waker per slot, so that any number of nudges make one dispatcher chain, not many.
"""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass
from typing import Protocol

from django.conf import settings
from django.db.models import QuerySet

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


# How much longer one request may take than another from its grant to the provider.
MARGIN_MICROSECONDS = 30_000
# How far the TAT may trail now, at most (and at most half the interval, so calls stay spread out).
CATCH_UP_MICROSECONDS = 50_000


@dataclass(frozen=True)
class Pace:
    """The pacer's numbers for CPS calls per second, in microseconds."""

    per_second: int
    window: int = MICROSECONDS + MARGIN_MICROSECONDS

    @property
    def interval(self) -> int:
        return -(-self.window // self.per_second)  # rounded up: never faster than CPS

    @property
    def catch_up(self) -> int:
        return min(CATCH_UP_MICROSECONDS, self.interval // 2)

    def free_at(self, tat: int, recent: list[int]) -> int:
        """When the next slot is free: the TAT, and not before the window holds fewer than CPS grants
        (`recent`: the latest grants, newest first)."""
        if len(recent) < self.per_second:
            return tat
        return max(tat, recent[self.per_second - 1] + self.window)

    def taken(self, tat: int, recent: list[int], now: int) -> tuple[int, list[int]]:
        """The TAT and the latest grants once a slot is taken at `now`."""
        return max(tat, now - self.catch_up) + self.interval, [now, *recent][: self.per_second]


# KEYS[1]: the TAT; KEYS[2]: the slot a waker was sent for; KEYS[3]: the latest grants, newest first (all in
# microseconds). ARGV: the interval, the catch-up, the window, CPS, 1 to take a free slot (0 only looks).
# Redis' own clock, so that workers on any machine share one clock; one script, so one decision at a time.
_PACE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval, catch_up = tonumber(ARGV[1]), tonumber(ARGV[2])
local window, per_second = tonumber(ARGV[3]), tonumber(ARGV[4])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
local free = tat
local oldest = redis.call('LINDEX', KEYS[3], per_second - 1)
if oldest then
  free = math.max(free, tonumber(oldest) + window)
end
if free <= now and ARGV[5] == '1' then
  local keep = math.ceil((window + interval) / 1000) + 1000
  redis.call('SET', KEYS[1], math.max(tat, now - catch_up) + interval, 'PX', keep)
  redis.call('LPUSH', KEYS[3], now)
  redis.call('LTRIM', KEYS[3], 0, per_second - 1)
  redis.call('PEXPIRE', KEYS[3], keep)
  return {1, now, 0}
end
local wake = 0
if tonumber(redis.call('GET', KEYS[2]) or '-1') ~= free then
  redis.call('SET', KEYS[2], free, 'PX', math.ceil(math.max(free - now, 0) / 1000) + 5000)
  wake = 1
end
return {0, math.max(free - now, 0), wake}
"""


class RedisCallPacer:
    def __init__(self, url: str, per_second: int, *, name: str = "calls") -> None:
        import redis

        self.client = redis.Redis.from_url(url)
        self.pace = Pace(per_second)
        self.keys = [f"mdr:pace:{name}:tat", f"mdr:pace:{name}:waker", f"mdr:pace:{name}:recent"]
        self.script = self.client.register_script(_PACE)

    def acquire(self) -> Grant:
        return self._ask(take=1)

    def next_slot(self) -> Grant:
        return self._ask(take=0)

    def _ask(self, *, take: int) -> Grant:
        pace = self.pace
        granted, value, wake = self.script(
            keys=self.keys, args=[pace.interval, pace.catch_up, pace.window, pace.per_second, take]
        )
        if granted:
            return Grant(granted=True, at=int(value) / MICROSECONDS)
        return Grant(granted=False, wait=int(value) / MICROSECONDS, wake=bool(wake))


def _now() -> int:
    return int(time.time() * MICROSECONDS)


class DatabaseCallPacer:
    """The same pacer on one row, for the embedded default: a slot is taken by a conditional UPDATE of that
    row (on the TAT read with it, which every grant moves on)."""

    def __init__(self, per_second: int, *, name: str = "calls") -> None:
        self.pace, self.name = Pace(per_second), name

    def acquire(self) -> Grant:
        CallPace.objects.get_or_create(name=self.name)
        row = CallPace.objects.filter(name=self.name)
        tat, recent = row.values_list("tat", "recent").get()
        now = _now()
        if self.pace.free_at(tat, recent) <= now:
            new_tat, new_recent = self.pace.taken(tat, recent, now)
            if row.filter(tat=tat).update(tat=new_tat, recent=new_recent):
                return Grant(granted=True, at=now / MICROSECONDS)
            tat, recent = row.values_list("tat", "recent").get()  # another caller took it meanwhile
        return self._refused(row, tat, recent)

    def next_slot(self) -> Grant:
        row = CallPace.objects.filter(name=self.name)
        tat, recent = row.values_list("tat", "recent").first() or (0, [])
        if self.pace.free_at(tat, recent) <= _now():
            return Grant(granted=False, wait=0.0, wake=True)  # one worker, few dispatchers: all may come
        return self._refused(row, tat, recent)

    def _refused(self, row: QuerySet[CallPace], tat: int, recent: list[int]) -> Grant:
        free = self.pace.free_at(tat, recent)
        # Whoever marks this slot as theirs comes back for it; everybody else leaves it to them.
        wake = row.filter(tat=tat).exclude(woken_for=free).update(woken_for=free) == 1
        # Measured from now again: a caller held up since its first look would come back too late.
        wait = min(max(free - _now(), 0), self.pace.interval + self.pace.catch_up)
        return Grant(granted=False, wait=wait / MICROSECONDS, wake=wake)


@functools.lru_cache(maxsize=4)
def _redis_pacer(url: str, per_second: int) -> RedisCallPacer:
    # One client (and its connection pool) per process: a dispatch should not open a connection per call.
    return RedisCallPacer(url, per_second)


def call_pacer() -> CallPacer:
    if settings.RATE_LIMIT_REDIS_URL:
        return _redis_pacer(settings.RATE_LIMIT_REDIS_URL, settings.TWILIO_CPS)
    return DatabaseCallPacer(settings.TWILIO_CPS)
