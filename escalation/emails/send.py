"""Emails through the outbox (mdrportal.core.outbox): notification emails and the thread's alike.

The outbox claims the row and records it; this channel composes the email when it is sent (fresh links,
actions as they stand), hands it to the mail server and tells the incident's timeline what became of it.
"""

from __future__ import annotations

from typing import Any

from escalation.emails.services import SENDER_LABEL, email_compose, mail_hand_over
from escalation.emails.thread import thread_compose
from escalation.message_events import message_told
from escalation.models import EmailNotification
from incidents.locks import incident_lock
from mdrportal.core import task_names
from mdrportal.core.outbox import (
    INTERRUPTED,
    Delivered,
    NotDelivered,
    OutboxChannel,
    OutboxState,
    outbox_fail_stuck,
    outbox_send,
)


class EmailChannel(OutboxChannel):
    """Emails: composed at send time, handed to the mail server, told on the incident's timeline."""

    model = EmailNotification
    task = task_names.EMAIL_SEND
    # Everything the composing and the telling read, in one query.
    related = (
        "run__incident__tenant__partner",
        "contact",
        "user",
        "message__incident__tenant",
        "message__author",
    )

    def lock(self, item: EmailNotification) -> None:
        incident_lock(item.incident_id)  # it writes the timeline: the incident's lock first

    def deliver(self, item: EmailNotification) -> Delivered:
        try:
            composed = thread_compose(item) if item.message_id else email_compose(item)
        except Exception as error:  # noqa: BLE001 - whatever broke, the row must not stay "sending"
            raise NotDelivered(f"could not compose the email: {error!r}") from error
        # Kept before the hand-over, so that an interrupted send still says what it was.
        EmailNotification.objects.filter(pk=item.pk, state=OutboxState.SENDING).update(
            subject=composed.subject
        )
        item.subject = composed.subject
        mail_hand_over(
            subject=composed.subject,
            text=composed.text,
            html=composed.html,
            to=item.to,
            incident_id=item.incident_id,
        )
        return Delivered(facts={"links": {"ack": composed.ack, "authorize": composed.authorize_scope}})

    def tell(self, item: EmailNotification, facts: dict[str, Any]) -> None:
        who = f"{item.recipient} <{item.to}>"
        if item.state == OutboxState.SENT:
            summary = f"Email sent to {who}: {item.subject}"
        elif item.error == INTERRUPTED:
            summary = (
                f"Email to {who} was interrupted while being sent: it may or may not have been delivered, and "
                "is not sent again."
            )
            facts = {**facts, "error": item.error}
        else:
            summary = f"Email to {who} could not be sent: {item.error}"
            facts = {**facts, "error": item.error}
        message_told(
            item,
            incident=item.incident,
            summary=summary,
            sender=SENDER_LABEL,
            email=item.pk,
            run=item.run_id,
            message=item.message_id,
            kind=item.kind,
            subject=item.subject,
            **facts,
        )


EMAILS = EmailChannel()


def email_send(email_id: int) -> str:
    """Send one claimed email, at most once. Returns its state, or "" when another delivery had it."""
    return outbox_send(EMAILS, email_id)


def emails_fail_interrupted(*, batch: int = 200) -> int:
    """Fail the emails whose sender died mid-send, without sending them again. Returns how many."""
    return outbox_fail_stuck(EMAILS, batch=batch)
