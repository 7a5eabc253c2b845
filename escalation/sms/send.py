"""Sending texts: a row is claimed inside the caller's transaction, a task sends it after commit, at most once.

`sms_send` is the one way in: notification runs and reminders call it, and it texts only a contact who chose
SMS, has a phone number and has not replied STOP. A text that fails is recorded on the row and the timeline;
it is no call attempt (DESIGN rule 5) and ends nothing: the call tree and the emails go on without it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from escalation.models import NotificationRun, TextMessage, TextStatus
from escalation.sms.base import SmsError, TextRequest
from escalation.sms.codes import text_create_coded
from escalation.sms.registry import sms_backend
from incidents.locks import incident_lock
from incidents.models import Channel, EventKind, Incident
from incidents.timeline_writes import timeline_record
from mdrportal.core.nudges import nudge
from mdrportal.core.retry import retried_atomic
from tenants.channels import ContactChannel, wants
from tenants.models import Contact

log = logging.getLogger(__name__)

# A row still "sending" after this long belongs to a worker that died while handing it over.
SENDING_TIMEOUT = timedelta(minutes=5)
# A claimed text whose nudge was lost is nudged again by the sweeper after this long.
UNSENT_RENUDGE = timedelta(seconds=30)
INTERRUPTED = "interrupted; may or may not have been delivered"
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


def sms_send(
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
    nudge_text(text.pk)
    return text


def nudge_text(text_id: int) -> None:
    """Ask a worker to send the text once this transaction commits; a lost nudge waits for the sweeper."""
    nudge("escalation.text_send", text_id)


@retried_atomic
def _claim(text_id: int) -> TextMessage | None:
    """Of any number of deliveries of the task, exactly one moves the row from claimed to sending."""
    incident_id = TextMessage.objects.filter(pk=text_id).values_list("incident_id", flat=True).first()
    if incident_id is None:
        return None
    incident_lock(incident_id)  # it may write the timeline: the incident's lock first (incidents.locks)
    text = (
        TextMessage.objects.select_for_update(of=("self",), no_key=True)
        .select_related("contact", "incident")
        .filter(pk=text_id)
        .first()
    )
    if text is None or text.status != TextStatus.CLAIMED:
        return None
    if text.contact.sms_opted_out_at is not None:
        # STOP came between the claim and the send: nothing goes to the contact.
        _finish(text, TextStatus.CANCELED, error="the contact replied STOP before the text went")
        return None
    text.status, text.claimed_at = TextStatus.SENDING, timezone.now()
    text.save(update_fields=["status", "claimed_at"])
    return text


def text_send(text_id: int) -> str:
    """Send one claimed text, at most once. Returns the status, or "" when there was nothing to send.

    Must run outside any transaction: the provider is called between the claim and the record.
    """
    text = _claim(text_id)
    if text is None:
        return ""
    backend = sms_backend()
    try:
        sent = backend.send(TextRequest(text_id=text.pk, to=text.to, body=text.body))
    except SmsError as error:
        # Not retried, on purpose: the provider may have taken it before the error reached us. The failure is
        # on the timeline; the calls and emails still reach the contact.
        log.warning("text %s to %s failed: %s", text.pk, text.to, error)
        _record(text, TextStatus.FAILED, backend=backend.name, error=str(error))
        return TextStatus.FAILED
    _record(text, TextStatus.SENT, backend=backend.name, sid=sent.sid)
    return TextStatus.SENT


@retried_atomic
def _record(text: TextMessage, status: str, *, backend: str, sid: str = "", error: str = "") -> None:
    incident_lock(text.incident_id)
    changes: dict[str, object] = {
        "status": status,
        "backend": backend,
        "provider_sid": sid[:64],
        "error": error[:500],
    }
    if status == TextStatus.SENT:
        changes["sent_at"] = timezone.now()
    if TextMessage.objects.filter(pk=text.pk, status=TextStatus.SENDING).update(**changes) != 1:
        # Only the sweeper moves a "sending" row, after SENDING_TIMEOUT: it already told the timeline.
        log.warning("text %s was no longer sending when its %s outcome came", text.pk, status)
        return
    for name, value in changes.items():
        setattr(text, name, value)
    _tell_timeline(text)


def _finish(text: TextMessage, status: str, *, error: str) -> None:
    text.status, text.error = status, error[:500]
    text.save(update_fields=["status", "error"])
    _tell_timeline(text)


def _tell_timeline(text: TextMessage) -> None:
    who = f"{text.contact.name} ({text.to})"
    if text.status == TextStatus.SENT:
        summary = f"Text ({text.get_kind_display().lower()}) sent to {who}."
    elif text.status == TextStatus.CANCELED:
        summary = f"Text to {who} not sent: {text.error}."
    else:
        summary = f"Text to {who} could not be sent: {text.error} ({NOT_AN_ATTEMPT}; nothing else changes)."
    timeline_record(
        incident=text.incident,
        kind=EventKind.NOTIFICATION_SENT,
        summary=summary,
        label=SENDER_LABEL,
        channel=Channel.SYSTEM,
        data={
            "text": text.pk,
            "run": text.run_id,
            "kind": text.kind,
            "contact": text.contact_id,
            "to": text.to,
            "outcome": text.status,
            "provider_sid": text.provider_sid,
            "error": text.error,
        },
    )


def texts_unsent(*, batch: int) -> list[int]:
    """Claimed texts whose nudge seems lost, for the sweeper."""
    return list(
        TextMessage.objects.filter(status=TextStatus.CLAIMED, claimed_at__lt=timezone.now() - UNSENT_RENUDGE)
        .order_by("pk")
        .values_list("pk", flat=True)[:batch]
    )


def texts_fail_interrupted(*, older_than: timedelta = SENDING_TIMEOUT) -> int:
    """Mark texts stuck in "sending" (their worker died mid-send) as failed, without sending them again."""
    cutoff = timezone.now() - older_than
    failed = 0
    for text_id in TextMessage.objects.filter(status=TextStatus.SENDING, claimed_at__lt=cutoff).values_list(
        "pk", flat=True
    ):
        with transaction.atomic():
            incident_lock(TextMessage.objects.values_list("incident_id", flat=True).get(pk=text_id))
            text = (
                TextMessage.objects.select_for_update(of=("self",), no_key=True)
                .select_related("contact", "incident")
                .filter(pk=text_id, status=TextStatus.SENDING, claimed_at__lt=cutoff)
                .first()
            )
            if text is None:
                continue
            _finish(text, TextStatus.FAILED, error=INTERRUPTED)
            failed += 1
    return failed
