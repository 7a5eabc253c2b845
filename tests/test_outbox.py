"""The outbox itself: one claim among concurrent senders, a stuck send failed and told, a lost nudge resent once,
each on the timeouts named in settings and used by the sweep."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.core import mail
from django.db import transaction
from django.utils import timezone

from escalation.emails.send import EMAILS
from escalation.emails.services import emails_claim
from escalation.models import EmailNotification, NotificationRun, TextMessage
from escalation.sms.send import text_claim, text_send
from escalation.sweep import escalation_sweep
from escalation.tasks import email_send as email_send_task
from incidents.models import EventKind, Incident
from mdrportal.celery import app
from mdrportal.core.outbox import INTERRUPTED, OutboxState, outbox_send
from tenants.services import contact_update
from tests.factories import make_incident, make_tenant, propose
from tests.threads import Holding, Running, wait_until, waiting_for_locks


@pytest.fixture(autouse=True)
def locmem_mail(settings: Any) -> None:
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"


def claimed_email() -> tuple[Incident, EmailNotification]:
    incident = make_incident(make_tenant(phones=1))
    propose(incident, "isolate_endpoint")
    with transaction.atomic():
        (email,) = emails_claim(NotificationRun.objects.create(incident=incident))
    return incident, email


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_of_two_concurrent_senders_exactly_one_claims_the_row_and_sends() -> None:
    incident, email = claimed_email()
    # The row locked elsewhere: both senders' claims wait at the same row, then go together.
    with Holding(lambda: EmailNotification.objects.select_for_update().get(pk=email.pk)):
        senders = [Running(lambda: outbox_send(EMAILS, email.pk)) for _ in range(2)]
        for sender in senders:
            sender.start()
        wait_until(lambda: waiting_for_locks() >= 2, what="both claims wait for the row")

    assert sorted(str(sender.outcome()) for sender in senders) == ["", OutboxState.SENT]
    assert len(mail.outbox) == 1
    email.refresh_from_db()
    assert email.state == OutboxState.SENT
    assert incident.events.filter(kind=EventKind.NOTIFICATION_SENT, data__email=email.pk).count() == 1


@pytest.mark.django_db
def test_the_sweep_fails_a_send_stuck_past_the_setting_with_a_timeline_event_and_never_resends_it(
    settings: Any,
) -> None:
    settings.OUTBOX_STUCK_AFTER = timedelta(minutes=3)
    tenant = make_tenant(phones=1)
    contact = tenant.contacts.get()
    contact_update(contact=contact, by=None, channels=["sms"])
    incident = make_incident(tenant)
    stuck = text_claim(contact=contact, incident=incident, kind="reminder", body="Reminder")
    recent = text_claim(contact=contact, incident=make_incident(tenant), kind="reminder", body="Reminder")
    assert stuck is not None and recent is not None
    TextMessage.objects.filter(pk=stuck.pk).update(
        state=OutboxState.SENDING, claimed_at=timezone.now() - timedelta(minutes=4)
    )
    TextMessage.objects.filter(pk=recent.pk).update(
        state=OutboxState.SENDING, claimed_at=timezone.now() - timedelta(minutes=2)
    )

    escalation_sweep()
    escalation_sweep()

    stuck.refresh_from_db()
    assert (stuck.state, stuck.error) == (OutboxState.FAILED, INTERRUPTED)
    assert TextMessage.objects.get(pk=recent.pk).state == OutboxState.SENDING
    (event,) = incident.events.filter(kind=EventKind.NOTIFICATION_SENT, data__text=stuck.pk)
    assert (
        event.data["outcome"] == OutboxState.FAILED and "may or may not have been delivered" in event.summary
    )
    assert text_send(stuck.pk) == ""  # never sent again


@pytest.mark.django_db
def test_a_claimed_row_whose_nudge_was_lost_is_nudged_by_the_sweep_once_and_sent_once(
    settings: Any, monkeypatch: pytest.MonkeyPatch, django_capture_on_commit_callbacks: Any
) -> None:
    # The worker, in this process: an email's nudge runs its task as a worker would (the sweep's other
    # nudges, about the incident's run, are not this test's).
    sent: list[str] = []

    def work(name: str, args: list[Any] | None = None, **options: Any) -> None:
        sent.append(name)
        if name == EMAILS.task:
            email_send_task.apply(args=args)

    monkeypatch.setattr(app, "send_task", work)
    _, email = claimed_email()  # its own nudge is lost: this test commits nothing
    EmailNotification.objects.filter(pk=email.pk).update(claimed_at=timezone.now() - timedelta(seconds=20))
    settings.OUTBOX_RESEND_UNSENT_AFTER = timedelta(seconds=30)
    with django_capture_on_commit_callbacks(execute=True):
        assert escalation_sweep()["emails"] == 0  # its nudge may still be on its way

    settings.OUTBOX_RESEND_UNSENT_AFTER = timedelta(seconds=10)
    for _ in range(2):
        with django_capture_on_commit_callbacks(execute=True):
            escalation_sweep()

    assert sent.count("escalation.email_send") == 1
    assert len(mail.outbox) == 1
    email.refresh_from_db()
    assert email.state == OutboxState.SENT
