"""A severity the customer's policy notifies at starts notification at once: on opening, or when MDR staff
raise the severity to it; a round under way is never started twice and a lowering stops nothing."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from escalation.models import RunPurpose, RunState
from escalation.runs.lifecycle import incident_change_status
from escalation.runs.services import notification_start
from escalation.runs.severity import incidents_severity_unnotified, severity_notify
from escalation.sweep import escalation_sweep
from incidents.case_file import incident_edit
from incidents.models import EventKind, Incident
from mdrportal.core import task_names
from tenants.models import Tenant
from tenants.services import tenant_update_settings
from tests.factories import make_incident, make_tenant

pytestmark = pytest.mark.django_db


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, list[Any]]]:
    messages: list[tuple[str, list[Any]]] = []
    monkeypatch.setattr(
        "mdrportal.celery.app.send_task", lambda name, args, **kw: messages.append((name, args))
    )
    return messages


def notifying_from(severity: str) -> Tenant:
    tenant = make_tenant()
    tenant_update_settings(tenant=tenant, by=None, notify_from_severity=severity)
    return tenant


def edit(incident: Incident, by: Any, **changes: Any) -> list[str]:
    return incident_edit(incident=incident, by=by, **changes)


def notify_runs(incident: Incident) -> list[Any]:
    return list(incident.notification_runs.filter(purpose=RunPurpose.NOTIFY))


def test_raising_to_a_severity_the_policy_notifies_at_starts_notification(
    analyst: Any, sent: list[Any], django_capture_on_commit_callbacks: Any
) -> None:
    incident = make_incident(notifying_from("critical"), severity="medium")
    assert not notify_runs(incident)

    with django_capture_on_commit_callbacks(execute=True):
        edit(incident, analyst, severity="critical")

    assert (task_names.SEVERITY_NOTIFY, [incident.pk]) in sent
    run = severity_notify(incident.pk)
    assert run is not None and run.state == RunState.ACTIVE and run.started_by is None
    edited = incident.events.get(kind=EventKind.CASE_EDITED)
    assert edited.data["notifies"] is True and "policy notifies" in edited.summary
    started = incident.events.get(kind=EventKind.NOTIFICATION_STARTED)
    assert "Critical severity" in started.summary and "by itself" in started.summary
    assert run.calls.exists()  # the call tree starts with it, as for any round


def test_a_raise_below_the_policys_severity_starts_nothing(
    analyst: Any, sent: list[Any], django_capture_on_commit_callbacks: Any
) -> None:
    incident = make_incident(notifying_from("critical"), severity="low")
    with django_capture_on_commit_callbacks(execute=True):
        edit(incident, analyst, severity="high")
    assert (task_names.SEVERITY_NOTIFY, [incident.pk]) not in sent
    assert incident.events.get(kind=EventKind.CASE_EDITED).data["notifies"] is False
    assert severity_notify(incident.pk) is None and not notify_runs(incident)


def test_a_policy_that_notifies_only_for_actions_starts_nothing_on_a_raise(analyst: Any) -> None:
    incident = make_incident(make_tenant(), severity="low")
    edit(incident, analyst, severity="critical")
    assert severity_notify(incident.pk) is None and not notify_runs(incident)


def test_opening_at_a_notified_severity_starts_notification(
    sent: list[Any], django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        incident = make_incident(notifying_from("high"), severity="critical")
    assert (task_names.SEVERITY_NOTIFY, [incident.pk]) in sent
    assert incident.events.get(kind=EventKind.INCIDENT_OPENED).data["notifies"] is True
    assert severity_notify(incident.pk) is not None and len(notify_runs(incident)) == 1


def test_a_raise_while_notification_runs_starts_no_second_round(analyst: Any) -> None:
    incident = make_incident(notifying_from("critical"), severity="medium")
    running = notification_start(incident=incident, by=analyst)
    edit(incident, analyst, severity="critical")
    assert severity_notify(incident.pk) is None
    assert notify_runs(incident) == [running]
    assert incident.events.filter(kind=EventKind.NOTIFICATION_STARTED).count() == 1


def test_a_raise_within_what_already_notified_starts_nothing_again(analyst: Any) -> None:
    incident = make_incident(notifying_from("high"), severity="high")
    edit(incident, analyst, severity="critical")
    assert incident.events.get(kind=EventKind.CASE_EDITED).data["notifies"] is False


def test_a_lowering_never_stops_a_running_notification(analyst: Any) -> None:
    incident = make_incident(notifying_from("critical"), severity="medium")
    edit(incident, analyst, severity="critical")
    run = severity_notify(incident.pk)
    edit(incident, analyst, severity="low")
    run.refresh_from_db()
    assert run.state == RunState.ACTIVE
    assert incident.events.filter(kind=EventKind.CASE_EDITED).last().data["notifies"] is False


def test_a_raise_then_lowered_before_the_worker_came_starts_nothing(analyst: Any) -> None:
    incident = make_incident(notifying_from("critical"), severity="medium")
    edit(incident, analyst, severity="critical")
    edit(incident, analyst, severity="medium")
    assert severity_notify(incident.pk) is None and not notify_runs(incident)


def test_a_resolved_incident_is_not_notified(analyst: Any) -> None:
    incident = make_incident(notifying_from("critical"), severity="medium")
    edit(incident, analyst, severity="critical")
    incident_change_status(incident=incident, status="resolved", by=analyst)
    assert severity_notify(incident.pk) is None and not notify_runs(incident)


def test_the_setting_is_snapshotted_and_audited(lead: Any) -> None:
    tenant = notifying_from("medium")
    assert tenant.settings_changes.filter(field="notify_from_severity", after="medium").exists()
    incident = make_incident(tenant, severity="low")
    assert incident.policy["notify_from_severity"] == "medium"


def test_a_lost_nudge_is_found_by_the_sweeper_until_a_round_starts(analyst: Any) -> None:
    incident = make_incident(notifying_from("critical"), severity="medium")
    edit(incident, analyst, severity="critical")  # its nudge is never sent: no commit in this test
    now = timezone.now()
    assert escalation_sweep()["severities"] == 0  # the nudge still has its time
    assert incidents_severity_unnotified(now=now + timedelta(seconds=30), batch=10) == [incident.pk]
    assert incidents_severity_unnotified(now=now + timedelta(minutes=11), batch=10) == []

    severity_notify(incident.pk)
    assert incidents_severity_unnotified(now=now + timedelta(seconds=30), batch=10) == []
