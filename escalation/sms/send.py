"""Texts through the outbox (mdrportal.core.outbox): a row is claimed inside the caller's transaction, a task
sends it after commit, at most once.

`text_claim` is the one way in: notification runs and reminders call it, and it texts only a contact who chose
SMS, has a phone number and has not replied STOP. A text that fails is recorded on the row and the timeline;
it is no call attempt (DESIGN rule 5) and ends nothing: the call tree and the emails go on without it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from escalation.message_events import message_told
from escalation.models import NotificationRun, TextMessage
from escalation.sms.base import SmsError, TextRequest
from escalation.sms.codes import text_create_coded
from escalation.sms.registry import sms_backend
from incidents.locks import incident_lock
from incidents.models import Incident
from mdrportal.core import task_names
from mdrportal.core.outbox import (
    Delivered,
    NotDelivered,
    OutboxChannel,
    OutboxState,
    outbox_nudge,
    outbox_send,
)
from tenants.channels import ContactChannel, wants
from tenants.models import Contact

SENDER_LABEL = "MDR Ops texts"
# Twilio takes up to 1,600 characters; a text this long is split into ten segments already.
MAX_BODY_CHARS = 1600
NOT_AN_ATTEMPT = "a text is no call attempt"

# What a text says: the words, or for a text that invites a reply, the words made from its reply code.
TextBody = str | Callable[[str], str]


def texts_allowed(contact: Contact) -> bool:
    """The contact chose SMS, is active, has a phone number and has not replied STOP."""
    return (
        contact.active
        and bool(contact.phone)
        and wants(contact, ContactChannel.SMS)
        and contact.sms_opted_out_at is None
    )


def text_claim(
    *, contact: Contact, incident: Incident, kind: str, body: TextBody, run: NotificationRun | None = None
) -> TextMessage | None:
    """Text the contact about the incident, if they take texts: the row is claimed now and a worker sends it
    once the caller's transaction commits. None when the contact gets no text.

    A text that invites a reply gives its body as a function of its reply code: the code is chosen here.
    """
    if not texts_allowed(contact):
        return None
    if callable(body):
        write = body
        text = text_create_coded(
            contact=contact,
            incident=incident,
            write=lambda code: write(code)[:MAX_BODY_CHARS],
            run=run,
            kind=kind,
        )
    else:
        text = TextMessage.objects.create(
            incident=incident,
            run=run,
            contact=contact,
            to=contact.phone.as_e164,
            kind=kind,
            body=body[:MAX_BODY_CHARS],
        )
    outbox_nudge(TEXTS, text.pk)
    return text


class TextChannel(OutboxChannel):
    """Texts: handed to the SMS provider as written when claimed, told on the incident's timeline."""

    model = TextMessage
    task = task_names.TEXT_SEND
    related = ("contact", "incident")

    def lock(self, item: TextMessage) -> None:
        incident_lock(item.incident_id)  # it writes the timeline: the incident's lock first (incidents.locks)

    def cancel_reason(self, item: TextMessage) -> str:
        if item.contact.sms_opted_out_at is not None:
            return "the contact replied STOP before the text went"  # nothing goes to the contact
        return ""

    def deliver(self, item: TextMessage) -> Delivered:
        backend = sms_backend()
        try:
            sent = backend.send(TextRequest(text_id=item.pk, to=item.to, body=item.body))
        except SmsError as error:
            # A failed text is no call attempt: the calls and emails still reach the contact.
            raise NotDelivered(str(error)[:500], fields={"backend": backend.name}) from error
        return Delivered(provider_id=sent.sid, fields={"backend": backend.name})

    def tell(self, item: TextMessage, facts: dict[str, Any]) -> None:
        who = f"{item.contact.name} ({item.to})"
        if item.state == OutboxState.SENT:
            summary = f"Text ({item.get_kind_display().lower()}) sent to {who}."
        elif item.state == OutboxState.CANCELED:
            summary = f"Text to {who} not sent: {item.error}."
        else:
            summary = (
                f"Text to {who} could not be sent: {item.error} ({NOT_AN_ATTEMPT}; nothing else changes)."
            )
        message_told(
            item,
            incident=item.incident,
            summary=summary,
            sender=SENDER_LABEL,
            text=item.pk,
            run=item.run_id,
            kind=item.kind,
            provider_sid=item.provider_id,
            error=item.error,
        )


TEXTS = TextChannel()


def text_send(text_id: int) -> str:
    """Send one claimed text, at most once. Returns its state, or "" when there was nothing to send (another
    delivery had it, or the contact stopped texts since the claim)."""
    state = outbox_send(TEXTS, text_id)
    return "" if state == OutboxState.CANCELED else state
