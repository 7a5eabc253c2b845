"""Writing the timeline: every fact on an incident is one appended event (DESIGN rule 10); incidents.timeline_reads
reads them back."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from incidents.milestone_times import milestone_times_record
from incidents.models import Channel, Incident, TimelineEvent
from mdrportal.core.users import User
from tenants.services import actor_label


def timeline_record(
    *,
    incident: Incident,
    kind: str,
    summary: str,
    by: User | None = None,
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
