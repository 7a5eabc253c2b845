"""Placing calls: the dispatcher never sleeps for a slot; advancing a run places its call in the same task,
after commit; a claim takes its slot right before the request, and yields to a more urgent call."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from django.db import close_old_connections, connection, transaction

import escalation.tasks  # noqa: F401 - the worker's tasks, run by name
from escalation.calls.dispatch import (
    call_claim_in_step,
    call_claim_next,
    call_dial,
    call_place_paced,
    call_release,
    calls_dispatch,
)
from escalation.calls.pace import call_pacer
from escalation.calls.progress import call_update
from escalation.calls.records import call_deadline
from escalation.models import Acknowledgment, CallAttempt, CallOutcome, NotificationRun, RunState
from escalation.phone.base import CallRequest, PlacedCall
from escalation.runs.services import notification_start, run_advance
from escalation.runs.states import run_stop
from incidents.models import (
    Authorization,
    Channel,
    EventKind,
    Incident,
    IncidentStatus,
    Severity,
    TimelineEvent,
)
from mdrportal.celery import app
from mdrportal.core import task_names
from tests.factories import call_pacer_forget, make_incident, make_tenant
from tests.fakes.twilio import ACCOUNT_SID, AUTH_TOKEN, FROM_NUMBER, PUBLIC_BASE_URL
from tests.sliding_second import most_in_one_sliding_second

# A run's first step and the claim of its call, in statements (pinned: each is paid before the call). Two of
# them are the savepoint of the test's own transaction, two the texts' claim (who was texted, who takes texts).
STEP_AND_CLAIM_QUERIES = 20

# The dispatcher ---------------------------------------------------------------------------------------


class RecordingPhone:
    """The phone provider at its seam: notes each call and whether a transaction was open at that moment."""

    name = "twilio"

    def __init__(self) -> None:
        self.placed: list[tuple[int, bool, str]] = []

    def place_call(self, request: CallRequest) -> PlacedCall:
        outcome = CallAttempt.objects.get(pk=request.attempt_id).outcome
        self.placed.append((request.attempt_id, connection.in_atomic_block, outcome))
        return PlacedCall(sid=f"CA{request.attempt_id:032d}")


@pytest.fixture
def phone(monkeypatch) -> RecordingPhone:
    phone = RecordingPhone()
    monkeypatch.setattr("escalation.calls.dispatch.phone_backend", lambda: phone)
    return phone


@pytest.fixture
def sent(monkeypatch) -> list[tuple[str, list[Any], float | None]]:
    messages: list[tuple[str, list[Any], float | None]] = []

    def send_task(
        name: str, args: list[Any] | None = None, countdown: float | None = None, **kw: Any
    ) -> None:
        messages.append((name, list(args or []), countdown))

    monkeypatch.setattr("mdrportal.celery.app.send_task", send_task)
    return messages


def queued_calls(count: int) -> list[CallAttempt]:
    for _ in range(count):
        run = notification_start(incident=make_incident(make_tenant(phones=1)), by=None)
        run_advance(run.pk)
    return list(CallAttempt.objects.filter(outcome=CallOutcome.QUEUED))


@pytest.mark.django_db
def test_the_dispatcher_never_sleeps_for_a_slot_and_sends_one_waker_for_the_next(
    settings, phone, sent, monkeypatch, django_capture_on_commit_callbacks
) -> None:
    settings.TWILIO_CPS = 1
    monkeypatch.setattr(
        "escalation.calls.dispatch.time.sleep", lambda seconds: pytest.fail("the dispatcher slept")
    )
    queued_calls(3)

    with django_capture_on_commit_callbacks(execute=True):
        sent.clear()
        assert calls_dispatch() == 1
        assert calls_dispatch() == 0  # a second nudge in the same second: the waker is already on its way

    wakers = [m for m in sent if m[0] == task_names.CALLS_DISPATCH]
    assert len(wakers) == 1
    assert 0 < wakers[0][2] <= 1.04
    assert len(phone.placed) == 1
    assert CallAttempt.objects.filter(outcome=CallOutcome.QUEUED).count() == 2


def first_call_rang_out(phone: Any, severity: str = Severity.CRITICAL) -> NotificationRun:
    """A run whose first call rang unanswered: its next step queues its second call."""
    run = notification_start(incident=make_incident(make_tenant(phones=2), severity=severity), by=None)
    first = CallAttempt.objects.get(run=run)
    assert call_dial(first.pk)
    call_update(attempt_id=first.pk, status="no-answer")
    phone.placed.clear()
    return run


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_advancing_a_run_places_its_call_in_the_same_task_after_its_step_commits(
    phone, sent, unpaced_calls
) -> None:
    run = first_call_rang_out(phone)
    sent.clear()

    app.tasks[task_names.RUN_ADVANCE](run.pk)

    call = CallAttempt.objects.get(run=run, sequence=2)
    assert (call.outcome, call.provider_sid) == (CallOutcome.DIALING, f"CA{call.pk:032d}")
    # Placed outside any transaction, once the claim had committed; no second hop through the dispatcher.
    assert phone.placed == [(call.pk, False, CallOutcome.DIALING)]
    assert not [m for m in sent if m[0] == task_names.CALLS_DISPATCH]


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_one_hop_keeps_fairness_a_step_behind_a_more_urgent_call_sends_the_dialer_and_dials_nothing(
    settings, phone, sent, unpaced_calls
) -> None:
    low = first_call_rang_out(phone, Severity.LOW)
    settings.TWILIO_CPS = 1
    call_pacer_forget()  # the unpaced calls so far would fill the window of one call a second
    urgent = notification_start(incident=make_incident(make_tenant(phones=1)), by=None)  # its dialer not come
    sent.clear()

    app.tasks[task_names.RUN_ADVANCE](low.pk)

    # The step dials for no other run: its call waits, and one dispatcher is sent for the free slot.
    assert phone.placed == []
    assert CallAttempt.objects.get(run=low, sequence=2).outcome == CallOutcome.QUEUED
    (waker,) = [m for m in sent if m[0] == task_names.CALLS_DISPATCH]
    assert not waker[2]  # the slot is free now
    assert app.tasks[task_names.CALLS_DISPATCH]() == 1
    # The one slot went to the critical incident's call; the low one waits for the next slot's dispatcher.
    assert [placed[0] for placed in phone.placed] == [CallAttempt.objects.get(run=urgent).pk]
    assert CallAttempt.objects.get(run=low, sequence=2).outcome == CallOutcome.QUEUED


@pytest.mark.django_db
def test_a_placed_call_moves_its_run_on_at_its_ring_deadline(
    phone, sent, django_capture_on_commit_callbacks
) -> None:
    run = notification_start(incident=make_incident(make_tenant(phones=2)), by=None)
    run_advance(run.pk)
    with django_capture_on_commit_callbacks(execute=True):
        sent.clear()
        calls_dispatch()
    call = CallAttempt.objects.get(run=run)
    run.refresh_from_db()
    deadline = call.placed_at.timestamp() + run.ring_timeout_seconds + 30  # Twilio's grace for its callback
    assert run.next_step_at.timestamp() == pytest.approx(deadline)
    (nudge,) = [m for m in sent if m[0] == task_names.RUN_ADVANCE]
    assert nudge[1] == [run.pk]
    assert nudge[2] == pytest.approx(run.ring_timeout_seconds + 30, abs=5)


# At Twilio: the slot is taken right before the request ---------------------------------------------


@pytest.fixture
def twilio_phone(twilio, settings):
    settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN = ACCOUNT_SID, AUTH_TOKEN
    settings.TWILIO_FROM_NUMBER, settings.TWILIO_API_BASE_URL = FROM_NUMBER, twilio.base_url
    settings.PUBLIC_BASE_URL = PUBLIC_BASE_URL
    return twilio


@pytest.mark.redis
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_no_sliding_second_at_twilio_holds_more_than_cps_requests(settings, twilio_phone, sent) -> None:
    """Three workers at once, each advancing runs (one hop) and dispatching what waits: the requests as the
    fake Twilio timestamped them are never more than CPS in any second, and every call is placed."""
    settings.TWILIO_CPS = 4
    runs = [notification_start(incident=make_incident(make_tenant(phones=1)), by=None).pk for _ in range(9)]
    todo, lock = list(runs), threading.Lock()

    def worker() -> None:
        try:
            while len(twilio_phone.calls) < len(runs):
                with lock:
                    run_id = todo.pop() if todo else None
                if run_id is not None:
                    app.tasks[task_names.RUN_ADVANCE](run_id)
                else:
                    calls_dispatch()
                    time.sleep(0.01)
        finally:
            close_old_connections()

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert len(twilio_phone.calls) == len(runs)
    # The fake Twilio stamps each request from a thread of this process, behind the three busy workers'
    # hold on the interpreter: a stamp can be late by tens of milliseconds (seen: 48 ms on a loaded machine).
    # bench/mass measures the same at a fake Twilio of its own, on real worker processes.
    assert most_in_one_sliding_second([call.at for call in twilio_phone.calls], late_by=0.1) <= 4
    assert CallAttempt.objects.filter(outcome=CallOutcome.DIALING).exclude(provider_sid="").count() == len(
        runs
    )


@pytest.mark.django_db
def test_a_claim_that_finds_no_slot_is_released_and_the_call_waits_unrecorded(
    settings, phone, sent, django_capture_on_commit_callbacks
) -> None:
    settings.TWILIO_CPS = 1
    first, second = queued_calls(2)
    with django_capture_on_commit_callbacks(execute=True):
        assert calls_dispatch() == 1
    assert [m[0] for m in sent if m[0] == task_names.CALLS_DISPATCH] == [task_names.CALLS_DISPATCH]
    taken = call_claim_next("twilio")  # claimed, as by a worker that then finds the slot gone
    assert taken is not None

    with django_capture_on_commit_callbacks(execute=True):
        sent.clear()
        assert not call_place_paced(taken, phone, call_pacer())

    call = CallAttempt.objects.get(pk=taken.attempt_id)
    assert (call.outcome, call.placed_at, call.backend) == (CallOutcome.QUEUED, None, "")
    assert [p[0] for p in phone.placed] == [first.pk]
    # The timeline says "Calling" only for the call the provider was asked to place.
    dialing = TimelineEvent.objects.filter(kind=EventKind.CALL_ATTEMPT, data__outcome="dialing")
    assert [e.data["call"] for e in dialing] == [first.pk]
    assert sent == []  # the next slot's dispatcher is on its way already: one waker per slot


@pytest.mark.django_db
def test_a_released_claim_of_a_run_stopped_meanwhile_is_canceled(settings, phone, sent) -> None:
    settings.TWILIO_CPS = 1
    (queued,) = queued_calls(1)
    taken = call_claim_next("twilio")
    run = NotificationRun.objects.get(pk=queued.run_id)
    run_stop(run, RunState.ACKNOWLEDGED)

    call_release(taken.attempt_id)

    queued.refresh_from_db()
    assert queued.outcome == CallOutcome.CANCELED and queued.ended_at is not None
    assert phone.placed == []


@pytest.mark.django_db
def test_a_run_step_claims_its_own_call_in_its_transaction(
    phone, sent, django_assert_num_queries, django_capture_on_commit_callbacks
) -> None:
    run = first_call_rang_out(phone)
    # The step (incident and run locked, checks, the call queued) and the claim of its call: one
    # transaction, the call claimed with one statement and no second lock of the incident.
    with (
        django_assert_num_queries(STEP_AND_CLAIM_QUERIES),
        django_capture_on_commit_callbacks(execute=True),
        transaction.atomic(),
    ):
        assert run_advance(run.pk)
        request = call_claim_in_step(run.pk, "twilio")
    call = CallAttempt.objects.get(run=run, sequence=2)
    assert request is not None and request.attempt_id == call.pk
    assert (call.outcome, call.backend, call.provider_sid) == (CallOutcome.DIALING, "twilio", "")


@pytest.mark.django_db
def test_a_less_urgent_call_waits_while_a_more_urgent_claim_takes_its_slot(settings, phone, sent) -> None:
    """Claim first, slot after: while a worker takes a slot for the most urgent call, a less urgent call
    claimed elsewhere (or by a run's step) does not take that slot first."""
    urgent = notification_start(incident=make_incident(make_tenant(phones=1)), by=None)
    run_advance(urgent.pk)
    taken = call_claim_next("twilio")  # in flight: claimed, its slot not taken yet
    low = notification_start(incident=make_incident(make_tenant(phones=1), severity=Severity.LOW), by=None)

    with transaction.atomic():
        run_advance(low.pk)  # its call was queued with it
        assert call_claim_in_step(low.pk, "twilio") is None
    other = call_claim_next("twilio")  # a second worker claims the next call ...
    assert other is not None and not call_place_paced(other, phone, call_pacer())  # ... and lets it wait

    assert phone.placed == []
    assert CallAttempt.objects.get(run=low).outcome == CallOutcome.QUEUED
    call_release(taken.attempt_id)  # no slot for the urgent one: it waits again, still first
    again = call_claim_next("twilio")
    assert again is not None and again.attempt_id == taken.attempt_id
    assert call_place_paced(again, phone, call_pacer())
    assert [p[0] for p in phone.placed] == [taken.attempt_id]


@pytest.mark.django_db
def test_a_claim_yields_to_a_more_urgent_call_released_meanwhile(settings, phone, sent) -> None:
    urgent = notification_start(incident=make_incident(make_tenant(phones=1)), by=None)
    run_advance(urgent.pk)
    low = notification_start(incident=make_incident(make_tenant(phones=1), severity=Severity.LOW), by=None)
    run_advance(low.pk)
    first = call_claim_next("twilio")
    second = call_claim_next("twilio")  # a second worker takes the next one while the first is claimed
    call_release(first.attempt_id)  # the first found no slot

    assert not call_place_paced(second, phone, call_pacer())  # the slot is the urgent call's

    assert phone.placed == []
    assert set(CallAttempt.objects.values_list("outcome", flat=True)) == {CallOutcome.QUEUED}


# The first call of a run: queued with the run, placed in one hop -------------------------------------


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_starting_a_run_dials_its_first_call_in_one_hop_and_its_first_step_claims_the_emails(
    phone, sent
) -> None:
    run = notification_start(incident=make_incident(make_tenant(phones=2)), by=None)

    call = CallAttempt.objects.get(run=run)  # queued with the run, in its transaction
    assert (task_names.CALL_DIAL, [call.pk], None) in sent
    assert app.tasks[task_names.CALL_DIAL](call.pk)
    call.refresh_from_db()
    assert phone.placed == [(call.pk, False, CallOutcome.DIALING)]
    assert call.provider_sid == f"CA{call.pk:032d}"

    app.tasks[task_names.RUN_ADVANCE](run.pk)  # the first step, sent beside it
    run.refresh_from_db()
    assert run.emails.count() == 2
    assert list(run.calls.values_list("pk", flat=True)) == [call.pk]  # under way: no second call
    assert run.next_step_at == call_deadline(call, run.ring_timeout_seconds)


@pytest.mark.parametrize("meanwhile", ["run stopped", "incident closed", "acknowledged", "decided"])
@pytest.mark.django_db
def test_the_dialer_never_places_a_first_call_once_its_run_stopped_or_somebody_has_it(
    phone, sent, meanwhile
) -> None:
    """Row by row, as a stop not yet seen by the call's row would leave it: the claim's own checks refuse."""
    incident = make_incident(make_tenant(phones=2))
    run = notification_start(incident=incident, by=None)
    call = CallAttempt.objects.get(run=run)
    contact = call.contact
    if meanwhile == "run stopped":
        NotificationRun.objects.filter(pk=run.pk).update(state=RunState.CANCELED)
    elif meanwhile == "incident closed":
        Incident.objects.filter(pk=incident.pk).update(status=IncidentStatus.CLOSED)
    elif meanwhile == "acknowledged":
        Acknowledgment.objects.create(incident=incident, contact=contact, channel=Channel.SMS)
    else:
        Authorization.objects.create(
            incident=incident, decision="declined", scope=[], contact=contact, channel=Channel.EMAIL_LINK
        )

    assert not call_dial(call.pk)

    assert phone.placed == []
    assert CallAttempt.objects.get(pk=call.pk).outcome == CallOutcome.QUEUED


@pytest.mark.parametrize("meanwhile", ["run stopped", "incident closed", "acknowledged", "decided"])
@pytest.mark.django_db
def test_the_dispatcher_never_claims_a_call_once_its_run_stopped_or_somebody_has_it(meanwhile) -> None:
    """Row by row, as for the dialer: the one-statement claim passes over the call and takes the next; once
    no other call may go, the call is looked at under its incident's lock and its run is stopped."""
    incident = make_incident(make_tenant(phones=2))
    run = notification_start(incident=incident, by=None)
    stale = CallAttempt.objects.get(run=run)
    low = notification_start(incident=make_incident(make_tenant(phones=1), severity=Severity.LOW), by=None)
    if meanwhile == "run stopped":
        NotificationRun.objects.filter(pk=run.pk).update(state=RunState.CANCELED)
    elif meanwhile == "incident closed":
        Incident.objects.filter(pk=incident.pk).update(status=IncidentStatus.CLOSED)
    elif meanwhile == "acknowledged":
        Acknowledgment.objects.create(incident=incident, contact=stale.contact, channel=Channel.SMS)
    else:
        Authorization.objects.create(
            incident=incident,
            decision="declined",
            scope=[],
            contact=stale.contact,
            channel=Channel.EMAIL_LINK,
        )

    taken = call_claim_next("twilio")
    assert taken is not None and taken.attempt_id == CallAttempt.objects.get(run=low).pk
    assert call_claim_next("twilio") is None

    assert CallAttempt.objects.get(pk=stale.pk).outcome in {CallOutcome.QUEUED, CallOutcome.CANCELED}
    assert NotificationRun.objects.get(pk=run.pk).state != RunState.ACTIVE


@pytest.mark.django_db
def test_a_first_call_behind_a_more_urgent_waiting_call_waits_and_sends_the_dispatcher(
    settings, phone, sent, django_capture_on_commit_callbacks
) -> None:
    settings.TWILIO_CPS = 1
    urgent = notification_start(incident=make_incident(make_tenant(phones=1)), by=None)
    low = notification_start(incident=make_incident(make_tenant(phones=1), severity=Severity.LOW), by=None)
    sent.clear()

    with django_capture_on_commit_callbacks(execute=True):
        assert not call_dial(CallAttempt.objects.get(run=low).pk)

    assert phone.placed == []
    assert set(CallAttempt.objects.values_list("outcome", flat=True)) == {CallOutcome.QUEUED}
    assert [m[0] for m in sent] == [task_names.CALLS_DISPATCH]
    assert calls_dispatch() == 1
    assert [p[0] for p in phone.placed] == [CallAttempt.objects.get(run=urgent).pk]
