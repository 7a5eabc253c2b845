"""The executor: the gate again at run time, one platform call per claimed attempt, retries, failures, reverts."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from django.utils import timezone

from incidents.actions import action_propose_revert
from incidents.connector_settings import connector_configure
from incidents.connectors.base import Result
from incidents.execution import action_claim, action_record_result, action_run, actions_sweep, backoff_seconds
from incidents.models import ActionAttempt, ActionStatus, AttemptOutcome, EventKind, Incident, ResponseAction
from incidents.services import incident_reapply_policy
from tenants.models import ResponseMode, Tier
from tenants.services import tenant_update_settings
from tests.factories import kinds, make_incident, make_tenant, propose

pytestmark = pytest.mark.django_db


@pytest.fixture
def calls(caplog: pytest.LogCaptureFixture):
    """The simulated platform's calls, as it logs them: one line per call."""
    caplog.set_level(logging.INFO, logger="incidents.connectors.simulated")

    def count(action: ResponseAction) -> int:
        return sum(1 for r in caplog.records if r.getMessage().startswith(f"simulated action {action.pk} "))

    return count


def authorize_action(
    code: str = "isolate_endpoint", target: str = "WS-0142", **options: object
) -> ResponseAction:
    tenant = make_tenant(mode=ResponseMode.AUTHORIZE)
    if options:
        connector_configure(tenant=tenant, by=None, kind="simulated", options=options)
    action = propose(make_incident(tenant), code, target=target)
    assert action.status == ActionStatus.QUEUED
    return action


def test_an_authorize_mode_action_runs_once_and_records_the_answer(calls) -> None:
    action = authorize_action()
    action_run(action.pk)
    action.refresh_from_db()
    assert action.status == ActionStatus.SUCCEEDED
    assert calls(action) == 1
    attempt = action.attempts.get()
    assert (attempt.number, attempt.outcome, attempt.connector) == (1, AttemptOutcome.SUCCEEDED, "simulated")
    succeeded = action.incident.events.get(kind=EventKind.ACTION_SUCCEEDED)
    assert succeeded.data["details"]["would"].startswith("Would isolate endpoint WS-0142")
    assert kinds(action.incident)[-2:] == [EventKind.ACTION_STARTED, EventKind.ACTION_SUCCEEDED]


def test_a_duplicate_delivery_calls_the_platform_once(calls) -> None:
    action = authorize_action()
    for _ in range(3):
        action_run(action.pk)
    assert calls(action) == 1
    assert action.attempts.count() == 1


def test_a_collaborate_action_without_authorization_never_runs(calls) -> None:
    action = propose(make_incident(make_tenant()), "isolate_endpoint")
    assert action.status == ActionStatus.AWAITING_AUTHORIZATION
    action_run(action.pk)
    # Even forced to queued behind the services' back, the gate at run time refuses it.
    ResponseAction.objects.filter(pk=action.pk).update(status=ActionStatus.QUEUED, basis="authorize_mode")
    action_run(action.pk)
    action.refresh_from_db()
    assert calls(action) == 0
    assert not action.attempts.exists()
    assert action.status == ActionStatus.AWAITING_AUTHORIZATION
    refused = action.incident.events.filter(kind=EventKind.ACTION_DECIDED).last()
    assert refused.summary.startswith("Not executed") and "written authorization" in refused.summary


def test_an_action_the_gate_no_longer_allows_is_not_run(calls) -> None:
    action = authorize_action()
    tenant = action.incident.tenant
    tenant_update_settings(tenant=tenant, by=None, response_mode=ResponseMode.COLLABORATE)
    incident_reapply_policy(incident=action.incident, by=None)
    action_run(action.pk)
    action.refresh_from_db()
    assert action.status == ActionStatus.AWAITING_AUTHORIZATION
    assert calls(action) == 0
    assert "Not executed" in action.incident.events.filter(kind=EventKind.ACTION_DECIDED).last().summary


def test_an_unreadable_policy_at_run_time_holds_the_action(calls) -> None:
    action = authorize_action()
    Incident.objects.filter(pk=action.incident_id).update(policy={"response_mode": "authorize"})
    action_run(action.pk)
    action.refresh_from_db()
    assert action.status == ActionStatus.HELD
    assert calls(action) == 0


def test_a_transient_failure_is_retried_with_backoff_then_succeeds(calls, settings) -> None:
    settings.ACTION_RETRY_BASE_SECONDS = 10
    action = authorize_action(target="WS-FLAKY", transient=["WS-FLAKY"], transient_attempts=1)
    before = timezone.now()
    action_run(action.pk)
    action.refresh_from_db()
    assert action.status == ActionStatus.QUEUED
    assert action.next_attempt_at >= before + timedelta(seconds=10)
    failed = action.incident.events.get(kind=EventKind.ACTION_ATTEMPT_FAILED)
    assert "Retrying in 10 s" in failed.summary
    assert actions_sweep() == {"lost": 0, "nudged": 0}  # not due yet
    ResponseAction.objects.filter(pk=action.pk).update(next_attempt_at=timezone.now())
    assert actions_sweep() == {"lost": 0, "nudged": 1}
    action_run(action.pk)
    action.refresh_from_db()
    assert action.status == ActionStatus.SUCCEEDED
    assert list(action.attempts.values_list("outcome", flat=True)) == ["transient", "succeeded"]
    assert calls(action) == 2


def test_backoff_doubles_and_is_capped(settings) -> None:
    settings.ACTION_RETRY_BASE_SECONDS, settings.ACTION_RETRY_MAX_SECONDS = 10, 60
    assert [backoff_seconds(n) for n in range(1, 6)] == [10, 20, 40, 60, 60]


def test_transient_failures_give_up_after_the_cap_and_flag_the_incident(calls, settings) -> None:
    settings.ACTION_MAX_ATTEMPTS, settings.ACTION_RETRY_BASE_SECONDS = 3, 0
    action = authorize_action(target="WS-DOWN", transient=["WS-DOWN"], transient_attempts=99)
    for _ in range(5):
        action_run(action.pk)
    action.refresh_from_db()
    assert action.status == ActionStatus.FAILED
    assert action.attempts.count() == 3 and calls(action) == 3
    incident = Incident.objects.get(pk=action.incident_id)
    assert incident.needs_attention
    assert "Gave up after 3 attempts" in incident.events.get(kind=EventKind.ACTION_FAILED).summary


def test_a_permanent_failure_fails_at_once_and_flags_the_incident(calls) -> None:
    action = authorize_action(target="WS-GONE", permanent=["WS-GONE"])
    action_run(action.pk)
    action.refresh_from_db()
    assert action.status == ActionStatus.FAILED and calls(action) == 1
    incident = Incident.objects.get(pk=action.incident_id)
    assert incident.needs_attention
    assert {EventKind.ACTION_FAILED, EventKind.FLAGGED} <= set(kinds(action.incident))
    assert "no such target" in incident.events.get(kind=EventKind.ACTION_FAILED).summary


def test_a_worker_killed_mid_call_never_repeats_that_attempt(calls, settings) -> None:
    settings.ACTION_RETRY_BASE_SECONDS = 0
    action = authorize_action()
    claim = action_claim(action.pk)  # the worker claimed attempt 1, called the platform, and died
    assert claim is not None and claim.request.attempt == 1
    action_run(action.pk)  # the redelivered message finds the action running: nothing to do
    assert actions_sweep()["lost"] == 0  # not yet past the run timeout
    assert action.attempts.count() == 1
    ActionAttempt.objects.filter(pk=claim.attempt_id).update(started_at=timezone.now() - timedelta(hours=1))
    assert actions_sweep()["lost"] == 1
    action_run(action.pk)
    action.refresh_from_db()
    assert action.status == ActionStatus.SUCCEEDED
    assert list(action.attempts.values_list("number", "outcome")) == [(1, "lost"), (2, "succeeded")]
    assert calls(action) == 1  # attempt 2 only: attempt 1 was never called twice
    # The dead worker's answer, should it ever arrive, is kept on the record and changes nothing.
    action_record_result(claim.attempt_id, Result.ok("late"))
    action.refresh_from_db()
    assert action.status == ActionStatus.SUCCEEDED
    assert "Late answer for attempt 1" in action.incident.events.order_by("id").last().summary


def test_a_second_claim_of_a_running_action_gets_nothing() -> None:
    action = authorize_action()
    assert action_claim(action.pk) is not None
    assert action_claim(action.pk) is None


def test_reverting_an_isolation_releases_the_endpoint_and_marks_the_original(calls) -> None:
    action = authorize_action()
    action_run(action.pk)
    action.refresh_from_db()
    revert = action_propose_revert(action=action, by=None)
    assert (revert.action_type.code, revert.target, revert.reverts) == ("release_endpoint", "WS-0142", action)
    assert revert.status == ActionStatus.QUEUED
    with pytest.raises(Exception, match="already has a revert"):
        action_propose_revert(action=action, by=None)
    action_run(revert.pk)
    action.refresh_from_db()
    revert.refresh_from_db()
    assert (revert.status, action.status) == (ActionStatus.SUCCEEDED, ActionStatus.REVERTED)
    assert EventKind.ACTION_REVERTED in kinds(action.incident)


def test_a_revert_in_collaborate_waits_for_written_authorization() -> None:
    action = authorize_action()
    action_run(action.pk)
    tenant_update_settings(tenant=action.incident.tenant, by=None, response_mode=ResponseMode.COLLABORATE)
    incident_reapply_policy(incident=action.incident, by=None)
    action.refresh_from_db()
    revert = action_propose_revert(action=action, by=None)
    assert revert.status == ActionStatus.AWAITING_AUTHORIZATION


def test_an_action_without_a_revert_cannot_be_reverted() -> None:
    action = authorize_action(code="terminate_process", target="pid 4242 on WS-0142")
    action_run(action.pk)
    action.refresh_from_db()
    with pytest.raises(Exception, match="cannot be undone"):
        action_propose_revert(action=action, by=None)


def test_essentials_neutralization_is_never_executed_even_in_authorize_mode(calls) -> None:
    tenant = make_tenant(tier=Tier.ESSENTIALS, mode=ResponseMode.AUTHORIZE)
    action = propose(make_incident(tenant), "clean_malware")
    ResponseAction.objects.filter(pk=action.pk).update(status=ActionStatus.QUEUED, basis="authorize_mode")
    action_run(action.pk)
    action.refresh_from_db()
    assert action.status == ActionStatus.RECOMMENDED and calls(action) == 0
