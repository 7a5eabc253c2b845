"""The writes every other service of incidents makes: the timeline, the incident's flag (under its lock)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from incidents.milestone_times import milestone_times_record
from incidents.models import ACTIVE_INCIDENT_STATUSES, Channel, EventKind, Incident, TimelineEvent
from mdrportal.core.nudges import nudge
from tenants.services import actor_label

User = AbstractBaseUser | None


def timeline_record(
    *,
    incident: Incident,
    kind: str,
    summary: str,
    by: User = None,
    label: str | None = None,
    channel: str = Channel.SYSTEM,
    data: dict[str, Any] | None = None,
    at: datetime | None = None,
) -> TimelineEvent:
    """Append one fact to the incident's timeline (at: when it happened, if not now), and keep the time of
    the milestone it records, if any, on the incident in the same transaction."""
    with transaction.atomic(savepoint=False):
        event = TimelineEvent.objects.create(
            incident=incident,
            kind=kind,
            summary=summary,
            actor=by,
            actor_label=label or actor_label(by),
            channel=channel,
            data=data or {},
            at=at or timezone.now(),
        )
        milestone_times_record(incident, event)
    return event


def incident_must_be_active(incident: Incident, *, what: str) -> None:
    """Refuse a decision on a resolved or closed incident (DESIGN rule 11)."""
    if incident.status not in ACTIVE_INCIDENT_STATUSES:
        raise IncidentClosed(
            f"Incident #{incident.pk} is {incident.get_status_display().lower()}: {what} is no longer possible."
        )


class IncidentClosed(ValidationError):
    """A decision, link or claim on an incident that is resolved or closed."""

    def __init__(self, message: str) -> None:
        super().__init__(message, code="incident_closed")


@transaction.atomic
def incident_flag(*, incident: Incident, reason: str, by: User = None, channel: str = Channel.SYSTEM) -> None:
    """Flag the incident for analysts ("needs attention") and say why on the timeline."""
    now = timezone.now()
    # Since when: the first flag since the last clear; the reason: the latest one.
    Incident.objects.filter(pk=incident.pk, attention_since__isnull=True).update(attention_since=now)
    Incident.objects.filter(pk=incident.pk).update(needs_attention=True, attention_reason=reason)
    incident.needs_attention, incident.attention_reason = True, reason
    incident.attention_since = incident.attention_since or now
    timeline_record(incident=incident, kind=EventKind.FLAGGED, summary=reason, by=by, channel=channel)


def nudge_customer(incident: Incident) -> None:
    """After commit, see whether the customer must now be told something (DESIGN rule 12)."""
    nudge("escalation.customer_tell", incident.pk)
