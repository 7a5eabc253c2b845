"""When an incident can be acknowledged: whenever calls can still come, which is every active status.

One rule for every channel that acknowledges: the portal's pages, the API (through the acknowledgment
service, which refuses an inactive incident), the calls and texts that ask for a 1, and the emailed link.
"""

from __future__ import annotations

from django.db.models import Q

from incidents.models import ACTIVE_INCIDENT_STATUSES, Incident

# Calls, texts and reminders go out while the incident is open or contained (DESIGN rule 11): so long as
# they may come, the person they reach can say "we have it".
ACKNOWLEDGEABLE_STATUSES = ACTIVE_INCIDENT_STATUSES


def incident_acknowledgeable(incident: Incident) -> bool:
    return incident.status in ACKNOWLEDGEABLE_STATUSES


def acknowledgeable() -> Q:
    """The incidents that can be acknowledged, as a filter on Incident."""
    return Q(status__in=ACKNOWLEDGEABLE_STATUSES)
