"""Availability end to end: a real Celery worker with its beat sweeper, a fake Twilio REST API and an SMTP
sink on 127.0.0.1. A contact away on holiday is not phoned and the fallback needs only the others; a plan
is frozen when its run starts; nobody available means flagged, emailed, and no fallback.
"""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from escalation.models import CallAttempt, NotificationRun, RunPurpose, RunState
from incidents.models import ActionStatus, Basis, EventKind, Incident, ResponseAction
from tenants.availability import Away, Window
from tenants.availability_services import contact_availability_set
from tenants.models import Contact
from tenants.services import tenant_update_settings
from tests import test_fallback_integration
from tests.factories import make_incident, make_tenant, propose
from tests.test_fallback_integration import RING_TIMEOUT, placed_call, story
from tests.worker import wait_for

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)
worker_settings = test_fallback_integration.worker_settings  # the fallback suite's worker, for `phone`


def away_now(contact: Contact, note: str = "Holiday") -> None:
    now = timezone.now()
    holiday = Away(starts_at=now - timedelta(days=1), ends_at=now + timedelta(days=6), note=note)
    contact_availability_set(contact=contact, by=None, windows=[], away=[holiday])


def never_now(contact: Contact) -> None:
    """A weekly window that never holds right now: the quarter hour twelve hours away, every day."""
    local = (timezone.now() + timedelta(hours=12)).replace(second=0, microsecond=0)
    windows = [
        Window(weekday=d, starts=local.time(), ends=(local + timedelta(minutes=15)).time()) for d in range(7)
    ]
    contact_availability_set(contact=contact, by=None, windows=windows, away=[])


def test_a_contact_away_on_holiday_is_not_phoned_and_the_fallback_needs_only_the_others(
    phone, twilio, smtp
) -> None:
    tenant = make_tenant(fallback=True, phones=3)
    tenant_update_settings(tenant=tenant, by=None, ring_timeout_seconds=RING_TIMEOUT)
    first, away, third = tenant.contacts.order_by("call_order")
    away_now(away, "Skiing")
    incident = make_incident(tenant)
    isolate = propose(incident, "isolate_endpoint")  # notification starts by itself

    call = placed_call(incident)
    assert call.contact_id == first.pk
    # Changes made while the tree runs do not change it: the third contact, away from now on, is still
    # phoned; the second, back from holiday, is still not.
    away_now(third, "Called away")
    contact_availability_set(contact=away, by=None, windows=[], away=[])
    twilio.status[call.provider_sid] = "no-answer"
    phone.status(call, "no-answer")
    second = placed_call(incident, after=call.pk)
    assert second.contact_id == third.pk
    twilio.status[second.provider_sid] = "busy"
    phone.status(second, "busy")

    wait_for(
        lambda: Incident.objects.get(pk=incident.pk).fallback_taken_at is not None,
        what="the fallback on the attempts of the contacts available at the start",
    )
    assert not CallAttempt.objects.filter(run__incident=incident, contact=away).exists()
    run = NotificationRun.objects.get(incident=incident, purpose=RunPurpose.NOTIFY)
    assert run.plan == [{"contact": first.pk, "try": 1}, {"contact": third.pk, "try": 1}]
    assert [u["contact"] for u in run.unavailable] == [away.pk]
    named = incident.events.get(
        kind=EventKind.NOTIFICATION_STARTED, data__run=run.pk, data__unavailable__isnull=False
    )
    assert away.name in named.summary and "Skiing" in named.summary, story(incident)
    proof = incident.events.get(kind=EventKind.FALLBACK_TAKEN).data["attempts"]
    assert [p["contact_id"] for p in proof] == [first.pk, third.pk]
    wait_for(
        lambda: ResponseAction.objects.get(pk=isolate.pk).status == ActionStatus.SUCCEEDED, what="containment"
    )
    assert ResponseAction.objects.get(pk=isolate.pk).basis == Basis.NO_ACK_FALLBACK
    wait_for(lambda: smtp.to(away.email), what="the email to the contact on holiday, who is not phoned")


def test_nobody_available_flags_the_incident_emails_everyone_and_never_falls_back(
    phone, twilio, smtp
) -> None:
    tenant = make_tenant(fallback=True, phones=2)
    tenant_update_settings(tenant=tenant, by=None, ring_timeout_seconds=RING_TIMEOUT)
    first, second = tenant.contacts.order_by("call_order")
    away_now(first)
    never_now(second)

    def calls_placed() -> list[object]:
        return [r for r in twilio.requests if r.method == "POST" and r.path.endswith("/Calls.json")]

    before = len(calls_placed())
    incident = make_incident(tenant)
    isolate = propose(incident, "isolate_endpoint")

    ended = NotificationRun.objects.filter(incident=incident, state=RunState.EXHAUSTED)
    wait_for(ended.exists, what="the run to end without a call")
    run = ended.get()
    wait_for(lambda: smtp.to(first.email) and smtp.to(second.email), what="the emails to both contacts")
    time.sleep(3)
    incident.refresh_from_db()
    assert run.plan == [] and len(run.unavailable) == 2
    assert "outside their hours" in run.unavailable[1]["why"]
    assert incident.needs_attention
    assert incident.events.filter(kind=EventKind.FLAGGED, summary__startswith="Nobody available").exists()
    assert incident.fallback_taken_at is None, story(incident)
    assert not incident.events.filter(kind=EventKind.FALLBACK_TAKEN).exists()
    assert not CallAttempt.objects.filter(run__incident=incident).exists()
    assert len(calls_placed()) == before
    assert ResponseAction.objects.get(pk=isolate.pk).status == ActionStatus.AWAITING_AUTHORIZATION
