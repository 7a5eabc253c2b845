"""The states incidents and response actions go through, and the one table for each saying which may follow
which (part of the incidents app's vocabulary; incidents.models uses and exports them)."""

from __future__ import annotations

from django.db import models


class IncidentStatus(models.TextChoices):
    OPEN = "open", "Open"
    CONTAINED = "contained", "Contained"
    RESOLVED = "resolved", "Resolved"
    CLOSED = "closed", "Closed"


INCIDENT_TRANSITIONS: dict[str, frozenset[str]] = {
    IncidentStatus.OPEN: frozenset(
        {IncidentStatus.CONTAINED, IncidentStatus.RESOLVED, IncidentStatus.CLOSED}
    ),
    IncidentStatus.CONTAINED: frozenset(
        {IncidentStatus.OPEN, IncidentStatus.RESOLVED, IncidentStatus.CLOSED}
    ),
    IncidentStatus.RESOLVED: frozenset({IncidentStatus.OPEN, IncidentStatus.CLOSED}),
    IncidentStatus.CLOSED: frozenset({IncidentStatus.OPEN}),
}
# Only an active incident notifies, waits, falls back or executes (DESIGN rule 11).
ACTIVE_INCIDENT_STATUSES = frozenset({IncidentStatus.OPEN, IncidentStatus.CONTAINED})


class ActionStatus(models.TextChoices):
    AWAITING_AUTHORIZATION = "awaiting_authorization", "Awaiting written authorization"
    RECOMMENDED = "recommended", "Recommended to the customer or partner"
    HELD = "held", "Held: the gate could not decide"
    QUEUED = "queued", "Queued for execution"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    DECLINED = "declined", "Declined by the customer"
    CANCELED = "canceled", "Canceled"
    REVERTED = "reverted", "Reverted"
    # A recommendation is the customer's (or its partner's) task: they say whether they did it.
    DONE = "done", "Done by the customer or partner"
    NOT_DONE = "not_done", "Not done by the customer or partner"


# The one place that says which status may follow which.
ACTION_TRANSITIONS: dict[str, frozenset[str]] = {
    ActionStatus.AWAITING_AUTHORIZATION: frozenset(
        {
            ActionStatus.QUEUED,
            ActionStatus.DECLINED,
            ActionStatus.RECOMMENDED,
            ActionStatus.HELD,
            ActionStatus.CANCELED,
        }
    ),
    ActionStatus.RECOMMENDED: frozenset(
        {
            ActionStatus.AWAITING_AUTHORIZATION,
            ActionStatus.QUEUED,
            ActionStatus.HELD,
            ActionStatus.CANCELED,
            ActionStatus.DONE,
            ActionStatus.NOT_DONE,
        }
    ),
    ActionStatus.HELD: frozenset(
        {
            ActionStatus.AWAITING_AUTHORIZATION,
            ActionStatus.RECOMMENDED,
            ActionStatus.QUEUED,
            ActionStatus.CANCELED,
        }
    ),
    ActionStatus.QUEUED: frozenset(
        {
            ActionStatus.RUNNING,
            ActionStatus.AWAITING_AUTHORIZATION,
            ActionStatus.RECOMMENDED,
            ActionStatus.HELD,
            ActionStatus.CANCELED,
        }
    ),
    ActionStatus.RUNNING: frozenset({ActionStatus.SUCCEEDED, ActionStatus.FAILED, ActionStatus.QUEUED}),
    ActionStatus.SUCCEEDED: frozenset({ActionStatus.REVERTED}),
    ActionStatus.FAILED: frozenset(),
    ActionStatus.DECLINED: frozenset(),
    ActionStatus.CANCELED: frozenset(),
    ActionStatus.REVERTED: frozenset(),
    # Not done yet may still be done later, or taken over by MDR Ops (as the gate then says); done is the end.
    ActionStatus.NOT_DONE: frozenset(
        {
            ActionStatus.DONE,
            ActionStatus.CANCELED,
            ActionStatus.AWAITING_AUTHORIZATION,
            ActionStatus.QUEUED,
            ActionStatus.HELD,
        }
    ),
    ActionStatus.DONE: frozenset(),
}

# Statuses in which the gate's decision may still change the action's course.
UNDECIDED_STATUSES = frozenset(
    {ActionStatus.AWAITING_AUTHORIZATION, ActionStatus.RECOMMENDED, ActionStatus.HELD}
)

# An action in these statuses stands no more: refused, given up, failed or undone. The same action type on the
# same target may be proposed again; in any other status (waiting, queued, running, succeeded, with the
# customer, done) it is already there.
LAPSED_STATUSES = frozenset(
    {ActionStatus.DECLINED, ActionStatus.CANCELED, ActionStatus.FAILED, ActionStatus.REVERTED}
)
