"""The no-acknowledgment fallback rests on proven facts only (DESIGN rules 5 and 6), one path at a time.

The interleavings of the same rules are explored by tests/test_escalation_model.py.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from escalation.acknowledgments.services import acknowledgment_record
from escalation.calls.dispatch import call_claim_next, calls_dispatch
from escalation.calls.progress import call_check
from escalation.models import CallAttempt, CallOutcome, NotificationRun, RunState
from escalation.phone.base import PhoneError
from escalation.runs.services import notification_start
from incidents.models import ActionStatus, Authorization, Channel, EventKind
from tenants.models import Role
from tests.escalation_driver import advance, answer, nobody_answers, ringing
from tests.factories import make_incident, make_member, make_tenant, portal_decision, propose

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("unpaced_calls")]


@pytest.fixture(autouse=True)
def fast_calls(settings) -> None:
    settings.CALL_RETRY_BASE_SECONDS = 15
    settings.RENOTIFY_ROUNDS = 0


class DownPhone:
    """A phone provider that refuses every call, as during an outage or with a wrong auth token."""

    name = "twilio"

    def __init__(self, message: str = "Twilio refused the call: HTTP 503") -> None:
        self.message, self.placed = message, 0

    def place_call(self, request):
        self.placed += 1
        raise PhoneError(self.message)


class NoCallsPhone:
    """A provider that never got the call."""

    name = "twilio"

    def find_calls(self, call):
        return []


def _collaborate_with_fallback(phones: int = 2):
    incident = make_incident(make_tenant(fallback=True, phones=phones))
    return incident, propose(incident, "isolate_endpoint")


def _backoff_passes(run: NotificationRun) -> None:
    """Time passes for every call that reached nobody: its try is due again."""
    long_ago = timezone.now() - timedelta(hours=1)
    run.calls.filter(outcome__in=[CallOutcome.FAILED, CallOutcome.CANCELED]).update(ended_at=long_ago)


@pytest.mark.parametrize(
    "refusal",
    ["HTTP 503, code 20500: Service unavailable", "HTTP 401, code 20003: Authenticate", "HTTP 429"],
)
def test_a_provider_that_refuses_every_call_never_becomes_a_fallback(monkeypatch, refusal: str) -> None:
    incident, isolate = _collaborate_with_fallback()
    down = DownPhone(f"Twilio refused the call: {refusal}")
    monkeypatch.setattr("escalation.calls.dispatch.phone_backend", lambda: down)
    run = notification_start(incident=incident, by=None)
    for _ in range(6):  # every contact's try, again and again after each backoff
        advance(run)
        calls_dispatch(max_seconds=2)
        _backoff_passes(run)
    run.refresh_from_db()
    incident.refresh_from_db()
    isolate.refresh_from_db()
    assert down.placed >= 4
    assert run.state == RunState.ACTIVE  # the tree is not exhausted: nobody was reached
    assert incident.fallback_taken_at is None
    assert isolate.status == ActionStatus.AWAITING_AUTHORIZATION
    assert incident.needs_attention
    flag = incident.events.filter(kind=EventKind.FLAGGED).get()
    assert "Could not notify" in flag.summary
    assert set(run.calls.values_list("outcome", flat=True)) == {CallOutcome.FAILED}
    assert not incident.events.filter(kind=EventKind.CALLS_EXHAUSTED).exists()


def test_a_failed_try_waits_for_its_backoff_and_the_tree_goes_on_meanwhile(monkeypatch) -> None:
    incident, _ = _collaborate_with_fallback(phones=2)
    run = notification_start(incident=incident, by=None)
    monkeypatch.setattr("escalation.calls.dispatch.phone_backend", lambda: DownPhone())
    advance(run)
    calls_dispatch(max_seconds=2)  # the first contact's call is refused
    monkeypatch.undo()
    second = ringing(run)
    assert second is not None and second.contact.call_order == 2  # the next contact is not held up
    answer(second, status="no-answer")
    advance(run)
    run.refresh_from_db()
    assert run.state == RunState.ACTIVE
    assert run.next_step_at > timezone.now()  # waiting for the first contact's backoff, not exhausted
    _backoff_passes(run)
    again = ringing(run)
    assert again is not None and again.contact.call_order == 1 and again.outcome == CallOutcome.DIALING


def test_when_the_provider_recovers_the_fallback_carries_the_attempts_that_rang_as_proof(monkeypatch) -> None:
    incident, isolate = _collaborate_with_fallback(phones=1)
    run = notification_start(incident=incident, by=None)
    monkeypatch.setattr("escalation.calls.dispatch.phone_backend", lambda: DownPhone())
    advance(run)
    calls_dispatch(max_seconds=2)
    monkeypatch.undo()
    _backoff_passes(run)
    nobody_answers(run)
    incident.refresh_from_db()
    isolate.refresh_from_db()
    assert incident.fallback_taken_at is not None
    assert isolate.status == ActionStatus.QUEUED
    proof = incident.events.get(kind=EventKind.FALLBACK_TAKEN).data["attempts"]
    rang = run.calls.get(outcome=CallOutcome.NO_ANSWER)
    assert proof == [
        {
            "call": rang.pk,
            "contact": rang.contact.name,
            "contact_id": rang.contact_id,
            "to": rang.to,
            "try": 1,
            "provider_sid": rang.provider_sid,
            "provider_status": "no-answer",
            "outcome": "no_answer",
        }
    ]


def test_a_call_the_carrier_reports_failed_is_no_attempt() -> None:
    incident, isolate = _collaborate_with_fallback(phones=1)
    run = notification_start(incident=incident, by=None)
    answer(ringing(run), status="failed")
    advance(run)
    run.refresh_from_db()
    incident.refresh_from_db()
    assert run.state == RunState.ACTIVE
    assert incident.fallback_taken_at is None
    assert incident.needs_attention


def test_an_acknowledgment_in_the_portal_before_notification_means_no_fallback_and_no_call() -> None:
    incident, isolate = _collaborate_with_fallback()
    approver = make_member(incident.tenant, Role.APPROVER)
    acknowledgment_record(incident=incident, channel=Channel.PORTAL, user=approver)
    run = notification_start(incident=incident, by=None)
    advance(run)
    calls_dispatch(max_seconds=2)
    run.refresh_from_db()
    incident.refresh_from_db()
    assert run.state == RunState.ACKNOWLEDGED
    assert not run.calls.exists()
    assert run.emails.exists()  # the emails still say what awaits the customer
    assert incident.fallback_taken_at is None


def test_an_acknowledgment_in_an_earlier_round_blocks_the_fallback_of_a_later_one(settings) -> None:
    settings.RENOTIFY_ROUNDS = 2
    incident, isolate = _collaborate_with_fallback(phones=1)
    first = notification_start(incident=incident, by=None)
    answer(ringing(first), digits="1", status="completed")
    second = notification_start(incident=incident, by=None)
    assert second.round == 2
    advance(second)
    second.refresh_from_db()
    assert second.state == RunState.ACKNOWLEDGED
    incident.refresh_from_db()
    assert incident.fallback_taken_at is None


def test_a_written_decline_before_the_tree_ends_means_no_fallback() -> None:
    incident, isolate = _collaborate_with_fallback(phones=2)
    other = propose(incident, "block_ip", target="203.0.113.9")
    run = notification_start(incident=incident, by=None)
    answer(ringing(run), status="no-answer")
    approver = make_member(incident.tenant, Role.APPROVER)
    portal_decision(incident, [other], approver, Authorization.Decision.DECLINED)
    assert ringing(run) is None  # somebody has it: no further call
    run.refresh_from_db()
    incident.refresh_from_db()
    assert run.state == RunState.ACKNOWLEDGED
    assert incident.fallback_taken_at is None


def test_no_call_is_claimed_once_somebody_acknowledged() -> None:
    incident, _ = _collaborate_with_fallback()
    run = notification_start(incident=incident, by=None)
    advance(run)
    queued = run.calls.get()
    assert queued.outcome == CallOutcome.QUEUED
    # The acknowledgment commits between the run queuing the call and a dispatcher claiming it.
    approver = make_member(incident.tenant, Role.APPROVER)
    acknowledgment_record(incident=incident, channel=Channel.PORTAL, user=approver)
    assert call_claim_next("simulated") is None
    queued.refresh_from_db()
    assert queued.outcome == CallOutcome.CANCELED


def test_a_contact_deactivated_mid_tree_means_the_tree_ends_without_a_fallback() -> None:
    incident, isolate = _collaborate_with_fallback(phones=2)
    run = notification_start(incident=incident, by=None)
    answer(ringing(run), status="no-answer")
    incident.tenant.contacts.filter(call_order=2).update(active=False)
    assert ringing(run) is None
    run.refresh_from_db()
    incident.refresh_from_db()
    assert run.state == RunState.EXHAUSTED
    assert incident.fallback_taken_at is None
    exhausted = incident.events.get(kind=EventKind.CALLS_EXHAUSTED)
    assert len(exhausted.data["missing"]) == 1


def test_a_claimed_call_never_confirmed_placed_is_no_attempt(settings, monkeypatch) -> None:
    settings.CALL_STATUS_GRACE_SECONDS = 0
    monkeypatch.setattr("escalation.calls.progress.phone_backend_named", lambda name: NoCallsPhone())
    incident, _ = _collaborate_with_fallback(phones=1)
    run = notification_start(incident=incident, by=None)
    advance(run)
    request = call_claim_next("twilio")  # the placing worker dies before the provider's answer is kept
    CallAttempt.objects.filter(pk=request.attempt_id).update(placed_at=timezone.now() - timedelta(minutes=5))
    advance(run)
    call_check(request.attempt_id)  # as the run's step sends for it: the provider has no such call
    call = CallAttempt.objects.get(pk=request.attempt_id)
    assert call.outcome == CallOutcome.FAILED
    incident.refresh_from_db()
    assert incident.fallback_taken_at is None


def test_every_call_ends_as_one_of_the_designed_outcomes_and_only_rung_ones_count() -> None:
    from escalation.models import ATTEMPT_OUTCOMES, UNREACHED_OUTCOMES

    assert ATTEMPT_OUTCOMES.isdisjoint(UNREACHED_OUTCOMES)
    ended = set(CallOutcome.values) - {CallOutcome.QUEUED, CallOutcome.DIALING}
    assert ended == ATTEMPT_OUTCOMES | UNREACHED_OUTCOMES
