"""The call tree: call order and tries, acknowledgment, the no-answer fallback, re-notification, fairness."""

from __future__ import annotations

import pytest
from django.utils import timezone

from escalation.acknowledgments.services import acknowledgment_record
from escalation.calls.dispatch import call_claim_next
from escalation.models import Acknowledgment, CallAttempt, CallOutcome, NotificationRun, RunPurpose, RunState
from escalation.runs.customer import customer_tell
from escalation.runs.services import notification_start, run_advance
from incidents.execution import action_run
from incidents.models import ActionStatus, Basis, EventKind, Incident, Severity
from tenants.models import ResponseMode, Role, Tier
from tenants.services import tenant_update_settings
from tests.escalation_driver import advance, answer, nobody_answers, ringing
from tests.factories import make_incident, make_member, make_tenant, portal_decision, propose

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("unpaced_calls")]


@pytest.fixture(autouse=True)
def fast_calls(settings) -> None:
    settings.RENOTIFY_DELAY_MINUTES = 15
    settings.RENOTIFY_ROUNDS = 3


def ransomware(**tenant: object) -> tuple[Incident, list]:
    incident = make_incident(make_tenant(**tenant))
    actions = [propose(incident, "isolate_endpoint"), propose(incident, "clean_malware", target="WS-0142")]
    return incident, actions


def test_contacts_are_called_in_call_order_each_tried_the_policys_number_of_times() -> None:
    tenant = make_tenant(phones=2)
    tenant_update_settings(tenant=tenant, by=None, call_attempts_per_contact=2)
    run = notification_start(incident=make_incident(tenant), by=None)
    run = nobody_answers(run)
    dialed = list(run.calls.order_by("sequence").values_list("contact__call_order", "try_number"))
    assert dialed == [(1, 1), (2, 1), (1, 2), (2, 2)]
    assert run.state == RunState.EXHAUSTED


def test_collaborate_with_the_checkbox_and_nobody_answering_takes_the_fallback() -> None:
    incident, (isolate, clean) = ransomware(tier=Tier.ESSENTIALS, fallback=True)
    assert isolate.status == ActionStatus.AWAITING_AUTHORIZATION
    nobody_answers(notification_start(incident=incident, by=None))
    incident.refresh_from_db()
    isolate.refresh_from_db()
    clean.refresh_from_db()
    assert incident.fallback_taken_at is not None
    assert (isolate.status, isolate.basis) == (ActionStatus.QUEUED, Basis.NO_ACK_FALLBACK)
    assert clean.status == ActionStatus.RECOMMENDED  # Essentials: neutralization stays the customer's
    fallback = incident.events.get(kind=EventKind.FALLBACK_TAKEN)
    proof = fallback.data["attempts"]
    assert [(a["outcome"], a["provider_status"]) for a in proof] == [("no_answer", "no-answer")] * 2
    assert all(a["provider_sid"] and a["contact"] for a in proof)
    # What was done is reported once it settles, not while the action is still queued.
    assert customer_tell(incident.pk) is None
    action_run(isolate.pk)
    report = customer_tell(incident.pk)
    assert report is not None and report.purpose == RunPurpose.REPORT
    assert set(report.actions.values_list("pk", flat=True)) == {isolate.pk}
    assert customer_tell(incident.pk) is None  # told once


def test_the_second_contact_pressing_1_stops_the_tree_and_authorizes_nothing() -> None:
    incident, (isolate, _clean) = ransomware(fallback=True, phones=3)
    run = notification_start(incident=incident, by=None)
    answer(ringing(run), status="busy")
    answer(ringing(run), digits="1", status="completed")
    assert ringing(run) is None
    run.refresh_from_db()
    assert run.state == RunState.ACKNOWLEDGED
    assert run.calls.count() == 2
    assert Acknowledgment.objects.get(incident=incident).contact.call_order == 2
    isolate.refresh_from_db()
    incident.refresh_from_db()
    assert isolate.status == ActionStatus.AWAITING_AUTHORIZATION
    assert incident.fallback_taken_at is None
    assert "not an authorization" in incident.events.get(kind=EventKind.ACKNOWLEDGED).summary


@pytest.mark.parametrize(
    ("status", "answered_by", "outcome"),
    [
        ("completed", "human", CallOutcome.NO_KEY),
        ("completed", "machine_end_beep", CallOutcome.VOICEMAIL),
        ("busy", "", CallOutcome.BUSY),
        ("no-answer", "", CallOutcome.NO_ANSWER),
        ("failed", "", CallOutcome.FAILED),
        ("canceled", "", CallOutcome.CANCELED),
    ],
)
def test_every_ending_without_the_digit_is_an_attempt_without_acknowledgment(
    status: str, answered_by: str, outcome: str
) -> None:
    from escalation.calls.progress import call_update

    run = notification_start(incident=make_incident(make_tenant(phones=1)), by=None)
    call = ringing(run)
    call_update(attempt_id=call.pk, status=status, answered_by=answered_by)
    call.refresh_from_db()
    assert call.outcome == outcome
    assert not Acknowledgment.objects.exists()


def test_without_the_checkbox_nobody_answering_flags_and_renotifies_but_runs_nothing() -> None:
    incident, (isolate, _clean) = ransomware(phones=1)
    run = nobody_answers(notification_start(incident=incident, by=None))
    incident.refresh_from_db()
    isolate.refresh_from_db()
    assert incident.needs_attention and incident.fallback_taken_at is None
    assert isolate.status == ActionStatus.AWAITING_AUTHORIZATION
    later = incident.notification_runs.get(purpose=RunPurpose.NOTIFY, round=2)
    assert (later.next_step_at - timezone.now()).total_seconds() > 14 * 60
    run_advance(later.pk)  # not due yet: nothing happens
    assert not later.calls.exists()
    for round_ in (2, 3, 4):
        nobody_answers(incident.notification_runs.get(round=round_))
    assert incident.notification_runs.filter(purpose=RunPurpose.NOTIFY).count() == 4  # first + 3 rounds
    assert not incident.notification_runs.filter(state=RunState.ACTIVE).exists()
    assert run.state == RunState.EXHAUSTED


def test_an_acknowledgment_in_the_portal_stops_the_calls_and_the_later_rounds() -> None:
    incident = make_incident(make_tenant(phones=2))
    run = notification_start(incident=incident, by=None)
    first = ringing(run)
    acknowledgment_record(
        incident=incident, channel="portal", user=make_member(incident.tenant, Role.APPROVER)
    )
    run.refresh_from_db()
    assert run.state == RunState.ACKNOWLEDGED
    answer(first, status="no-answer")  # the call that was ringing ends; no other is placed
    assert ringing(run) is None
    assert run.calls.count() == 1


def test_a_viewer_cannot_acknowledge() -> None:
    incident = make_incident(make_tenant())
    with pytest.raises(Exception, match="admins and approvers"):
        acknowledgment_record(
            incident=incident, channel="portal", user=make_member(incident.tenant, Role.VIEWER)
        )


def test_starting_twice_gives_the_same_run() -> None:
    incident = make_incident(make_tenant())
    assert notification_start(incident=incident, by=None) == notification_start(incident=incident, by=None)
    assert NotificationRun.objects.count() == 1


def test_a_call_whose_status_is_late_ends_only_on_the_providers_word(settings) -> None:
    from escalation.calls.progress import call_check

    settings.CALL_STATUS_GRACE_SECONDS = 0
    run = notification_start(incident=make_incident(make_tenant(phones=2)), by=None)
    call = ringing(run)
    CallAttempt.objects.filter(pk=call.pk).update(placed_at=timezone.now() - timezone.timedelta(minutes=5))
    assert ringing(run) == call  # overdue, but not ended by a guess: the provider is asked
    call_check(call.pk)  # the simulated carrier: rang out unanswered
    nxt = ringing(run)
    call.refresh_from_db()
    assert (call.outcome, call.provider_status) == (CallOutcome.NO_ANSWER, "no-answer")
    assert nxt is not None and nxt.pk != call.pk


def test_an_answered_call_past_its_ring_timeout_keeps_the_run_waiting(settings) -> None:
    from escalation.calls.progress import call_check, call_update

    settings.CALL_STATUS_GRACE_SECONDS = 0
    incident = make_incident(make_tenant(phones=1, fallback=True))
    run = notification_start(incident=incident, by=None)
    call = ringing(run)
    call_update(attempt_id=call.pk, status="in-progress", answered_by="human")
    CallAttempt.objects.filter(pk=call.pk).update(placed_at=timezone.now() - timezone.timedelta(seconds=90))
    assert ringing(run) == call
    call_check(call.pk)  # the provider: still in progress
    assert ringing(run) == call
    call_update(attempt_id=call.pk, digits="1")
    run.refresh_from_db()
    incident.refresh_from_db()
    assert run.state == RunState.ACKNOWLEDGED
    assert incident.fallback_taken_at is None


def test_a_late_or_repeated_callback_changes_nothing() -> None:
    from escalation.calls.progress import call_update

    incident = make_incident(make_tenant(phones=2))
    run = notification_start(incident=incident, by=None)
    call = ringing(run)
    call_update(attempt_id=call.pk, status="completed", answered_by="human")
    call_update(attempt_id=call.pk, status="completed", answered_by="human")
    call_update(attempt_id=call.pk, status="ringing")
    call.refresh_from_db()
    assert (call.outcome, call.provider_status) == (CallOutcome.NO_KEY, "completed")
    assert not Acknowledgment.objects.exists()
    ended = [
        e for e in incident.events.filter(kind=EventKind.CALL_ATTEMPT) if e.data.get("outcome") == "no_key"
    ]
    assert len(ended) == 1


def test_authorize_on_essentials_contains_at_once_and_recommends_neutralization() -> None:
    incident, (isolate, clean) = ransomware(tier=Tier.ESSENTIALS, mode=ResponseMode.AUTHORIZE)
    assert (isolate.status, isolate.basis) == (ActionStatus.QUEUED, Basis.AUTHORIZE_MODE)
    assert clean.status == ActionStatus.RECOMMENDED
    run = notification_start(incident=incident, by=None)
    assert run.purpose == RunPurpose.NOTIFY


def test_the_most_severe_incident_is_called_first_and_every_runs_first_call_before_any_second() -> None:
    low = make_incident(make_tenant(phones=2), severity=Severity.LOW)
    critical_a = make_incident(make_tenant(phones=2), severity=Severity.CRITICAL)
    critical_b = make_incident(make_tenant(phones=2), severity=Severity.CRITICAL)
    runs = {i.pk: notification_start(incident=i, by=None) for i in (low, critical_a, critical_b)}
    advance(runs[critical_a.pk])
    # critical_a's second call is queued too, as if its first had ended before the others started.
    first = call_claim_next("simulated")
    from escalation.calls.progress import call_update

    call_update(attempt_id=first.attempt_id, status="busy")
    for incident in (critical_a, low, critical_b):
        advance(runs[incident.pk])
    order = []
    while (request := call_claim_next("simulated")) is not None:
        order.append(CallAttempt.objects.get(pk=request.attempt_id))
    assert [(c.run.incident_id, c.sequence) for c in order] == [
        (critical_b.pk, 1),
        (critical_a.pk, 2),
        (low.pk, 1),
    ]


def test_a_written_authorization_also_stops_further_calls() -> None:
    incident, (isolate, _clean) = ransomware(phones=2)
    run = notification_start(incident=incident, by=None)
    answer(ringing(run), status="no-answer")
    portal_decision(incident, [isolate], make_member(incident.tenant, Role.APPROVER))
    assert ringing(run) is None
    run.refresh_from_db()
    assert run.state == RunState.ACKNOWLEDGED and run.calls.count() == 1
