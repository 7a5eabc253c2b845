"""A claimed call whose placing was never recorded (the database or the placing worker went away between
Twilio's answer and the record) is looked up at Twilio before its try is dialed again: nobody is phoned twice
for one try."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from pytest_django.fixtures import Settings

from escalation.calls.dispatch import call_claim_next
from escalation.calls.progress import call_check
from escalation.calls.records import call_placed
from escalation.models import CallAttempt, CallOutcome
from escalation.phone.base import CallRequest
from escalation.phone.twilio import TwilioPhone
from escalation.runs.services import notification_start
from tests.escalation_driver import advance
from tests.factories import make_incident, make_tenant
from tests.fakes.http_server import (
    FakeHTTPServer,
    fake_http_server as fake_http_server,  # a fixture
)
from tests.fakes.twilio import FakeTwilioAPI, use_twilio_account

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("unpaced_calls")]


@pytest.fixture
def fake_twilio(fake_http_server: FakeHTTPServer, settings: Settings) -> FakeTwilioAPI:
    fake = FakeTwilioAPI(fake_http_server)
    use_twilio_account(settings, fake.base_url)
    settings.PHONE_BACKEND = "twilio"
    settings.CALL_STATUS_GRACE_SECONDS = 0
    return fake


def claimed(incident: object) -> CallRequest:
    run = notification_start(incident=incident, by=None)
    advance(run)
    request = call_claim_next("twilio")
    assert request is not None
    return request


def overdue(request: CallRequest) -> CallAttempt:
    """The call's ring timeout passes; its run looks at it."""
    CallAttempt.objects.filter(pk=request.attempt_id).update(placed_at=timezone.now() - timedelta(minutes=5))
    call = CallAttempt.objects.select_related("run").get(pk=request.attempt_id)
    advance(call.run)
    call.refresh_from_db()
    return call


def test_a_call_twilio_placed_but_never_recorded_is_found_and_kept(fake_twilio: FakeTwilioAPI) -> None:
    request = claimed(make_incident(make_tenant(phones=1)))
    TwilioPhone().place_call(request)  # Twilio has it; the database went away before the record
    call = overdue(request)
    assert (call.outcome, call.provider_sid) == (CallOutcome.DIALING, "")  # not ended by guesswork

    call_check(request.attempt_id)

    call.refresh_from_db()
    (placed,) = fake_twilio.calls
    assert (call.outcome, call.provider_sid) == (CallOutcome.DIALING, placed.sid)
    fake_twilio.status[placed.sid] = "no-answer"
    call_check(request.attempt_id)  # as the run asks once the deadline has passed
    call.refresh_from_db()
    assert call.outcome == CallOutcome.NO_ANSWER  # an attempt: the contact's phone rang
    assert len(fake_twilio.calls) == 1


def test_a_call_twilio_never_got_is_no_attempt_and_is_dialed_again(fake_twilio: FakeTwilioAPI) -> None:
    request = claimed(make_incident(make_tenant(phones=1)))
    call = overdue(request)

    call_check(request.attempt_id)

    call.refresh_from_db()
    assert call.outcome == CallOutcome.FAILED
    assert "no such call" in call.error
    assert fake_twilio.calls == []


def test_a_call_to_the_same_number_that_another_row_holds_is_not_taken(fake_twilio: FakeTwilioAPI) -> None:
    tenant = make_tenant(phones=1)
    earlier = claimed(make_incident(tenant))
    call_placed(attempt_id=earlier.attempt_id, sid=TwilioPhone().place_call(earlier).sid)
    request = claimed(make_incident(tenant))
    assert request.to == earlier.to
    overdue(request)

    call_check(request.attempt_id)

    assert CallAttempt.objects.get(pk=request.attempt_id).outcome == CallOutcome.FAILED
    assert CallAttempt.objects.get(pk=earlier.attempt_id).outcome == CallOutcome.DIALING


def test_no_answer_from_twilio_decides_nothing(fake_twilio: FakeTwilioAPI) -> None:
    request = claimed(make_incident(make_tenant(phones=1)))
    call = overdue(request)
    fake_twilio.fail_with(503, 20500, "Service unavailable")

    call_check(request.attempt_id)

    call.refresh_from_db()
    assert (call.outcome, call.provider_sid) == (CallOutcome.DIALING, "")
