"""Row locks, and the one order every transaction takes them in.

The order (DESIGN, "One lock order"):

    incident  ->  run  ->  call                        (notification: steps, claims, callbacks, stops)
    incident  ->  action  ->  attempt                  (proposals, decisions, execution, customer tasks)
    incident  ->  reminder series / email / text       (reminders, emails and texts that write the timeline)

Whatever writes an incident's timeline or its flag, or moves anything that belongs to one incident, holds the
incident's lock first. The incident's lock serialises every writer of that incident, so the order among the
rows below it (two actions of one incident, a run and its calls) can never close a cycle; a transaction that
locked a row below an incident never takes the incident's lock afterwards. A transaction holds the locks of
one incident only; a sweeper that visits several incidents takes each in a transaction of its own, or skips
what another holds (`skip_locked`).

Every lock is FOR NO KEY UPDATE (`select_for_update(no_key=True)`), because no service changes a row's key.
Django creates PostgreSQL's foreign keys DEFERRABLE INITIALLY DEFERRED: inserting a timeline row, an attempt
or a call checks the row it points to at COMMIT, with `SELECT 1 ... FOR KEY SHARE`, after every lock of the
order was taken and so outside any order. FOR KEY SHARE waits for FOR UPDATE, never for FOR NO KEY UPDATE nor
for an UPDATE that changes no key: with no-key locks the checks at commit wait for nobody (only deleting a
row, or changing its key, still makes them wait; no service does either to a row others lock). The test
tests/test_lock_order.py reads the source and holds every path to this order.

The rows of the notification layer are locked beside their models, in the same order:
`escalation.runs.states.run_lock` and `escalation.calls.records.call_lock`.
"""

from __future__ import annotations

from collections.abc import Collection

from django.db.models import QuerySet

from incidents.models import ActionAttempt, Incident, ResponseAction


def incident_lock(incident_id: int) -> Incident:
    """Lock the incident's row, with its tenant: every write about the incident holds it first."""
    return (
        Incident.objects.select_for_update(of=("self",), no_key=True)
        .select_related("tenant")
        .get(pk=incident_id)
    )


def incident_lock_if_free(incident_id: int) -> Incident | None:
    """The incident's lock for a sweeper: None when another transaction holds it (that one moves things on)."""
    return (
        Incident.objects.select_for_update(of=("self",), no_key=True, skip_locked=True)
        .select_related("tenant")
        .filter(pk=incident_id)
        .first()
    )


def action_lock(action_id: int) -> ResponseAction:
    """Lock the action's incident, then the action; the action comes back with the locked incident, its type
    and authorization."""
    # An action's incident never changes: reading it before the lock is safe.
    incident = incident_lock(ResponseAction.objects.values_list("incident_id", flat=True).get(pk=action_id))
    action = (
        ResponseAction.objects.select_for_update(of=("self",), no_key=True)
        .select_related("action_type", "authorization")
        .get(pk=action_id)
    )
    action.incident = incident
    return action


def action_lock_if_free(action_id: int) -> ResponseAction | None:
    """As action_lock, for a sweeper: None when another transaction holds the incident or the action."""
    incident_id = ResponseAction.objects.filter(pk=action_id).values_list("incident_id", flat=True).first()
    incident = incident_lock_if_free(incident_id) if incident_id is not None else None
    if incident is None:
        return None
    action = (
        ResponseAction.objects.select_for_update(of=("self",), no_key=True, skip_locked=True)
        .select_related("action_type", "authorization")
        .filter(pk=action_id)
        .first()
    )
    if action is not None:
        action.incident = incident
    return action


def actions_lock(incident: Incident, *, statuses: Collection[str]) -> QuerySet[ResponseAction]:
    """The actions of a locked incident in the given statuses, locked when the query runs (in id order)."""
    return (
        incident.actions.select_for_update(of=("self",), no_key=True)
        .filter(status__in=statuses)
        .select_related("action_type", "authorization")
        .order_by("pk")
    )


def attempt_lock(attempt_id: int) -> ActionAttempt:
    """Lock one attempt of an action whose lock (and so its incident's) the transaction holds already."""
    return ActionAttempt.objects.select_for_update(no_key=True).get(pk=attempt_id)
