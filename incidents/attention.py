"""The incident's flag for analysts ("needs attention"): raised with its reason, which the timeline also keeps."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from incidents.models import Channel, EventKind, Incident
from incidents.timeline_writes import timeline_record
from mdrportal.core.users import User


@transaction.atomic
def incident_flag(
    *, incident: Incident, reason: str, by: User | None = None, channel: str = Channel.SYSTEM
) -> None:
    """Flag the incident for analysts ("needs attention") and say why on the timeline."""
    now = timezone.now()
    # Since when: the first flag since the last clear; the reason: the latest one.
    Incident.objects.filter(pk=incident.pk, attention_since__isnull=True).update(attention_since=now)
    Incident.objects.filter(pk=incident.pk).update(needs_attention=True, attention_reason=reason)
    incident.needs_attention, incident.attention_reason = True, reason
    incident.attention_since = incident.attention_since or now
    timeline_record(incident=incident, kind=EventKind.FLAGGED, summary=reason, by=by, channel=channel)
