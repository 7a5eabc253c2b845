"""Sending: once per row whatever the deliveries, failures recorded and never retried, stuck sends closed."""

from __future__ import annotations

import email
import socket
from datetime import timedelta

import pytest
from django.core import mail
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from escalation.emails.send import email_send, emails_fail_interrupted
from escalation.emails.services import emails_claim
from escalation.models import EmailNotification, NotificationRun
from incidents.models import Channel, EventKind, Incident, TimelineEvent
from mdrportal.core.outbox import INTERRUPTED, OutboxState
from tests.factories import make_incident, make_tenant, propose

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def locmem_mail(settings) -> None:
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"


def claimed(phones: int = 1) -> tuple[Incident, list[EmailNotification]]:
    incident = make_incident(make_tenant(phones=phones))
    propose(incident, "isolate_endpoint")
    with transaction.atomic():
        run = NotificationRun.objects.create(incident=incident)
        return incident, emails_claim(run)


def sent_events(incident: Incident) -> QuerySet[TimelineEvent]:
    return incident.events.filter(kind=EventKind.NOTIFICATION_SENT)


def test_a_sent_email_is_recorded_with_a_timeline_event_naming_recipient_and_subject() -> None:
    incident, (row,) = claimed()
    assert email_send(row.pk) == OutboxState.SENT
    row.refresh_from_db()
    assert row.state == OutboxState.SENT and row.sent_at is not None and row.error == ""
    (message,) = mail.outbox
    assert row.subject == message.subject and message.to == [row.to]
    event = sent_events(incident).get()
    assert event.channel == Channel.SYSTEM
    assert row.to in event.summary and row.subject in event.summary
    assert event.data["to"] == row.to and event.data["subject"] == row.subject
    assert event.data["outcome"] == "sent" and event.data["links"]["ack"] is True


def test_duplicate_deliveries_of_the_send_task_send_once() -> None:
    incident, (row,) = claimed()
    outcomes = [email_send(row.pk) for _ in range(3)]
    assert outcomes == [OutboxState.SENT, "", ""]
    assert len(mail.outbox) == 1
    assert sent_events(incident).count() == 1


def test_the_send_task_runs_the_service() -> None:
    from escalation.tasks import email_send

    _, (row,) = claimed()
    email_send.apply(args=[row.pk])  # the task as a worker runs it, without a broker
    email_send.apply(args=[row.pk])
    assert len(mail.outbox) == 1


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_an_smtp_failure_is_recorded_as_failed_with_an_event_and_not_retried(settings) -> None:
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", closed_port(), 2
    settings.EMAIL_USE_TLS = False
    incident, (row,) = claimed()
    assert email_send(row.pk) == OutboxState.FAILED
    row.refresh_from_db()
    assert row.state == OutboxState.FAILED and row.sent_at is None
    assert "refused" in row.error.lower() or "errno" in row.error.lower()
    event = sent_events(incident).get()
    assert event.data["outcome"] == "failed" and event.data["error"] == row.error
    assert "could not be sent" in event.summary and row.to in event.summary
    # At most once: a later delivery of the task does not try again.
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    assert email_send(row.pk) == ""
    assert mail.outbox == []
    assert sent_events(incident).count() == 1


def test_a_send_stuck_past_ten_minutes_is_failed_as_interrupted_and_never_resent() -> None:
    incident, (stuck, recent) = claimed(phones=2)
    long_ago, just_now = timezone.now() - timedelta(minutes=11), timezone.now() - timedelta(minutes=2)
    EmailNotification.objects.filter(pk=stuck.pk).update(state=OutboxState.SENDING, claimed_at=long_ago)
    EmailNotification.objects.filter(pk=recent.pk).update(state=OutboxState.SENDING, claimed_at=just_now)
    assert emails_fail_interrupted() == 1
    assert emails_fail_interrupted() == 0
    stuck.refresh_from_db()
    recent.refresh_from_db()
    assert (stuck.state, stuck.error) == (OutboxState.FAILED, INTERRUPTED)
    assert recent.state == OutboxState.SENDING
    event = sent_events(incident).get()
    assert "may or may not have been delivered" in event.summary and event.data["error"] == INTERRUPTED
    assert email_send(stuck.pk) == ""
    assert mail.outbox == []


def test_a_long_wait_in_claimed_is_not_taken_for_a_stuck_send() -> None:
    """The clock of a stuck send starts when sending starts, not when the row was claimed."""
    _, (row,) = claimed()
    EmailNotification.objects.filter(pk=row.pk).update(claimed_at=timezone.now() - timedelta(hours=1))
    assert email_send(row.pk) == OutboxState.SENT
    assert emails_fail_interrupted() == 0


def test_the_embedded_backend_prints_and_writes_one_eml_file_per_message(settings, tmp_path, capsys) -> None:
    settings.EMAIL_BACKEND = "mdrportal.mail_backend.ConsoleAndFileBackend"
    settings.EMAIL_FILE_PATH = str(tmp_path / "mail")
    _, rows = claimed(phones=2)
    for row in rows:
        email_send(row.pk)
    files = sorted((tmp_path / "mail").glob("*.eml"))
    assert len(files) == 2
    parsed = [email.message_from_bytes(path.read_bytes()) for path in files]
    assert sorted(m["To"] for m in parsed) == sorted(r.to for r in rows)
    assert all(m.is_multipart() for m in parsed)
    assert not list((tmp_path / "mail").glob(".*"))  # no half-written leftovers
    assert capsys.readouterr().out.count("Subject: ") == 2
