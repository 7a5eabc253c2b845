"""Test calls from the contacts page: a call without a run, dialed after every incident's call, about no
incident; its outcome is recorded like any call's, and a 1 pressed acknowledges nothing."""

from __future__ import annotations

import threading
import xml.etree.ElementTree as ET
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from escalation.calls.dispatch import call_claim_next, calls_dispatch
from escalation.calls.progress import call_update
from escalation.calls.test_calls import TEST_CALL_RANK, test_call_place
from escalation.models import Acknowledgment, CallAttempt, CallOutcome, RunState
from escalation.runs.services import notification_start, run_advance
from escalation.sweep import escalation_sweep
from incidents.models import Severity, TimelineEvent
from tenants.models import Role, SettingsChange, Tenant
from tenants.services import contact_create, contact_update
from tests.factories import (
    first_contact,
    login_verified,
    make_incident,
    make_member,
    make_tenant,
)
from tests.fakes.http_server import (
    FakeHTTPServer,
    fake_http_server as fake_http_server,  # a fixture
)
from tests.fakes.twilio import PUBLIC_BASE_URL, FakeTwilioAPI, TwilioWebhooks, use_twilio_account

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("unpaced_calls")]


@pytest.fixture(autouse=True)
def simulated_phone(settings) -> None:
    settings.TWILIO_AUTH_TOKEN = ""  # the simulated phone unless a test configures Twilio


@pytest.fixture
def tenant() -> Tenant:
    return make_tenant(phones=2)


@pytest.fixture
def admin(tenant: Tenant):
    return make_member(tenant, Role.ADMIN)


def dialed(call: CallAttempt) -> CallAttempt:
    assert calls_dispatch(max_seconds=5) == 1
    call.refresh_from_db()
    assert call.outcome == CallOutcome.DIALING
    return call


def test_a_test_call_is_queued_audited_dialed_and_its_outcome_recorded(tenant, admin) -> None:
    contact = first_contact(tenant)

    call = test_call_place(contact=contact, by=admin)

    assert (call.run, call.tested_by, call.outcome) == (None, admin, CallOutcome.QUEUED)
    assert (call.sequence, call.try_number, call.severity_rank) == (1, 1, TEST_CALL_RANK)
    assert call.to == contact.phone.as_e164
    audit = SettingsChange.objects.get(tenant=tenant, field="test_call")
    assert (audit.actor, audit.subject, audit.before, audit.after) == (
        admin,
        contact.name,
        None,
        {"to": call.to},
    )

    call = dialed(call)
    assert (call.backend, call.provider_sid) == ("simulated", f"SIM{call.pk}")

    call_update(attempt_id=call.pk, status="in-progress", answered_by="human")
    call_update(attempt_id=call.pk, status="completed")
    call.refresh_from_db()
    assert call.outcome == CallOutcome.NO_KEY and call.ended_at is not None


def test_pressing_1_on_a_test_call_acknowledges_nothing_and_stops_no_run(tenant, admin) -> None:
    incident = make_incident(tenant)
    run = notification_start(incident=incident, by=None)
    run_advance(run.pk)
    calls_dispatch(max_seconds=5)  # the incident's first call rings
    test = dialed(test_call_place(contact=first_contact(tenant), by=admin))
    events = TimelineEvent.objects.filter(incident=incident).count()

    call_update(attempt_id=test.pk, status="in-progress", answered_by="human")
    call_update(attempt_id=test.pk, digits="1")
    call_update(attempt_id=test.pk, status="completed")

    test.refresh_from_db()
    run.refresh_from_db()
    assert test.outcome == CallOutcome.ACKNOWLEDGED
    assert not Acknowledgment.objects.exists()
    assert run.state == RunState.ACTIVE
    assert run.calls.get().outcome == CallOutcome.DIALING
    assert TimelineEvent.objects.filter(incident=incident).count() == events


def test_only_one_test_call_per_contact_is_under_way_at_a_time(tenant, admin) -> None:
    contact = first_contact(tenant)
    first = test_call_place(contact=contact, by=admin)

    with pytest.raises(ValidationError, match="already under way"):
        test_call_place(contact=contact, by=admin)
    dialed(first)
    test_call_place(contact=tenant.contacts.order_by("call_order").last(), by=admin)  # another contact may
    with pytest.raises(ValidationError, match="already under way"):
        test_call_place(contact=contact, by=admin)
    call_update(attempt_id=first.pk, status="busy")
    assert test_call_place(contact=contact, by=admin).pk != first.pk


def test_an_inactive_contact_or_one_without_a_phone_gets_no_test_call(tenant, admin) -> None:
    contact = first_contact(tenant)
    contact_update(contact=contact, by=None, active=False)
    email_only = contact_create(tenant=tenant, by=None, name="Mail only", email="mail@t.example")

    with pytest.raises(ValidationError, match="inactive"):
        test_call_place(contact=contact, by=admin)
    with pytest.raises(ValidationError, match="no phone number"):
        test_call_place(contact=email_only, by=admin)
    assert not CallAttempt.objects.exists()
    assert not SettingsChange.objects.filter(field="test_call").exists()


@pytest.mark.parametrize("severity", [Severity.CRITICAL, Severity.INFO])
def test_an_incidents_call_is_dialed_before_a_test_call_queued_earlier(tenant, admin, severity) -> None:
    test = test_call_place(contact=first_contact(tenant), by=admin)
    run = notification_start(incident=make_incident(tenant, severity=severity), by=None)
    run_advance(run.pk)

    first, second = call_claim_next("simulated"), call_claim_next("simulated")

    assert first.attempt_id == run.calls.get().pk
    assert second.attempt_id == test.pk
    assert second.ring_timeout_seconds == tenant.ring_timeout_seconds


def test_the_sweep_ends_a_test_call_left_ringing_past_the_ring_time_as_unanswered(tenant, admin) -> None:
    contacts = list(tenant.contacts.order_by("call_order"))
    stale = dialed(test_call_place(contact=contacts[0], by=admin))
    fresh = dialed(test_call_place(contact=contacts[1], by=admin))
    placed = timezone.now() - timedelta(seconds=tenant.ring_timeout_seconds + 1)
    CallAttempt.objects.filter(pk=stale.pk).update(placed_at=placed)

    assert escalation_sweep()["test_calls"] == 1

    stale.refresh_from_db()
    fresh.refresh_from_db()
    assert stale.outcome == CallOutcome.NO_ANSWER and stale.ended_at is not None
    assert fresh.outcome == CallOutcome.DIALING


@pytest.fixture
def fake_twilio(fake_http_server: FakeHTTPServer, settings) -> FakeTwilioAPI:
    fake = FakeTwilioAPI(fake_http_server)
    use_twilio_account(settings, fake.base_url)
    return fake


def said(response) -> list[str]:
    """Every sentence a TwiML answer says, in order."""
    assert response.status_code == 200, response.content
    return [say.text for say in ET.fromstring(response.content).iter("Say")]


def test_with_twilio_the_call_is_placed_says_it_is_a_test_and_the_signed_status_records_the_outcome(
    tenant, admin, fake_twilio, client
) -> None:
    contact = first_contact(tenant)
    call = dialed(test_call_place(contact=contact, by=admin))

    (placed,) = fake_twilio.calls
    assert (call.backend, call.provider_sid) == ("twilio", placed.sid)
    assert placed.one("To") == contact.phone.as_e164
    assert placed.one("Url") == f"{PUBLIC_BASE_URL}/twilio/voice/{call.pk}/"
    assert placed.one("Timeout") == str(tenant.ring_timeout_seconds)
    twilio = TwilioWebhooks(client)
    spoken = said(twilio.voice(call, AnsweredBy="human"))
    assert spoken[0] == (
        f"This is a test call from MDR Ops for {tenant.name}. Press 1 to confirm you can hear this message."
    )
    assert "incident" not in " ".join(spoken).lower()
    assert "worked" in " ".join(said(twilio.press(call, "1")))

    assert twilio.status(call, "completed").status_code == 204

    call.refresh_from_db()
    assert (call.outcome, call.provider_status) == (CallOutcome.ACKNOWLEDGED, "completed")
    assert not Acknowledgment.objects.exists()


def test_with_twilio_a_busy_status_ends_the_test_call_busy(tenant, admin, fake_twilio, client) -> None:
    call = dialed(test_call_place(contact=first_contact(tenant), by=admin))

    assert TwilioWebhooks(client).status(call, "busy").status_code == 204

    call.refresh_from_db()
    assert call.outcome == CallOutcome.BUSY


def test_the_simulated_phone_page_lists_a_ringing_test_call_and_plays_it(
    tenant, admin, client, settings, analyst: Any
) -> None:
    settings.DEBUG = True
    login_verified(client, analyst)
    call = dialed(test_call_place(contact=first_contact(tenant), by=admin))

    html = client.get("/dev/phone/").content.decode()

    assert "test call" in html
    assert f"This is a test call from MDR Ops for {tenant.name}." in html
    client.post(f"/dev/phone/{call.pk}/voicemail/")
    call.refresh_from_db()
    assert call.outcome == CallOutcome.VOICEMAIL
    assert "test call" in client.get("/dev/phone/").content.decode()  # among the ended calls


def test_a_tenant_gets_at_most_its_daily_test_calls(tenant, admin, settings) -> None:
    settings.TEST_CALLS_PER_TENANT_PER_DAY = 3
    contact = first_contact(tenant)
    for _ in range(3):
        call = dialed(test_call_place(contact=contact, by=admin))
        call_update(attempt_id=call.pk, status="no-answer")

    with pytest.raises(ValidationError, match="has had its 3 test calls of the last 24 hours"):
        test_call_place(contact=tenant.contacts.order_by("call_order").last(), by=admin)

    other = make_tenant(phones=1)
    assert (
        test_call_place(contact=first_contact(other), by=make_member(other, Role.ADMIN)).outcome == "queued"
    )
    # Calls older than a day no longer count.
    CallAttempt.objects.filter(contact__tenant=tenant).update(
        queued_at=timezone.now() - timedelta(days=1, seconds=1)
    )
    assert test_call_place(contact=contact, by=admin).outcome == "queued"


def test_the_contacts_page_says_when_the_test_call_quota_is_used_up(tenant, admin, settings, client) -> None:
    settings.TEST_CALLS_PER_TENANT_PER_DAY = 0
    login_verified(client, admin)
    contact = first_contact(tenant)

    response = client.post(reverse("tenants:contact_test_call", args=[contact.pk]), follow=True)

    assert "test calls of the last 24 hours" in response.content.decode()
    assert not CallAttempt.objects.exists()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_concurrent_test_calls_cannot_outrun_the_tenants_quota(settings) -> None:
    settings.TEST_CALLS_PER_TENANT_PER_DAY = 2
    tenant = make_tenant(phones=6)
    admin = make_member(tenant, Role.ADMIN)
    contacts = list(tenant.contacts.order_by("call_order"))
    start = threading.Barrier(len(contacts))

    def place(contact) -> str:
        try:
            start.wait()
            test_call_place(contact=contact, by=admin)
            return "placed"
        except ValidationError as error:
            return error.code
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=len(contacts)) as pool:
        results = list(pool.map(place, contacts))

    assert sorted(results) == ["placed", "placed", "quota", "quota", "quota", "quota"]
    assert CallAttempt.objects.filter(contact__tenant=tenant).count() == 2
