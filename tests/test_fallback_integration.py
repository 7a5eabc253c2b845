"""The fallback on proven facts, end to end: a real Celery worker with its beat sweeper, a fake Twilio REST
API and an SMTP sink on 127.0.0.1. The test plays the carrier: it sets what Twilio says of a call and posts
signed callbacks. Nobody clicks "Start notification": the customer is told by the engine itself.

Runs on whatever DATABASE_URL and CELERY_BROKER_URL say: PostgreSQL and Redis in CI.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from escalation.acknowledgments.services import acknowledgment_record
from escalation.models import CallAttempt, CallOutcome, NotificationRun, RunPurpose, RunState
from escalation.runs.lifecycle import incident_change_status
from incidents.models import ActionStatus, Basis, Channel, EventKind, Incident, IncidentStatus, ResponseAction
from tenants.models import ResponseMode, Role
from tenants.services import tenant_update_settings
from tests.factories import make_incident, make_member, make_tenant, propose
from tests.worker import wait_for

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

RING_TIMEOUT = 10


@pytest.fixture
def worker_settings() -> dict[str, str]:
    return {
        "CALL_STATUS_GRACE_SECONDS": "2",
        "CALL_RETRY_BASE_SECONDS": "5",
        "CALL_RETRY_MAX_SECONDS": "10",
        "RENOTIFY_ROUNDS": "0",
    }


def collaborate_with_fallback(phones: int = 1) -> tuple[Incident, ResponseAction]:
    tenant = make_tenant(fallback=True, phones=phones)
    tenant_update_settings(tenant=tenant, by=None, ring_timeout_seconds=RING_TIMEOUT)
    incident = make_incident(tenant)
    return incident, propose(incident, "isolate_endpoint")  # notification starts by itself


def placed_call(incident: Incident, *, purpose: str = RunPurpose.NOTIFY, after: int = 0) -> CallAttempt:
    """Wait until the worker has placed a call of the incident (newer than row `after`) at the fake Twilio."""

    def placed() -> CallAttempt | None:
        calls = CallAttempt.objects.filter(run__incident=incident, run__purpose=purpose, pk__gt=after)
        return calls.exclude(provider_sid="").order_by("-id").first()

    wait_for(placed, timeout=60, what=f"a {purpose} call to be placed")
    return placed()


def story(incident: Incident) -> str:
    return "\n".join(f"  {e.kind}: {e.summary}" for e in incident.events.order_by("id"))


def test_a_provider_answering_503_for_a_minute_flags_the_incident_and_never_falls_back_then_calls_resume(
    phone, twilio
) -> None:
    twilio.fail_with(503, 20500, "Service unavailable")
    incident, isolate = collaborate_with_fallback()
    refused = lambda: [r for r in twilio.requests if r.method == "POST" and r.path.endswith("/Calls.json")]  # noqa: E731
    wait_for(lambda: len(refused()) >= 2, timeout=60, what="the provider to refuse calls twice")
    incident.refresh_from_db()
    assert incident.needs_attention, story(incident)
    assert incident.events.filter(kind=EventKind.FLAGGED, summary__contains="Could not notify").exists()
    time.sleep(max(0.0, 60 - 5 * len(refused())))  # the outage lasts about a minute
    incident.refresh_from_db()
    run = NotificationRun.objects.get(incident=incident, purpose=RunPurpose.NOTIFY)
    assert run.state == RunState.ACTIVE, story(incident)
    assert incident.fallback_taken_at is None
    assert ResponseAction.objects.get(pk=isolate.pk).status == ActionStatus.AWAITING_AUTHORIZATION
    assert set(run.calls.values_list("outcome", flat=True)) == {CallOutcome.FAILED}

    twilio.recover()
    call = placed_call(incident)  # the owed try is placed again once the provider answers
    twilio.status[call.provider_sid] = "no-answer"
    phone.status(call, "no-answer")
    wait_for(
        lambda: Incident.objects.get(pk=incident.pk).fallback_taken_at is not None,
        what="the fallback, now that the call rang",
    )
    proof = incident.events.get(kind=EventKind.FALLBACK_TAKEN).data["attempts"]
    assert [(p["provider_sid"], p["provider_status"]) for p in proof] == [(call.provider_sid, "no-answer")]


def test_an_answered_call_held_75_s_past_its_ring_timeout_then_1_pressed_is_no_fallback(
    phone, twilio
) -> None:
    incident, isolate = collaborate_with_fallback()
    call = placed_call(incident)
    twilio.status[call.provider_sid] = "in-progress"
    phone.voice(call, AnsweredBy="human")
    phone.status(call, "in-progress", AnsweredBy="human")
    time.sleep(RING_TIMEOUT + 75)
    assert call.provider_sid in twilio.fetched  # the late call was asked about, not guessed
    call.refresh_from_db()
    incident.refresh_from_db()
    assert call.outcome == CallOutcome.DIALING, story(incident)
    assert incident.fallback_taken_at is None
    assert b"Acknowledged" in phone.press(call, "1").content
    phone.status(call, "completed", AnsweredBy="human")
    run = NotificationRun.objects.get(incident=incident, purpose=RunPurpose.NOTIFY)
    wait_for(lambda: NotificationRun.objects.get(pk=run.pk).state == RunState.ACKNOWLEDGED, what="the ack")
    time.sleep(3)
    incident.refresh_from_db()
    assert incident.fallback_taken_at is None
    assert ResponseAction.objects.get(pk=isolate.pk).status == ActionStatus.AWAITING_AUTHORIZATION


def test_an_acknowledgment_in_the_portal_before_notification_starts_means_no_call_and_no_fallback(
    phone, twilio, smtp
) -> None:
    tenant = make_tenant(fallback=True, phones=2)
    incident = make_incident(tenant)
    acknowledgment_record(incident=incident, channel=Channel.PORTAL, user=make_member(tenant, Role.APPROVER))
    isolate = propose(incident, "isolate_endpoint")
    wait_for(lambda: smtp.to(tenant.contacts.first().email), what="the email naming what awaits")
    run = NotificationRun.objects.get(incident=incident)
    wait_for(lambda: NotificationRun.objects.get(pk=run.pk).state == RunState.ACKNOWLEDGED, what="the run")
    time.sleep(3)
    assert not CallAttempt.objects.filter(run__incident=incident).exists()
    incident.refresh_from_db()
    assert incident.fallback_taken_at is None
    assert ResponseAction.objects.get(pk=isolate.pk).status == ActionStatus.AWAITING_AUTHORIZATION


def test_closing_mid_tree_hangs_up_places_no_further_call_and_cancels_the_action(
    phone, twilio, analyst: Any
) -> None:
    incident, isolate = collaborate_with_fallback(phones=3)
    first = placed_call(incident)
    twilio.status[first.provider_sid] = "ringing"
    incident_change_status(incident=incident, status=IncidentStatus.CLOSED, by=analyst, reason="benign")
    wait_for(lambda: first.provider_sid in twilio.hung_up, what="the ringing call to be hung up")
    phone.status(first, "canceled")
    time.sleep(RING_TIMEOUT + 5)
    assert CallAttempt.objects.filter(run__incident=incident).count() == 1  # no further call
    isolate.refresh_from_db()
    assert isolate.status == ActionStatus.CANCELED
    assert not isolate.attempts.exists()
    incident.refresh_from_db()
    assert incident.fallback_taken_at is None


def test_an_authorize_mode_incident_is_reported_by_email_and_phone_with_nobody_clicking(
    phone, twilio, smtp
) -> None:
    tenant = make_tenant(mode=ResponseMode.AUTHORIZE, phones=1)
    incident = make_incident(tenant)
    isolate = propose(incident, "isolate_endpoint")
    wait_for(
        lambda: ResponseAction.objects.get(pk=isolate.pk).status == ActionStatus.SUCCEEDED, what="containment"
    )
    assert ResponseAction.objects.get(pk=isolate.pk).basis == Basis.AUTHORIZE_MODE
    address = tenant.contacts.first().email
    wait_for(lambda: smtp.to(address), what="the report email")
    text = smtp.to(address)[0].get_body(("plain",)).get_content()
    assert "Isolate endpoint" in text
    call = placed_call(incident, purpose=RunPurpose.REPORT)
    assert "isolat" in phone.voice(call, AnsweredBy="human").content.decode().lower()
    phone.status(call, "completed", AnsweredBy="human")
    started = incident.events.filter(kind=EventKind.NOTIFICATION_STARTED)
    assert all(e.actor is None for e in started)  # nobody clicked
