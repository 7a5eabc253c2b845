"""An incident's full record, as its PDF prints it: every event, its actions, the written authorizations with
their exact texts and statements, and each fallback with the call attempts that prove it."""

from __future__ import annotations

from typing import Any

from incidents.milestones import detected_at, milestones, timeline_actions
from incidents.models import EventKind, Incident
from incidents.selectors import incident_timeline
from incidents.timeline_reads import milestone_events


def incident_record(incident: Incident) -> dict[str, Any]:
    actions = list(timeline_actions(incident))
    events = list(incident_timeline(incident))
    return {
        "incident": incident,
        "detected": detected_at(incident),
        "milestones": milestones(incident, milestone_events(incident, actions), actions),
        "actions": actions,
        "authorizations": list(
            incident.authorizations.select_related("contact", "user", "recorded_by").order_by("at", "id")
        ),
        "fallbacks": [e for e in events if e.kind == EventKind.FALLBACK_TAKEN],
        "events": events,
    }
