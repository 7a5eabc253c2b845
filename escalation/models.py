"""Notification runs (call trees and emails), call attempts, emails sent, acknowledgments and used links."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from escalation.partners.models import (  # re-exported: the app's models, kept apart
    TaskAcknowledgment as TaskAcknowledgment,
)
from escalation.reminders.models import (  # re-exported: the app's models, kept apart
    Reminder as Reminder,
    ReminderSeries as ReminderSeries,
)
from incidents.models import Channel, Incident, Message, ResponseAction
from mdrportal.core.append_only import AppendOnlyModel
from mdrportal.core.outbox import OutboxItem
from tenants.models import Contact, Tenant


class RunPurpose(models.TextChoices):
    NOTIFY = "notify", "Notify and ask for acknowledgment"
    REPORT = "report", "Tell the customer what was done"
    ACKNOWLEDGED = "acknowledged", "Tell the others who acknowledged"
    CLOSED = "closed", "Tell the customer the incident is over"
    PARTNER_TASK = "partner_task", "Phone the partner's people about its task"


# Runs that only tell people something (emails and texts, no calls): they end with their first step.
TELLING_PURPOSES = frozenset({RunPurpose.ACKNOWLEDGED, RunPurpose.CLOSED})
# Runs that reach the partner's own people about one of its tasks (escalation.partners): acknowledging one
# acknowledges that task only; the customer's acknowledgment and fallback neither stop nor read them.
PARTNER_PURPOSES = frozenset({RunPurpose.PARTNER_TASK})


class RunState(models.TextChoices):
    ACTIVE = "active", "Active"
    ACKNOWLEDGED = "acknowledged", "Acknowledged"
    EXHAUSTED = "exhausted", "Every contact tried, nobody acknowledged"
    COMPLETED = "completed", "Completed"
    CANCELED = "canceled", "Canceled"


RUN_TRANSITIONS: dict[str, frozenset[str]] = {
    RunState.ACTIVE: frozenset(
        {RunState.ACKNOWLEDGED, RunState.EXHAUSTED, RunState.COMPLETED, RunState.CANCELED}
    ),
    RunState.ACKNOWLEDGED: frozenset(),
    RunState.EXHAUSTED: frozenset(),
    RunState.COMPLETED: frozenset(),
    RunState.CANCELED: frozenset(),
}


class NotificationRun(models.Model):
    """One round of notifying a tenant's contacts about an incident: emails, then the call tree."""

    incident = models.ForeignKey(Incident, on_delete=models.PROTECT, related_name="notification_runs")
    purpose = models.CharField(max_length=16, choices=RunPurpose.choices, default=RunPurpose.NOTIFY)
    round = models.PositiveSmallIntegerField(default=1)
    state = models.CharField(max_length=16, choices=RunState.choices, default=RunState.ACTIVE)
    # The call plan fixed when the run starts: [{"contact": id, "try": n}, ...] in the order they are called.
    # None while a round scheduled for later waits: its plan is made when it comes due.
    plan: models.JSONField[list[dict[str, int]] | None, list[dict[str, int]] | None] = models.JSONField(
        default=list, null=True, blank=True
    )
    # The contacts with a phone left out of the plan, unavailable when it was made (away, outside their
    # hours): [{"contact": id, "name": ..., "why": ...}, ...]. Frozen with the plan.
    unavailable = models.JSONField(default=list, blank=True)
    ring_timeout_seconds = models.PositiveSmallIntegerField(default=30)
    next_step_at = models.DateTimeField(default=timezone.now, db_index=True)
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # What the run tells the customer about, fixed when it starts: an action told once is not told again
    # by the automatic notifications (DESIGN rule 12).
    actions = models.ManyToManyField(ResponseAction, blank=True, related_name="notification_runs")
    # A partner's task whose people this run phones (purpose partner_task); none for the customer's runs.
    task = models.ForeignKey(
        ResponseAction, null=True, blank=True, on_delete=models.PROTECT, related_name="partner_runs"
    )

    class Meta:
        ordering = ["started_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["incident", "purpose", "round"], name="one_run_per_round"),
            models.UniqueConstraint(
                fields=["task"], condition=Q(task__isnull=False), name="one_partner_run_per_task"
            ),
            models.CheckConstraint(
                condition=Q(purpose="partner_task", task__isnull=False) | ~Q(purpose="partner_task"),
                name="partner_run_names_its_task",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_purpose_display()} round {self.round} for incident #{self.incident_id}"

    @property
    def planned_steps(self) -> list[dict[str, int]]:
        """The plan's steps, once it is made: a round scheduled for later has none until it comes due."""
        if self.plan is None:
            raise ValueError(f"run #{self.pk} has no plan yet: it is made when the round comes due")
        return self.plan

    @property
    def partner_task_id(self) -> int:
        """The task a partner's run phones about: every partner's run names one (partner_run_names_its_task)."""
        if self.task_id is None:
            raise ValueError(f"run #{self.pk} is no partner's run: it names no task")
        return self.task_id


class CallOutcome(models.TextChoices):
    QUEUED = "queued", "Waiting for a call slot"
    DIALING = "dialing", "Placed, not ended yet"
    ACKNOWLEDGED = "acknowledged", "Answered and pressed 1"
    NO_KEY = "no_key", "Answered, no key pressed"
    VOICEMAIL = "voicemail", "Voicemail or answering machine"
    BUSY = "busy", "Busy"
    NO_ANSWER = "no_answer", "No answer"
    FAILED = "failed", "Failed"
    CANCELED = "canceled", "Canceled"


OPEN_CALL_OUTCOMES = frozenset({CallOutcome.QUEUED, CallOutcome.DIALING})
# DESIGN rule 5: the provider accepted the call and the carrier rang. Only these count toward the fallback;
# a call refused, never placed, reported failed by the carrier or canceled by us reached nobody.
ATTEMPT_OUTCOMES = frozenset(
    {
        CallOutcome.ACKNOWLEDGED,
        CallOutcome.NO_KEY,
        CallOutcome.VOICEMAIL,
        CallOutcome.BUSY,
        CallOutcome.NO_ANSWER,
    }
)
# A step of the plan whose call reached nobody is owed: it is dialed again, with a new row, after a backoff.
UNREACHED_OUTCOMES = frozenset({CallOutcome.FAILED, CallOutcome.CANCELED})


class CallAttempt(models.Model):
    """One phone call to one contact, in a run or as a test call; the row is claimed before it is placed."""

    # No run: a test call an admin placed from the contacts page; it is about no incident.
    run = models.ForeignKey(
        NotificationRun, null=True, blank=True, on_delete=models.PROTECT, related_name="calls"
    )
    tested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    contact = models.ForeignKey(Contact, on_delete=models.PROTECT, related_name="+")
    try_number = models.PositiveSmallIntegerField()
    sequence = models.PositiveSmallIntegerField(
        help_text="This call's place in its run: 1 for the first call."
    )
    severity_rank = models.PositiveSmallIntegerField(help_text="0 for critical: lower is phoned first.")
    to = models.CharField(max_length=32, help_text="The number dialed, in E.164.")
    outcome = models.CharField(max_length=16, choices=CallOutcome.choices, default=CallOutcome.QUEUED)
    backend = models.CharField(max_length=16, blank=True)
    provider_sid = models.CharField(max_length=64, blank=True, db_index=True)
    provider_status = models.CharField(max_length=32, blank=True, help_text="The provider's last status.")
    answered_by = models.CharField(max_length=32, blank=True)
    error = models.CharField(
        max_length=500, blank=True, help_text="Why the call reached nobody, if it did not."
    )
    queued_at = models.DateTimeField(default=timezone.now)
    placed_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["run", "sequence"]
        constraints = [
            # A try that reached nobody is dialed again as a new row; a try has one call that rang, at most.
            models.UniqueConstraint(
                fields=["run", "contact", "try_number"],
                condition=~Q(outcome__in=["failed", "canceled"]),
                name="one_live_call_per_try",
            ),
            models.CheckConstraint(
                condition=Q(run__isnull=False, tested_by__isnull=True)
                | Q(run__isnull=True, tested_by__isnull=False),
                name="call_in_a_run_or_a_test",
            ),
            models.UniqueConstraint(
                fields=["contact"],
                condition=Q(run__isnull=True, outcome__in=["queued", "dialing"]),
                name="one_test_call_in_flight_per_contact",
            ),
        ]
        indexes = [models.Index(fields=["outcome", "severity_rank", "sequence", "queued_at"])]

    def __str__(self) -> str:
        if self.is_test:
            return f"test call to {self.contact}"
        return f"call {self.sequence} of run #{self.run_id} to {self.contact}"

    @property
    def is_test(self) -> bool:
        return self.run_id is None

    @property
    def in_run(self) -> NotificationRun:
        """The run the call is of; a test call is of none."""
        if self.run is None:
            raise ValueError(f"call #{self.pk} is a test call: it is of no run")
        return self.run

    @property
    def tested_tenant(self) -> Tenant:
        """The tenant a test call is for: test_call_place phones a customer's contacts only."""
        if self.contact.tenant is None:
            raise ValueError(f"call #{self.pk} is to a contact of no tenant")
        return self.contact.tenant


class EmailKind(models.TextChoices):
    NOTIFY = "notify", "Notification"
    REPORT = "report", "What was done"
    ACKNOWLEDGED = "acknowledged", "Who acknowledged"
    CLOSED = "closed", "Summary at the end"
    THREAD = "thread", "Message in the thread"


class EmailNotification(OutboxItem):
    """One email to one contact in a run, or to one address about a message of the thread; the row is
    claimed before the email is sent."""

    run = models.ForeignKey(
        NotificationRun, null=True, blank=True, on_delete=models.PROTECT, related_name="emails"
    )
    # No run: the email carries a message of the thread to the other side (a contact, the incident's owner
    # or, with neither, the MDR queue's address).
    message = models.ForeignKey(
        Message, null=True, blank=True, on_delete=models.PROTECT, related_name="emails"
    )
    contact = models.ForeignKey(Contact, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    to = models.EmailField()
    kind = models.CharField(max_length=16, choices=EmailKind.choices)
    subject = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["run", "id"]
        constraints = [
            models.UniqueConstraint(fields=["run", "contact"], name="one_email_per_contact_per_run"),
            models.UniqueConstraint(
                fields=["message", "to"],
                condition=Q(message__isnull=False),
                name="one_email_per_address_per_message",
            ),
            models.CheckConstraint(
                condition=Q(run__isnull=False, contact__isnull=False, message__isnull=True)
                | Q(run__isnull=True, message__isnull=False),
                name="email_of_a_run_or_a_message",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} email to {self.to}"

    def _about(self) -> NotificationRun | Message:
        """The run the email is of or, for the thread's, its message: one of them (email_of_a_run_or_a_message)."""
        about = self.run if self.run is not None else self.message
        if about is None:
            raise ValueError(f"email #{self.pk} is of no run and no message")
        return about

    @property
    def incident_id(self) -> int:
        return self._about().incident_id

    @property
    def incident(self) -> Incident:
        return self._about().incident

    @property
    def recipient(self) -> str:
        """Whom the email went to, as the timeline names them."""
        if self.contact is not None:
            return self.contact.name
        if self.user is not None:
            return self.user.get_full_name() or self.user.get_username()
        return "the MDR queue"


class Acknowledgment(AppendOnlyModel):
    """A contact or user said 'we have it': by pressing 1, by the emailed link, or in the portal or API."""

    incident = models.ForeignKey(Incident, on_delete=models.PROTECT, related_name="acknowledgments")
    contact = models.ForeignKey(Contact, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    channel = models.CharField(max_length=20, choices=Channel.choices)
    call = models.ForeignKey(CallAttempt, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(contact__isnull=False) | Q(user__isnull=False), name="ack_names_who"
            ),
        ]

    def __str__(self) -> str:
        return f"acknowledged incident #{self.incident_id} by {self.get_channel_display()}"


class UsedLink(AppendOnlyModel):
    """A signed email link that has been used; its nonce can never be used again."""

    nonce = models.CharField(max_length=64, unique=True)
    purpose = models.CharField(max_length=16)
    used_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.purpose} link used at {self.used_at:%Y-%m-%d %H:%M}"


class CallPace(models.Model):
    """The call pacer's state when the database (not Redis) paces calls: when the next slot is free
    (escalation.calls.pace). Times in microseconds since the epoch."""

    name = models.CharField(max_length=32, unique=True)
    # The theoretical arrival time of the next call (GCRA).
    tat = models.BigIntegerField(default=0)
    # The latest grants, newest first, as many as the calls per second: the window's count.
    recent = models.JSONField(default=list)
    # The slot a dispatcher was sent to come back for: one waker per slot.
    woken_for = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"call pace {self.name}"


class TextKind(models.TextChoices):
    NOTIFY = "notify", "Notification"
    REMINDER = "reminder", "Reminder"
    ACKNOWLEDGED = "acknowledged", "Who acknowledged"
    CLOSED = "closed", "Summary at the end"
    PARTNER_TASK = "partner_task", "Partner's task"


class TextMessage(OutboxItem):
    """One text message (SMS) to one contact about an incident; the row is claimed before it is sent."""

    incident = models.ForeignKey(Incident, on_delete=models.PROTECT, related_name="texts")
    # The notification run that sent it, if any: a reminder is about the incident, not a run.
    run = models.ForeignKey(
        NotificationRun, null=True, blank=True, on_delete=models.PROTECT, related_name="texts"
    )
    contact = models.ForeignKey(Contact, on_delete=models.PROTECT, related_name="+")
    to = models.CharField(max_length=32, help_text="The number texted, in E.164.")
    kind = models.CharField(max_length=16, choices=TextKind.choices)
    body = models.TextField()
    backend = models.CharField(max_length=16, blank=True)
    reply_code = models.CharField(
        max_length=8,
        blank=True,
        help_text='A text that invites a reply: the code that names its alert ("1 4821" acknowledges it).',
    )
    code_freed_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When the code stopped naming an open alert of this row (the alert closed, or the row repeats "
        "the code of an earlier text about the same alert); until then no other text to the number holds it.",
    )

    class Meta:
        ordering = ["claimed_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["run", "contact"],
                condition=Q(run__isnull=False),
                name="one_text_per_contact_per_run",
            ),
            # A reply "1 4821" names one alert: a code is held by one text per number at a time.
            models.UniqueConstraint(
                fields=["to", "reply_code"],
                condition=~Q(reply_code="") & Q(code_freed_at__isnull=True),
                name="one_held_reply_code_per_number",
            ),
        ]
        indexes = [models.Index(fields=["to", "state", "sent_at"])]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} text to {self.to}"
