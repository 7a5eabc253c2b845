"""Reminders: what an incident still waits for from the customer or its partner, and each reminder sent."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils import timezone

from incidents.models import Incident
from mdrportal.core.outbox import OutboxItem
from tenants.models import Contact


class ReminderKind(models.TextChoices):
    AUTHORIZATION = "authorization", "Written authorization awaited after an acknowledgment"
    CUSTOMER_TASK = "customer_task", "Tasks of the customer's team"
    PARTNER_TASK = "partner_task", "Tasks of the partner"


class SeriesState(models.TextChoices):
    ACTIVE = "active", "Reminding"
    FLAGGED = "flagged", "Every reminder sent, flagged to analysts"
    ENDED = "ended", "Nothing awaits any more"


SERIES_TRANSITIONS: dict[str, frozenset[str]] = {
    SeriesState.ACTIVE: frozenset({SeriesState.FLAGGED, SeriesState.ENDED}),
    SeriesState.FLAGGED: frozenset({SeriesState.ENDED}),
    SeriesState.ENDED: frozenset(),
}
# While a series is active or flagged, no other of its kind starts for the incident.
OPEN_SERIES_STATES = (SeriesState.ACTIVE, SeriesState.FLAGGED)


class ReminderSeries(models.Model):
    """The reminders about one kind of thing an incident waits for, from the first one to the flag."""

    incident = models.ForeignKey(Incident, on_delete=models.PROTECT, related_name="reminder_series")
    kind = models.CharField(max_length=16, choices=ReminderKind.choices)
    state = models.CharField(max_length=16, choices=SeriesState.choices, default=SeriesState.ACTIVE)
    sent = models.PositiveSmallIntegerField(default=0, help_text="Reminders sent so far.")
    started_at = models.DateTimeField(default=timezone.now)
    next_at = models.DateTimeField(db_index=True, help_text="When the next reminder (or the flag) is due.")
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["started_at", "id"]
        verbose_name_plural = "reminder series"
        constraints = [
            models.UniqueConstraint(
                fields=["incident", "kind"],
                condition=Q(state__in=["active", "flagged"]),
                name="one_open_reminder_series_per_kind",
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} reminders for incident #{self.incident_id}"


class ReminderChannel(models.TextChoices):
    EMAIL = "email", "Email"
    SMS = "sms", "Text message"


class Reminder(OutboxItem):
    """One reminder to one contact through one channel; the row is claimed before it is sent."""

    series = models.ForeignKey(ReminderSeries, on_delete=models.PROTECT, related_name="reminders")
    number = models.PositiveSmallIntegerField(help_text="1 for the series' first reminder.")
    contact = models.ForeignKey(Contact, on_delete=models.PROTECT, related_name="+")
    channel = models.CharField(max_length=16, choices=ReminderChannel.choices)
    to = models.CharField(max_length=254)
    subject = models.CharField(max_length=300, blank=True)
    text = models.OneToOneField(
        "escalation.TextMessage",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="reminder",
        help_text="A reminder by text: the message that carries it (its status says whether it was delivered).",
    )

    class Meta:
        ordering = ["series", "number", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["series", "number", "contact", "channel"], name="one_reminder_per_contact_and_channel"
            )
        ]

    def __str__(self) -> str:
        return f"reminder {self.number} to {self.to}"
