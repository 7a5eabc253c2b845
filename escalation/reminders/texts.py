"""Reminders by text message, to the contacts who chose SMS: a short form of the reminder, handed to the texts
(escalation.sms), which send it after commit and keep its delivery status."""

from __future__ import annotations

from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from escalation.models import TextKind
from escalation.reminders.models import (
    Reminder,
    ReminderChannel,
    ReminderKind,
    ReminderSeries,
)
from escalation.reminders.selectors import waiting_actions
from escalation.reminders.words import reminder_headline
from escalation.sms.send import text_claim, texts_allowed
from mdrportal.core.outbox import OutboxState
from tenants.models import Contact


def reminder_text_body(series: ReminderSeries, contact: Contact, number: int) -> str:
    incident = series.incident
    tenant = incident.tenant
    waiting = waiting_actions(series.kind).filter(incident=incident).count()
    headline = reminder_headline(series.kind, waiting, tenant.name)
    page = "incidents:approvals" if series.kind == ReminderKind.AUTHORIZATION else "incidents:tasks"
    return (
        f"MDR Ops reminder {number} for {tenant.name}, {incident.get_severity_display()} incident "
        f"#{incident.pk} ({incident.title}): {headline} {settings.PUBLIC_BASE_URL}{reverse(page)}"
    )


def reminder_text_claim(series: ReminderSeries, contact: Contact) -> Reminder | None:
    """The series' current reminder to the contact by text, once: None when the contact takes no texts or
    a repeated step already claimed it."""
    if not texts_allowed(contact):
        return None
    reminder, created = Reminder.objects.get_or_create(
        series=series,
        number=series.sent,
        contact=contact,
        channel=ReminderChannel.SMS,
        defaults={"to": contact.phone.as_e164},
    )
    if not created:
        return None
    body = reminder_text_body(series, contact, reminder.number)
    reminder.text = text_claim(contact=contact, incident=series.incident, kind=TextKind.REMINDER, body=body)
    reminder.state, reminder.sent_at = OutboxState.SENT, timezone.now()
    reminder.save(update_fields=["text", "state", "sent_at"])
    return reminder
