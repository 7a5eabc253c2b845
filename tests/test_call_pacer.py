"""The shared call pacer spaces calls at about 1/CPS and never lets a sliding second (and the margin a request
may lose on its way) hold more than CPS of them: on the database and on Redis, on a clock the test moves and
across concurrent callers."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable

import pytest
from django.db import close_old_connections
from hypothesis import given, settings, strategies as st

import escalation.tasks  # noqa: F401 - the worker's tasks, run by name
from escalation.calls.pace import MARGIN_MICROSECONDS, DatabaseCallPacer, Grant, Pace, RedisCallPacer
from escalation.models import CallPace
from tests.sliding_second import most_in_one_sliding_second


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch) -> Clock:
    clock = Clock(1_800_000_000.0)
    monkeypatch.setattr("escalation.calls.pace.time.time", clock)
    return clock


def hammer(acquire: Callable[[], Grant], *, threads: int, grants: int) -> list[Grant]:
    """Several callers at once take slots until `grants` were granted in all; every answer, in order."""
    answers: list[Grant] = []
    lock = threading.Lock()

    def caller() -> None:
        try:
            while True:
                with lock:
                    if sum(a.granted for a in answers) >= grants:
                        return
                answer = acquire()
                with lock:
                    answers.append(answer)
        finally:
            close_old_connections()

    workers = [threading.Thread(target=caller) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
    return answers


def assert_paced(answers: list[Grant], *, per_second: int) -> None:
    at = sorted(a.at for a in answers if a.granted)
    pace = Pace(per_second)
    interval, catch_up = pace.interval / 1_000_000, pace.catch_up / 1_000_000
    gaps = [later - earlier for earlier, later in zip(at, at[1:], strict=False)]
    assert min(gaps) >= interval - catch_up - 1e-6, gaps  # spread out: no burst
    assert most_in_one_sliding_second(at) <= per_second
    # Any CPS + 1 grants span a second and the margin a request may lose on its way to the provider.
    spans = [at[i + per_second] - at[i] for i in range(len(at) - per_second)]
    assert not spans or min(spans) >= 1 + MARGIN_MICROSECONDS / 1_000_000 - 1e-6, spans
    # One waker per slot: at most one caller is told to come back for each slot, however many asked.
    assert sum(a.wake for a in answers if not a.granted) <= len(at)
    assert all(0 <= a.wait <= interval + catch_up + 1e-6 for a in answers if not a.granted)


# The database pacer, on a clock the test moves ------------------------------------------------------


@pytest.mark.django_db
def test_the_database_pacer_spaces_calls_and_lets_a_late_caller_keep_its_slots_place(clock: Clock) -> None:
    pacer = DatabaseCallPacer(per_second=2, name="t")  # 515 ms apart, catching up to 50 ms of lateness
    start = clock.now
    assert pacer.acquire() == Grant(granted=True, at=start)
    clock.now = start + 0.1
    first_refusal, second_refusal = pacer.acquire(), pacer.acquire()
    assert (first_refusal.granted, first_refusal.wake) == (False, True)
    assert first_refusal.wait == pytest.approx(0.365)  # the interval, less the catch-up after a quiet time
    assert (second_refusal.granted, second_refusal.wake) == (False, False)  # the first one comes back
    clock.now = start + 0.515  # 50 ms late for the slot at 0.465
    assert pacer.acquire().granted
    clock.now = start + 1.029
    assert not pacer.acquire().granted  # a third call within a second and the request's margin: never
    clock.now = start + 1.03  # the lateness was caught up: the pace is kept
    assert pacer.acquire().granted


@pytest.mark.django_db
def test_the_window_holds_where_catching_up_would_put_more_than_cps_calls_in_a_second(clock: Clock) -> None:
    pacer = DatabaseCallPacer(per_second=2, name="t")
    start = clock.now
    assert pacer.acquire().granted
    clock.now = start + 0.515  # 50 ms late for the slot at 0.465
    assert pacer.acquire().granted
    clock.now = start + 1.03
    assert pacer.acquire().granted
    # The spacing alone would let the next call go at 1.495: with 0.515 and 1.03, three calls within 1.03 s.
    # The window holds it until 1.545, and the one caller sent for it is told so.
    clock.now = start + 1.50
    refused = pacer.acquire()
    assert (refused.granted, refused.wake) == (False, True)
    assert refused.wait == pytest.approx(0.045)
    clock.now = start + 1.545
    assert pacer.acquire().granted


@pytest.mark.django_db
@settings(max_examples=60, deadline=None)
@given(
    per_second=st.integers(1, 20),
    steps=st.lists(st.floats(min_value=0, max_value=0.7), min_size=1, max_size=80),
)
def test_no_sliding_second_holds_more_than_cps_database_grants(per_second: int, steps: list[float]) -> None:
    """Whatever the times callers ask at, the grants are 1/CPS apart: the two-seconds-back-to-back burst of
    a calendar-second counter (2 x CPS in one sliding second) cannot happen."""
    clock = Clock(1_800_000_000.0)
    name = uuid.uuid4().hex[:16]
    pacer = DatabaseCallPacer(per_second=per_second, name=name)
    answers = []
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("escalation.calls.pace.time.time", clock)
        for step in steps:
            clock.now += step
            answers.append(pacer.acquire())
    CallPace.objects.filter(name=name).delete()
    if sum(a.granted for a in answers) > 1:
        assert_paced(answers, per_second=per_second)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_database_pacer_holds_across_concurrent_callers() -> None:
    pacer = DatabaseCallPacer(per_second=20, name=uuid.uuid4().hex[:16])
    answers = hammer(pacer.acquire, threads=4, grants=25)
    assert sum(a.granted for a in answers) == 25
    assert_paced(answers, per_second=20)


# The Redis pacer: one Lua script on Redis' own clock -------------------------------------------------


@pytest.mark.redis
def test_the_redis_pacer_holds_across_concurrent_callers(settings) -> None:
    name = uuid.uuid4().hex
    pacers = [RedisCallPacer(settings.CELERY_BROKER_URL, per_second=20, name=name) for _ in range(4)]
    turn = iter(range(10**9))
    answers = hammer(lambda: pacers[next(turn) % 4].acquire(), threads=4, grants=25)
    pacers[0].client.delete(*pacers[0].keys)
    assert sum(a.granted for a in answers) == 25
    assert_paced(answers, per_second=20)


@pytest.mark.redis
def test_the_redis_pacer_tells_one_caller_to_come_back_for_the_next_slot(settings) -> None:
    name = uuid.uuid4().hex
    first, second = (RedisCallPacer(settings.CELERY_BROKER_URL, per_second=1, name=name) for _ in "ab")
    assert first.acquire().granted
    waker, other = second.acquire(), first.acquire()
    first.client.delete(*first.keys)
    assert (waker.granted, waker.wake, other.granted, other.wake) == (False, True, False, False)
    assert 0 < other.wait <= waker.wait <= 1.04
