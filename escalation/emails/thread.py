"""The thread's messages by email: each message is emailed to the other side once it is committed.

A message from MDR Ops goes to the customer's active contacts who take email; a customer's message goes to
the incident's owner or, when it has none (or the owner has no address), to the MDR queue's address. The
rows are claimed in the transaction that posts the message, so a message rolled back emails nobody, and each
is sent once by its own task (escalation.emails.send). An email carries no signed link: a message, and its
email, authorize nothing. Internal notes are not messages and are never emailed.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.template.loader import render_to_string
from django.urls import reverse

from escalation.emails.services import ComposedEmail, contacts_by_email, nudge_email
from escalation.models import EmailKind, EmailNotification
from incidents.models import Channel, Incident, Message, MessageSide
from incidents.thread import message_post
from mdrportal.core.retry import retried_atomic
from mdrportal.core.users import User
from tenants.models import Contact
from tenants.selectors import tenant_contacts


@dataclass(frozen=True)
class ThreadRecipient:
    """One address a message is emailed to, and who is behind it (a contact, a user, or neither: the queue)."""

    to: str
    contact: Contact | None = None
    user: User | None = None


@retried_atomic
def thread_message_send(
    *, incident: Incident, body: str, side: str, by: User, channel: str = Channel.PORTAL
) -> Message:
    """Post a message to the thread and claim its emails to the other side, in one transaction."""
    message = message_post(incident=incident, body=body, side=side, by=by, channel=channel)
    thread_emails_claim(message)
    return message


def thread_recipients(message: Message) -> list[ThreadRecipient]:
    """Who hears of a message: the other side of the thread."""
    incident = message.incident
    if message.side == MessageSide.MDR:
        return [
            ThreadRecipient(to=c.email, contact=c)
            for c in contacts_by_email(tenant_contacts(incident.tenant))
        ]
    owner = incident.owner
    if owner is not None and owner.is_active and owner.email:
        return [ThreadRecipient(to=owner.email, user=owner)]
    return [ThreadRecipient(to=settings.MDR_QUEUE_EMAIL)]


def thread_emails_claim(message: Message) -> list[EmailNotification]:
    """Claim one email per address for the message (a repeated claim claims nobody twice); each is sent by
    its own task once the transaction commits."""
    already = set(EmailNotification.objects.filter(message=message).values_list("to", flat=True))
    claimed = []
    for recipient in thread_recipients(message):
        if recipient.to in already:
            continue
        already.add(recipient.to)
        email = EmailNotification.objects.create(
            message=message,
            contact=recipient.contact,
            user=recipient.user,
            to=recipient.to,
            kind=EmailKind.THREAD,
        )
        nudge_email(email.pk)
        claimed.append(email)
    return claimed


def thread_compose(email: EmailNotification) -> ComposedEmail:
    """The message as its email tells it: who wrote what, where to answer, and that it authorizes nothing."""
    message = email.message
    assert message is not None
    incident = message.incident
    to_customer = message.side == MessageSide.MDR
    where = (
        reverse("incidents:detail", args=[incident.pk])
        if to_customer
        else reverse("admin:incidents_incident_change", args=[incident.pk])
    )
    author = message.author.get_full_name() or message.author.get_username()
    context = {
        "message": message,
        "incident": incident,
        "tenant": incident.tenant,
        "recipient": email.recipient,
        "author": f"{author} (MDR Ops)" if to_customer else f"{author} ({incident.tenant.name})",
        "thread_url": settings.PUBLIC_BASE_URL + where,
        "to_customer": to_customer,
    }
    sender = "MDR Ops" if to_customer else author
    subject = (
        f"[{incident.get_severity_display()}] {incident.tenant.name}: message from {sender}: "
        f"{incident.title} (incident #{incident.pk})"
    )
    return ComposedEmail(
        subject=" ".join(subject.split())[:300],
        text=render_to_string("email/thread.txt", context),
        html=render_to_string("email/thread.html", context),
    )
