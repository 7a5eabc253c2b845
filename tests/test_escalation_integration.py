"""The ransomware story end to end: a real Celery worker with its beat sweeper, a fake Twilio REST API and an
SMTP sink on 127.0.0.1. The test plays Twilio's part: it fetches the TwiML and posts signed callbacks.

Runs on whatever DATABASE_URL and CELERY_BROKER_URL say: PostgreSQL and Redis in CI.
"""

from __future__ import annotations

import re
import time

import pytest
from django.test import Client

from escalation.models import Acknowledgment, CallAttempt, CallOutcome, NotificationRun, RunPurpose, RunState
from escalation.runs.services import notification_start
from incidents.models import ActionStatus, Basis, EventKind, Incident, ResponseAction
from tenants.models import ResponseMode, Tier
from tests.factories import make_incident, make_tenant, propose
from tests.fakes.twilio import PUBLIC_BASE_URL, FakeTwilioAPI
from tests.worker import wait_for

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


@pytest.fixture
def worker_settings() -> dict[str, str]:
    return {"RENOTIFY_DELAY_MINUTES": "0", "RENOTIFY_ROUNDS": "1"}


def ringing_call(incident: Incident, sequence: int, purpose: str = RunPurpose.NOTIFY) -> CallAttempt:
    """Wait until the worker has placed call number `sequence` of the incident's run at the fake Twilio."""

    def placed() -> CallAttempt | None:
        return (
            CallAttempt.objects.filter(run__incident=incident, run__purpose=purpose, sequence=sequence)
            .exclude(provider_sid="")
            .order_by("-id")
            .first()
        )

    wait_for(placed, timeout=45, what=f"call {sequence} of {purpose} to be placed")
    return placed()


def dialed(twilio: FakeTwilioAPI, incident: Incident) -> list[str]:
    """The numbers the fake Twilio was asked to call for this incident, in order."""
    ids = set(CallAttempt.objects.filter(run__incident=incident).values_list("pk", flat=True))
    out = []
    for call in twilio.calls:
        attempt = int(re.search(r"/twilio/voice/(\d+)/", call.one("Url"))[1])
        if attempt in ids:
            out.append(call.one("To"))
    return out


def status_of(action: ResponseAction) -> str:
    return ResponseAction.objects.values_list("status", flat=True).get(pk=action.pk)


def story(incident: Incident) -> str:
    return "\n".join(f"  {e.kind}: {e.summary}" for e in incident.events.order_by("id"))


def wait_status(action: ResponseAction, status: str, timeout: float = 45) -> None:
    try:
        wait_for(lambda: status_of(action) == status, timeout=timeout, what=f"{action} to be {status}")
    except AssertionError as error:
        raise AssertionError(f"{error}; it is {status_of(action)}\n{story(action.incident)}") from None


def test_collaborate_with_the_checkbox_nobody_answers_so_containment_runs_once_and_the_customer_is_told(
    phone, twilio, smtp
) -> None:
    tenant = make_tenant(tier=Tier.ESSENTIALS, fallback=True, phones=2)
    incident = make_incident(tenant)
    isolate = propose(incident, "isolate_endpoint")
    clean = propose(incident, "clean_malware")
    notification_start(incident=incident, by=None)
    first = ringing_call(incident, 1)
    twiml = phone.voice(first).content.decode()
    assert 'numDigits="1"' in twiml and twiml.count("<Gather ") == 2 and "Goodbye" in twiml
    assert phone.status(first, "no-answer").status_code == 204
    assert phone.status(ringing_call(incident, 2), "busy").status_code == 204
    wait_status(isolate, ActionStatus.SUCCEEDED)
    isolate.refresh_from_db()
    assert isolate.basis == Basis.NO_ACK_FALLBACK and isolate.attempts.count() == 1
    assert status_of(clean) == ActionStatus.RECOMMENDED
    assert incident.events.filter(kind=EventKind.FALLBACK_TAKEN).count() == 1
    # The customer is told what was done: by email, and by a call round.
    wait_for(
        lambda: (
            any(
                "isolate" in m.get_body(("plain",)).get_content().lower()
                for m in smtp.to(tenant.contacts.first().email)
                if m is not None
            )
            and len(smtp.to(tenant.contacts.first().email)) >= 2
        ),
        what="the report email",
    )
    report_call = ringing_call(incident, 1, purpose=RunPurpose.REPORT)
    assert "isolat" in phone.voice(report_call).content.decode().lower()
    phone.status(report_call, "completed", AnsweredBy="human")
    assert dialed(twilio, incident)[:2] == [c.phone.as_e164 for c in tenant.contacts.order_by("call_order")]


def test_collaborate_second_contact_presses_1_then_the_emailed_link_authorizes(phone, twilio, smtp) -> None:
    tenant = make_tenant(fallback=True, phones=3)
    incident = make_incident(tenant)
    isolate = propose(incident, "isolate_endpoint")
    notification_start(incident=incident, by=None)
    phone.status(ringing_call(incident, 1), "no-answer")
    second = ringing_call(incident, 2)
    phone.voice(second, AnsweredBy="human")
    assert b"Acknowledged" in phone.press(second, "1").content
    phone.status(second, "completed", AnsweredBy="human")
    wait_for(
        lambda: (
            NotificationRun.objects.get(incident=incident, purpose=RunPurpose.NOTIFY).state
            == RunState.ACKNOWLEDGED
        ),
        what="the run to stop",
    )
    time.sleep(3)
    assert len(dialed(twilio, incident)) == 2  # no third call
    assert status_of(isolate) == ActionStatus.AWAITING_AUTHORIZATION  # pressing 1 authorizes nothing
    assert Acknowledgment.objects.get(incident=incident).channel == "phone"
    # The authorization link emailed to a contact who may authorize.
    address = tenant.contacts.order_by("call_order").first().email
    wait_for(lambda: smtp.to(address), what="the notification email")
    text = smtp.to(address)[0].get_body(("plain",)).get_content()
    links = re.findall(re.escape(PUBLIC_BASE_URL) + r"(/l/[^\s/]+/)", text)
    browser = Client()
    pages = {link: browser.get(link).content.decode() for link in links}
    authorize = next(link for link, page in pages.items() if "Authorize these actions" in page)
    assert "Isolate endpoint" in pages[authorize]
    shown = re.search(r'name="shown" value="([^"]+)"', pages[authorize])[1]
    form = {"decision": "confirm", "shown": shown, "statement": "Go ahead"}
    assert browser.post(authorize, form).status_code == 200
    wait_status(isolate, ActionStatus.SUCCEEDED)
    again = browser.post(authorize, form)
    assert again.status_code == 410
    assert ResponseAction.objects.get(pk=isolate.pk).attempts.count() == 1
    assert incident.authorizations.count() == 1


def test_collaborate_without_the_checkbox_nobody_answers_nothing_runs_flagged_and_renotified(
    phone, twilio
) -> None:
    incident = make_incident(make_tenant(phones=1))
    isolate = propose(incident, "isolate_endpoint")
    notification_start(incident=incident, by=None)
    phone.status(ringing_call(incident, 1), "no-answer")
    wait_for(lambda: NotificationRun.objects.filter(incident=incident, round=2).exists(), what="round 2")
    second_round = NotificationRun.objects.get(incident=incident, round=2)
    wait_for(lambda: second_round.calls.exclude(provider_sid="").exists(), what="round 2's call")
    phone.status(second_round.calls.get(), "no-answer")
    wait_for(
        lambda: NotificationRun.objects.get(pk=second_round.pk).state == RunState.EXHAUSTED,
        what="round 2 to end",
    )
    incident.refresh_from_db()
    assert incident.needs_attention and incident.fallback_taken_at is None
    assert status_of(isolate) == ActionStatus.AWAITING_AUTHORIZATION
    assert not isolate.attempts.exists()
    assert len(dialed(twilio, incident)) == 2


def test_authorize_on_essentials_contains_at_once_recommends_neutralization_and_tells_the_customer(
    phone, smtp
) -> None:
    tenant = make_tenant(tier=Tier.ESSENTIALS, mode=ResponseMode.AUTHORIZE, phones=1)
    incident = make_incident(tenant)
    isolate = propose(incident, "isolate_endpoint")
    clean = propose(incident, "clean_malware")
    wait_status(isolate, ActionStatus.SUCCEEDED)
    assert status_of(clean) == ActionStatus.RECOMMENDED
    notification_start(incident=incident, by=None)
    address = tenant.contacts.first().email
    wait_for(lambda: smtp.to(address), what="the email telling what was done")
    text = smtp.to(address)[0].get_body(("plain",)).get_content()
    assert "Isolate endpoint" in text and "Clean and remove malware" in text
    phone.status(ringing_call(incident, 1), "completed", AnsweredBy="human")


def test_a_worker_killed_mid_tree_finishes_it_without_calling_anyone_twice_for_one_step(
    worker, phone, twilio
) -> None:
    tenant = make_tenant(phones=3)
    incident = make_incident(tenant)
    notification_start(incident=incident, by=None)
    first = ringing_call(incident, 1)
    worker.kill()
    phone.status(first, "no-answer")  # arrives while no worker runs: the nudge waits in the broker
    worker.start()
    phone.status(ringing_call(incident, 2), "no-answer")
    phone.status(ringing_call(incident, 3), "no-answer")
    wait_for(
        lambda: NotificationRun.objects.get(incident=incident, round=1).state == RunState.EXHAUSTED,
        what="the tree to finish",
    )
    numbers = dialed(twilio, incident)
    expected = [c.phone.as_e164 for c in tenant.contacts.order_by("call_order")]
    assert numbers[:3] == expected
    run = NotificationRun.objects.get(incident=incident, round=1)
    assert run.calls.count() == 3


def test_a_forged_callback_is_refused_and_changes_nothing(phone) -> None:
    incident = make_incident(make_tenant(phones=1))
    notification_start(incident=incident, by=None)
    call = ringing_call(incident, 1)
    forged = phone.post(
        f"/twilio/status/{call.pk}/",
        phone.params(call, CallStatus="completed"),
        signature="bm90IGEgc2lnbmF0dXJl",
    )
    assert forged.status_code == 403
    unsigned = phone.post(f"/twilio/gather/{call.pk}/", phone.params(call, Digits="1"), signature="")
    assert unsigned.status_code == 403
    call.refresh_from_db()
    assert call.outcome == CallOutcome.DIALING
    assert not Acknowledgment.objects.filter(incident=incident).exists()
    phone.status(call, "no-answer")
