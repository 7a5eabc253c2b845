"""Incidents, the action catalog, response actions, written authorizations and the timeline (the states of
incidents and actions, with their transitions, are in incidents.statuses)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from incidents.case_models import (  # re-exported: the case file's records, kept apart
    ActionObservable as ActionObservable,
    Message as Message,
    MessageSide as MessageSide,
    Note as Note,
    NoteVisibility as NoteVisibility,
    Observable as Observable,
    ObservableKind as ObservableKind,
)
from incidents.connector_models import (  # re-exported: the app's models, kept apart
    ConnectorConfig as ConnectorConfig,
    ConnectorKind as ConnectorKind,
)
from incidents.idempotency_models import (  # re-exported: kept apart
    IdempotencyKey as IdempotencyKey,
)
from incidents.milestone_fields import MILESTONE_COLUMNS, MilestoneTimes
from incidents.statuses import (  # re-exported: the states and their transitions, kept apart
    ACTION_TRANSITIONS as ACTION_TRANSITIONS,
    ACTIVE_INCIDENT_STATUSES as ACTIVE_INCIDENT_STATUSES,
    INCIDENT_TRANSITIONS as INCIDENT_TRANSITIONS,
    LAPSED_STATUSES as LAPSED_STATUSES,
    UNDECIDED_STATUSES as UNDECIDED_STATUSES,
    ActionStatus as ActionStatus,
    IncidentStatus as IncidentStatus,
)
from incidents.template_models import (  # re-exported: kept apart
    CaseTemplate as CaseTemplate,
    CaseTemplateAction as CaseTemplateAction,
)
from mdrportal.core.append_only import AppendOnlyModel
from tenants.models import Contact, IntegrationKey, Performer, Tenant


class Category(models.TextChoices):
    CONTAINMENT = "containment", "Containment"
    NEUTRALIZATION = "neutralization", "Neutralization"


class Severity(models.TextChoices):
    CRITICAL = "critical", "Critical"
    HIGH = "high", "High"
    MEDIUM = "medium", "Medium"
    LOW = "low", "Low"
    INFO = "info", "Informational"


SEVERITY_RANK = {s: rank for rank, s in enumerate(Severity.values)}


class Basis(models.TextChoices):
    AUTHORIZE_MODE = "authorize_mode", "Authorize mode"
    WRITTEN_AUTHORIZATION = "written_authorization", "Written authorization"
    NO_ACK_FALLBACK = "no_ack_fallback", "No acknowledgment: fallback to Authorize mode"


class Channel(models.TextChoices):
    SYSTEM = "system", "System"
    ADMIN = "admin", "Analyst (admin)"
    PORTAL = "portal", "Portal"
    EMAIL_LINK = "email_link", "Emailed link"
    PHONE = "phone", "Phone"
    SMS = "sms", "Text message"
    API = "api", "API"
    ANALYST_RECORDED = "analyst_recorded", "Recorded by an analyst from a written message"


class ActionType(models.Model):
    """One kind of response action in the catalog, such as isolating an endpoint."""

    code = models.SlugField(max_length=64, unique=True)
    name = models.CharField(max_length=120)
    category = models.CharField(max_length=16, choices=Category.choices)
    description = models.TextField(blank=True)
    revert = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="reverts_of",
        help_text="The action type that undoes this one, if it can be undone.",
    )

    class Meta:
        ordering = ["category", "name"]

    def __str__(self) -> str:
        return self.name


class Incident(MilestoneTimes):
    """A threat MDR Ops works for one tenant, with the tenant's policy as it was when it opened."""

    tenant = models.ForeignKey(Tenant, on_delete=models.PROTECT, related_name="incidents")
    title = models.CharField(max_length=200)
    severity = models.CharField(max_length=16, choices=Severity.choices, default=Severity.HIGH)
    summary = models.TextField(blank=True)
    observed_activity = models.TextField(blank=True)
    recommendations = models.TextField(blank=True)
    status = models.CharField(max_length=16, choices=IncidentStatus.choices, default=IncidentStatus.OPEN)
    needs_attention = models.BooleanField(default=False, help_text="Flagged for analysts.")
    attention_reason = models.TextField(
        blank=True, help_text="Why the incident was last flagged for analysts."
    )
    attention_since = models.DateTimeField(
        null=True, blank=True, help_text="Flagged since: the first flag since the last time it was cleared."
    )
    customer_responded_at = models.DateTimeField(
        null=True, blank=True, help_text="The customer wrote in the thread and MDR Ops has not answered yet."
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="The MDR analyst working the incident.",
    )
    policy = models.JSONField(
        help_text="The tenant's response policy when the incident opened (or was re-applied)."
    )
    fallback_taken_at = models.DateTimeField(
        null=True, blank=True, help_text="When the no-acknowledgment fallback was taken for this incident."
    )
    opened_at = models.DateTimeField(default=timezone.now, db_index=True)
    # Reports measure from detection: a pipeline may have seen the threat before the incident was opened.
    detected_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When the threat was detected, as the pipeline or the analyst gave it (at or before "
        "opening); empty: detected when opened.",
    )
    opened_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    opened_by_key = models.ForeignKey(
        IntegrationKey,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="The detection pipeline's integration key that opened it.",
    )

    class Meta:
        ordering = ["-opened_at", "-id"]
        # The lists read newest first in keyset pages (opened_at, id), for every tenant (MDR staff) or
        # one, filtered by status or severity.
        indexes = [
            models.Index(fields=["tenant", "status", "-opened_at"]),
            models.Index(fields=["-opened_at", "-id"], name="incident_newest_idx"),
            models.Index(fields=["tenant", "-opened_at", "-id"], name="incident_tenant_newest_idx"),
            models.Index(fields=["tenant", "severity", "-opened_at"], name="incident_tenant_severity_idx"),
            # A report reads a period's incidents of some tenants and only these columns: from the index
            # alone (PostgreSQL), not every tenant's rows of the period (the opened_at index) and their heap.
            models.Index(
                fields=["tenant", "opened_at"],
                include=["id", "severity", "status", "detected_at", "fallback_taken_at", *MILESTONE_COLUMNS],
                name="incident_report_idx",
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(detected_at__isnull=True) | Q(detected_at__lte=models.F("opened_at")),
                name="incident_detected_before_opened",
                violation_error_message="Detection cannot come after the incident was opened.",
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.title}"


class Authorization(AppendOnlyModel):
    """A customer's written decision on an exact set of actions: who, when, how, and the text they saw."""

    class Decision(models.TextChoices):
        GRANTED = "granted", "Granted"
        DECLINED = "declined", "Declined"

    incident = models.ForeignKey(Incident, on_delete=models.PROTECT, related_name="authorizations")
    decision = models.CharField(max_length=16, choices=Decision.choices)
    scope = models.JSONField(help_text="The exact actions decided on: id, action type and target of each.")
    contact = models.ForeignKey(Contact, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="The logged-in approver, for the portal and the API.",
    )
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="The analyst who recorded it.",
    )
    channel = models.CharField(max_length=20, choices=Channel.choices)
    at = models.DateTimeField(default=timezone.now)
    text_shown = models.TextField(help_text="The exact text the customer was shown and decided on.")
    statement = models.TextField(blank=True, help_text="The customer's own words.")
    evidence = models.TextField(blank=True, help_text="For analyst-recorded decisions: the written message.")
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=400, blank=True)

    class Meta:
        ordering = ["at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(contact__isnull=False) | Q(user__isnull=False), name="authorization_names_who"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_decision_display()} on incident #{self.incident_id}"


class ResponseAction(models.Model):
    """One proposed response action on one target, and where it stands."""

    incident = models.ForeignKey(Incident, on_delete=models.PROTECT, related_name="actions")
    action_type = models.ForeignKey(ActionType, on_delete=models.PROTECT, related_name="+")
    target = models.CharField(
        max_length=255, help_text="Endpoint, hash, address, domain or account acted on."
    )
    status = models.CharField(max_length=32, choices=ActionStatus.choices)
    performer = models.CharField(max_length=16, choices=Performer.choices, default=Performer.MDR)
    basis = models.CharField(max_length=32, choices=Basis.choices, blank=True)
    decision_reason = models.TextField(blank=True)
    authorization = models.ForeignKey(
        Authorization, null=True, blank=True, on_delete=models.PROTECT, related_name="actions"
    )
    reverts = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="reverted_by",
        help_text="The succeeded action this one undoes.",
    )
    next_attempt_at = models.DateTimeField(
        null=True, blank=True, help_text="When a queued action is due to run (retries wait here)."
    )
    proposed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    proposed_by_key = models.ForeignKey(
        IntegrationKey,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="The detection pipeline's integration key that proposed it.",
    )
    proposed_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)
    taken_over_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When an analyst decided that MDR Ops performs this task of the customer or partner "
        "(the gate then treats MDR Ops as its performer); who and why are on the timeline.",
    )

    class Meta:
        ordering = ["proposed_at", "id"]
        # Few actions await authorization at any time; the home page, the lists and approvals count them.
        indexes = [
            models.Index(
                fields=["incident"],
                condition=Q(status="awaiting_authorization"),
                name="action_awaiting_idx",
            )
        ]
        constraints = [
            models.CheckConstraint(
                condition=~Q(status__in=["queued", "running", "succeeded", "failed"]) | ~Q(basis=""),
                name="action_executes_only_with_basis",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.action_type.name} on {self.target}"


class CustomerTask(ResponseAction):
    """An action left to the customer's team or its partner, as MDR Ops follows it up in the admin."""

    class Meta:
        proxy = True
        verbose_name = "customer task"


class AttemptOutcome(models.TextChoices):
    SUCCEEDED = "succeeded", "Succeeded"
    TRANSIENT = "transient", "Failed, worth retrying"
    PERMANENT = "permanent", "Failed for good"
    LOST = "lost", "Lost: the worker stopped during the call"


class ActionAttempt(models.Model):
    """One claimed call to the tenant's platform for one action; the claim comes before the call."""

    action = models.ForeignKey(ResponseAction, on_delete=models.PROTECT, related_name="attempts")
    number = models.PositiveSmallIntegerField()
    connector = models.CharField(max_length=32)
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=16, choices=AttemptOutcome.choices, blank=True)
    message = models.TextField(blank=True)
    details = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["action", "number"]
        constraints = [models.UniqueConstraint(fields=["action", "number"], name="one_claim_per_attempt")]

    def __str__(self) -> str:
        return f"attempt {self.number} of action #{self.action_id}"


class EventKind(models.TextChoices):
    INCIDENT_OPENED = "incident_opened", "Incident opened"
    INCIDENT_STATUS = "incident_status", "Incident status changed"
    POLICY_REAPPLIED = "policy_reapplied", "Policy re-applied"
    ACTION_PROPOSED = "action_proposed", "Action proposed"
    ACTION_DECIDED = "action_decided", "Gate decision changed"
    AUTHORIZATION_REQUESTED = "authorization_requested", "Authorization requested"
    AUTHORIZATION_GIVEN = "authorization_given", "Authorization given"
    AUTHORIZATION_DECLINED = "authorization_declined", "Authorization declined"
    ACTION_QUEUED = "action_queued", "Action queued"
    ACTION_STARTED = "action_started", "Action started"
    ACTION_SUCCEEDED = "action_succeeded", "Action succeeded"
    ACTION_FAILED = "action_failed", "Action failed"
    ACTION_ATTEMPT_FAILED = "action_attempt_failed", "Action attempt failed"
    ACTION_REVERTED = "action_reverted", "Action reverted"
    ACTION_CANCELED = "action_canceled", "Action canceled"
    NOTIFICATION_STARTED = "notification_started", "Notification started"
    NOTIFICATION_SENT = "notification_sent", "Notification sent"
    NOTIFICATION_STOPPED = "notification_stopped", "Notification stopped"
    CALLS_EXHAUSTED = "calls_exhausted", "Every contact phoned, nobody acknowledged"
    CALL_ATTEMPT = "call_attempt", "Call attempt"
    ACKNOWLEDGED = "acknowledged", "Acknowledged"
    FALLBACK_TAKEN = "fallback_taken", "No-acknowledgment fallback taken"
    FLAGGED = "flagged", "Flagged to analysts"
    TASK_MARKED = "task_marked", "Task marked by the customer or partner"
    TASK_ACKNOWLEDGED = "task_acknowledged", "Task acknowledged by the partner"
    OWNER_CHANGED = "owner_changed", "Owner changed"
    CASE_EDITED = "case_edited", "Case file edited"
    NOTE_ADDED = "note_added", "Note for the customer"
    OBSERVABLE_ADDED = "observable_added", "Observable added"
    OBSERVABLE_LINKED = "observable_linked", "Observable linked to an action"
    TEMPLATE_APPLIED = "template_applied", "Case template applied"
    MESSAGE = "message", "Message in the thread"


class TimelineEvent(AppendOnlyModel):
    """One fact about an incident, written once and never changed."""

    incident = models.ForeignKey(Incident, on_delete=models.PROTECT, related_name="events")
    at = models.DateTimeField(default=timezone.now)
    kind = models.CharField(max_length=32, choices=EventKind.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    actor_label = models.CharField(max_length=150, help_text="Who: a user, a contact, or the system.")
    channel = models.CharField(max_length=20, choices=Channel.choices, default=Channel.SYSTEM)
    summary = models.TextField()
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["at", "id"]
        indexes = [
            models.Index(fields=["incident", "at", "id"]),
            # The first event of given kinds (a timeline's milestones), however many others it has.
            models.Index(fields=["incident", "kind", "at", "id"], name="event_incident_kind_at"),
        ]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.summary}"
