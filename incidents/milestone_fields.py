"""When each milestone a report measures first happened on an incident, kept on the incident as it happens
(incidents.milestone_times writes them with the event that records the milestone, in its transaction)."""

from __future__ import annotations

from django.db import models

MILESTONE_COLUMNS = ["first_acknowledged_at", "first_decided_at", "first_contained_at", "first_resolved_at"]


class MilestoneTimes(models.Model):
    """The first time of each measured milestone; empty until it happens. Reopening keeps them: "first"."""

    first_acknowledged_at = models.DateTimeField(
        null=True, blank=True, editable=False, help_text="The first acknowledgment, by any channel."
    )
    first_decided_at = models.DateTimeField(
        null=True,
        blank=True,
        editable=False,
        help_text="The first written decision (authorization given or declined) or the fallback taken.",
    )
    first_contained_at = models.DateTimeField(
        null=True,
        blank=True,
        editable=False,
        help_text="The first containment action that succeeded (not one that undoes containment).",
    )
    first_resolved_at = models.DateTimeField(
        null=True, blank=True, editable=False, help_text="The first move to resolved or closed."
    )

    class Meta:
        abstract = True
