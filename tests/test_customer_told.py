"""The customer hears from MDR Ops without an analyst's click (DESIGN rule 12)."""

from __future__ import annotations

from typing import Any

import pytest
from django.utils import timezone

from escalation.models import EmailKind, NotificationRun, RunPurpose, RunState
from escalation.runs.customer import customer_tell
from escalation.runs.services import notification_start
from escalation.sweep import escalation_sweep
from incidents.execution import action_run
from incidents.models import ActionStatus, Basis, EventKind
from mdrportal.core import task_names
from tenants.models import ResponseMode, Tier
from tests.escalation_driver import advance
from tests.factories import make_incident, make_tenant, propose

pytestmark = pytest.mark.django_db


def test_the_first_action_needing_authorization_starts_notification_by_itself(
    django_capture_on_commit_callbacks, monkeypatch
) -> None:
    sent: list[tuple[str, list]] = []
    monkeypatch.setattr("mdrportal.celery.app.send_task", lambda name, args, **kw: sent.append((name, args)))
    incident = make_incident(make_tenant())
    with django_capture_on_commit_callbacks(execute=True):
        action = propose(incident, "isolate_endpoint")
    assert (task_names.CUSTOMER_TELL, [incident.pk]) in sent
    run = customer_tell(incident.pk)
    assert run is not None and run.purpose == RunPurpose.NOTIFY and run.started_by is None
    assert list(run.actions.all()) == [action]
    started = incident.events.get(kind=EventKind.NOTIFICATION_STARTED)
    assert "by itself" in started.summary and "awaiting written authorization" in started.summary.lower()
    assert customer_tell(incident.pk) is None  # told once


def test_an_action_recommended_to_the_partner_or_customer_starts_notification_too() -> None:
    incident = make_incident(make_tenant(performers={"isolate_endpoint": "customer"}))
    action = propose(incident, "isolate_endpoint")
    assert action.status == ActionStatus.RECOMMENDED
    assert customer_tell(incident.pk).purpose == RunPurpose.NOTIFY


def test_a_second_action_joins_the_round_whose_emails_are_not_sent_yet() -> None:
    incident = make_incident(make_tenant())
    first = propose(incident, "isolate_endpoint")
    run = customer_tell(incident.pk)
    second = propose(incident, "block_ip", target="203.0.113.9")
    assert customer_tell(incident.pk) is None
    assert set(run.actions.values_list("pk", flat=True)) == {first.pk, second.pk}


def test_an_analysts_early_start_is_idempotent_and_the_automatic_one_adds_no_round(analyst: Any) -> None:
    incident = make_incident(make_tenant())
    early = notification_start(incident=incident, by=analyst)
    assert notification_start(incident=incident, by=analyst) == early
    propose(incident, "isolate_endpoint")
    assert customer_tell(incident.pk) is None
    assert incident.notification_runs.count() == 1
    assert incident.events.get(kind=EventKind.NOTIFICATION_STARTED).actor == analyst


def test_authorize_mode_reports_by_email_and_phone_once_the_actions_settle() -> None:
    incident = make_incident(make_tenant(mode=ResponseMode.AUTHORIZE, tier=Tier.ESSENTIALS))
    isolate = propose(incident, "isolate_endpoint")
    clean = propose(incident, "clean_malware")
    assert (isolate.status, clean.status) == (ActionStatus.QUEUED, ActionStatus.RECOMMENDED)
    assert customer_tell(incident.pk) is None  # still running: the report waits for it
    action_run(isolate.pk)
    report = customer_tell(incident.pk)
    assert report is not None and report.purpose == RunPurpose.REPORT
    assert set(report.actions.values_list("pk", flat=True)) == {isolate.pk, clean.pk}
    advance(report)
    assert set(report.emails.values_list("kind", flat=True)) == {EmailKind.REPORT}
    assert report.calls.exists()  # and phoned, each contact once
    assert customer_tell(incident.pk) is None


def test_a_report_that_waits_too_long_tells_what_there_is(settings) -> None:
    from datetime import timedelta

    incident = make_incident(make_tenant(mode=ResponseMode.AUTHORIZE))
    isolate = propose(incident, "isolate_endpoint")
    type(isolate).objects.filter(pk=isolate.pk).update(proposed_at=timezone.now() - timedelta(minutes=5))
    report = customer_tell(incident.pk)
    assert report is not None and report.purpose == RunPurpose.REPORT


def test_the_sweeper_catches_a_lost_nudge() -> None:
    incident = make_incident(make_tenant())
    propose(incident, "isolate_endpoint")
    assert escalation_sweep()["customers"] == 1
    customer_tell(incident.pk)
    assert escalation_sweep()["customers"] == 0


def test_a_closed_incident_tells_nobody(analyst: Any) -> None:
    from escalation.runs.lifecycle import incident_change_status

    incident = make_incident(make_tenant())
    propose(incident, "isolate_endpoint")
    incident_change_status(incident=incident, status="closed", by=analyst)
    assert customer_tell(incident.pk) is None
    # Only the summary of its closing goes out: nothing about its actions.
    assert (
        not incident.notification_runs.filter(state=RunState.ACTIVE)
        .exclude(purpose=RunPurpose.CLOSED)
        .exists()
    )


def test_an_action_told_by_two_rounds_then_performed_is_reported_once() -> None:
    incident = make_incident(make_tenant())
    action = propose(incident, "isolate_endpoint")
    first = customer_tell(incident.pk)
    # Nobody acknowledged: a second round told it again, then the fallback performed it.
    NotificationRun.objects.filter(pk=first.pk).update(state=RunState.EXHAUSTED)
    second = NotificationRun.objects.create(
        incident=incident, purpose=RunPurpose.NOTIFY, round=2, plan=[], state=RunState.EXHAUSTED,
        next_step_at=timezone.now(),
    )  # fmt: skip
    second.actions.add(action)
    type(action).objects.filter(pk=action.pk).update(
        basis=Basis.NO_ACK_FALLBACK, status=ActionStatus.SUCCEEDED
    )

    report = customer_tell(incident.pk)

    assert report is not None and report.purpose == RunPurpose.REPORT
    started = incident.events.filter(kind=EventKind.NOTIFICATION_STARTED).latest("at", "pk")
    assert started.data["run"] == report.pk and started.data["actions"] == [action.pk]
