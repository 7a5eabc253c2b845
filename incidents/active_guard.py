"""The guard every decision on an incident passes: a resolved or closed incident takes none (DESIGN rule 11)."""

from __future__ import annotations

from django.core.exceptions import ValidationError

from incidents.models import ACTIVE_INCIDENT_STATUSES, Incident


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
