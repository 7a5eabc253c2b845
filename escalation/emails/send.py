"""Sending a claimed email, once, and recording what became of it: notification emails and the thread's alike.

email_send takes a row from claimed to sending with a conditional UPDATE that must change exactly one row,
composes the message, hands it to the mail server outside any transaction and records sent or failed, each
with a timeline event.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.utils import timezone

from escalation.emails.services import SENDER_LABEL, ComposedEmail, email_compose
from escalation.emails.thread import thread_compose
from escalation.models import EmailNotification, EmailOutcome
from incidents.locks import incident_lock
from incidents.models import Channel, EventKind
from incidents.timeline_writes import timeline_record
from mdrportal.core.retry import retried_atomic

log = logging.getLogger(__name__)

# A row still "sending" after this long belongs to a worker that died while handing it over.
SENDING_TIMEOUT = timedelta(minutes=10)
INTERRUPTED = "interrupted; may or may not have been delivered"
# Everything the composing and the recording read, in one query.
WITH_ALL = (
    "run__incident__tenant__partner",
    "contact",
    "user",
    "message__incident__tenant",
    "message__author",
)


def email_send(email_id: int) -> str:
    """Send one claimed email, at most once. Returns the outcome, or "" when another delivery had it.

    Must run outside any transaction: the mail server is called between the claim and the record.
    """
    now = timezone.now()
    # The claim: of any number of deliveries of this task, exactly one moves the row to sending.
    # claimed_at is reset to the moment sending starts, from which the sweeper measures a stuck send.
    taken = EmailNotification.objects.filter(pk=email_id, outcome=EmailOutcome.CLAIMED).update(
        outcome=EmailOutcome.SENDING, claimed_at=now
    )
    if taken != 1:
        return ""
    email = EmailNotification.objects.select_related(*WITH_ALL).get(pk=email_id)
    try:
        composed = thread_compose(email) if email.message_id else email_compose(email)
    except Exception as error:  # noqa: BLE001 - whatever broke, the row must not stay "sending"
        log.exception("could not compose email %s", email_id)
        _record(email, EmailOutcome.FAILED, subject="", error=f"could not compose the email: {error!r}")
        return EmailOutcome.FAILED
    # Kept before the hand-over, so that an interrupted send still says what it was.
    EmailNotification.objects.filter(pk=email_id, outcome=EmailOutcome.SENDING).update(
        subject=composed.subject
    )
    message = EmailMultiAlternatives(
        subject=composed.subject,
        body=composed.text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[email.to],
        headers={"Auto-Submitted": "auto-generated", "X-MDR-Incident": str(email.incident_id)},
    )
    message.attach_alternative(composed.html, "text/html")
    try:
        message.send(fail_silently=False)
    except Exception as error:  # noqa: BLE001 - SMTP, network or backend errors alike end as failed
        # Not retried, on purpose: at most once. The server may have taken the message before the error
        # reached us (a timeout after DATA), so a retry could deliver it twice; the failure is on the
        # timeline for an analyst, and the call tree and later rounds still reach the customer.
        log.warning("email %s to %s failed: %s", email_id, email.to, error)
        _record(email, EmailOutcome.FAILED, subject=composed.subject, error=str(error) or repr(error))
        return EmailOutcome.FAILED
    _record(email, EmailOutcome.SENT, subject=composed.subject, composed=composed)
    return EmailOutcome.SENT


@retried_atomic
def _record(
    email: EmailNotification,
    outcome: str,
    *,
    subject: str,
    error: str = "",
    composed: ComposedEmail | None = None,
) -> None:
    incident_lock(email.incident_id)  # it writes the timeline: the incident's lock first
    changes: dict[str, object] = {"outcome": outcome, "subject": subject[:300], "error": error}
    if outcome == EmailOutcome.SENT:
        changes["sent_at"] = timezone.now()
    changed = EmailNotification.objects.filter(pk=email.pk, outcome=EmailOutcome.SENDING).update(**changes)
    if changed != 1:
        # Only the sweeper moves a "sending" row, after SENDING_TIMEOUT: it already told the timeline.
        log.warning("email %s was no longer sending when its %s outcome came", email.pk, outcome)
        return
    if outcome == EmailOutcome.SENT:
        assert composed is not None
        links = {"ack": composed.ack, "authorize": composed.authorize_scope}
        summary = f"Email sent to {email.recipient} <{email.to}>: {subject}"
        _tell_timeline(email, summary, outcome, subject, links=links)
    else:
        summary = f"Email to {email.recipient} <{email.to}> could not be sent: {error}"
        _tell_timeline(email, summary, outcome, subject, error=error)


def _tell_timeline(
    email: EmailNotification, summary: str, outcome: str, subject: str, **more: object
) -> None:
    """The email's outcome on its incident's timeline, with the email's particulars."""
    timeline_record(
        incident=email.incident,
        kind=EventKind.NOTIFICATION_SENT,
        summary=summary,
        label=SENDER_LABEL,
        channel=Channel.SYSTEM,
        data={
            "email": email.pk,
            "run": email.run_id,
            "message": email.message_id,
            "kind": email.kind,
            "contact": email.contact_id,
            "to": email.to,
            "subject": subject,
            "outcome": outcome,
            **more,
        },
    )


def emails_fail_interrupted(*, older_than: timedelta = SENDING_TIMEOUT) -> int:
    """Mark emails stuck in "sending" (their worker died mid-send) as failed, without sending them again.

    Whether the server got the message is unknown; sending again could deliver it twice. Returns how many.
    """
    cutoff = timezone.now() - older_than
    stuck = list(
        EmailNotification.objects.filter(outcome=EmailOutcome.SENDING, claimed_at__lt=cutoff)
        .select_related(*WITH_ALL)
        .order_by("pk")
    )
    failed = 0
    for email in stuck:
        with transaction.atomic():
            incident_lock(email.incident_id)
            changed = EmailNotification.objects.filter(
                pk=email.pk, outcome=EmailOutcome.SENDING, claimed_at__lt=cutoff
            ).update(outcome=EmailOutcome.FAILED, error=INTERRUPTED)
            if changed != 1:
                continue
            failed += 1
            summary = (
                f"Email to {email.recipient} <{email.to}> was interrupted while being sent: it may or may "
                "not have been delivered, and is not sent again."
            )
            _tell_timeline(email, summary, EmailOutcome.FAILED, email.subject, error=INTERRUPTED)
    return failed
