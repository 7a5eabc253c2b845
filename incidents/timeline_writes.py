"""Writing the timeline: every fact on an incident is one appended event (DESIGN rule 10); incidents.timeline_reads
reads them back."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AbstractBaseUser

from incidents.models import Channel, Incident, TimelineEvent
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
) -> TimelineEvent:
    """Append one fact to the incident's timeline."""
    return TimelineEvent.objects.create(
        incident=incident,
        kind=kind,
        summary=summary,
        actor=by,
        actor_label=label or actor_label(by),
        channel=channel,
        data=data or {},
    )
