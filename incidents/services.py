"""Writes to an incident as a whole: open, change status, clear a flag, reapply the policy, take the fallback."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from incidents.actions import action_apply_decision, action_cancel_locked
from incidents.active_guard import incident_must_be_active
from incidents.case_file import severity_starts_notification
from incidents.locks import actions_lock, incident_lock
from incidents.models import (
    ACTIVE_INCIDENT_STATUSES,
    INCIDENT_TRANSITIONS,
    UNDECIDED_STATUSES,
    ActionStatus,
    Channel,
    EventKind,
    Incident,
    Severity,
)
from incidents.policy import PolicySnapshot
from incidents.selectors import gate_decision
from incidents.timeline_writes import timeline_record
from mdrportal.core.retry import retried_atomic
from mdrportal.core.transitions import check_transition
from mdrportal.core.users import User
from tenants.models import IntegrationKey, Tenant
from tenants.selectors import tenant_policy


@retried_atomic
def incident_open(
    *,
    tenant: Tenant,
    title: str,
    by: User | None,
    severity: str = Severity.HIGH,
    summary: str = "",
    observed_activity: str = "",
    recommendations: str = "",
    channel: str = Channel.ADMIN,
    integration_key: IntegrationKey | None = None,
    detected_at: datetime | None = None,
) -> Incident:
    """Open an incident under the tenant's policy as it is now (a snapshot later changes do not touch).

    A detection pipeline opens it with its integration key (by is None), which the timeline names. Detection
    is when the pipeline or the analyst saw the threat; not given, it is the incident's opening.
    """
    opened_at = timezone.now()
    if detected_at is not None and detected_at > opened_at:
        raise ValidationError(
            {"detected_at": "Detection cannot come after the incident was opened (now)."}, code="invalid"
        )
    incident = Incident(
        opened_at=opened_at,
        detected_at=detected_at,
        tenant=tenant,
        title=title,
        severity=severity,
        summary=summary,
        observed_activity=observed_activity,
        recommendations=recommendations,
        policy=tenant_policy(tenant),
        opened_by=by,
        opened_by_key=integration_key,
    )
    incident.full_clean()
    incident.save()
    notifies = severity_starts_notification(incident, None, severity)
    timeline_record(
        incident=incident,
        kind=EventKind.INCIDENT_OPENED,
        summary=f"Incident opened ({incident.get_severity_display()}): {title}"
        + ("; the customer's policy notifies at this severity" if notifies else ""),
        by=by,
        label=str(integration_key) if integration_key else None,
        channel=channel,
        data={
            "severity": severity,
            "notifies": notifies,
            "policy": incident.policy,
            "detected_at": detected_at.isoformat() if detected_at else None,
        },
    )
    return incident


# Canceled when the incident is resolved or closed: what waits for a decision, and what waits to run.
CANCELED_ON_CLOSE = frozenset({ActionStatus.AWAITING_AUTHORIZATION, ActionStatus.HELD, ActionStatus.QUEUED})


@retried_atomic
def incident_status_move_for_lifecycle(
    *, incident: Incident, status: str, by: User | None, reason: str = "", channel: str = Channel.ADMIN
) -> Incident:
    """The incidents' half of a status change; resolving or closing cancels waiting and queued actions.

    Called by escalation.runs.lifecycle.incident_change_status only, the one way to change an incident's
    status: it stops the notification runs in the same transaction (DESIGN rule 11); tests hold every other
    caller to it (tests/test_incident_lifecycle.py).
    """
    locked = incident_lock(incident.pk)
    if status == locked.status:
        return locked
    check_transition(INCIDENT_TRANSITIONS, locked.status, status, what="An incident")
    before, locked.status = locked.status, status
    locked.save(update_fields=["status"])
    timeline_record(
        incident=locked,
        kind=EventKind.INCIDENT_STATUS,
        summary=f"Status changed from {before} to {status}" + (f": {reason}" if reason else ""),
        by=by,
        channel=channel,
        data={"before": before, "after": status, "reason": reason},
    )
    if status not in ACTIVE_INCIDENT_STATUSES:
        why = f"the incident was {locked.get_status_display().lower()}" + (f" ({reason})" if reason else "")
        for action in actions_lock(locked, statuses=CANCELED_ON_CLOSE):
            action.incident = locked
            action_cancel_locked(action, by=by, channel=channel, why=why)
    incident.status = status
    return locked


@retried_atomic
def incident_clear_attention(*, incident: Incident, by: User | None, channel: str = Channel.ADMIN) -> None:
    """An analyst has dealt with what flagged the incident."""
    cleared = Incident.objects.filter(pk=incident.pk, needs_attention=True).update(
        needs_attention=False, attention_reason="", attention_since=None
    )
    if cleared:
        incident.needs_attention, incident.attention_reason, incident.attention_since = False, "", None
        timeline_record(
            incident=incident,
            kind=EventKind.FLAGGED,
            summary="Flag cleared by an analyst",
            by=by,
            channel=channel,
            data={"needs_attention": False},
        )


@retried_atomic
def incident_reapply_policy(*, incident: Incident, by: User | None, channel: str = Channel.ADMIN) -> Incident:
    """Take the tenant's current policy for this incident and decide its undecided actions again."""
    locked = incident_lock(incident.pk)
    incident_must_be_active(locked, what="re-applying the policy")
    before, after = locked.policy, tenant_policy(locked.tenant)
    locked.policy = after
    locked.save(update_fields=["policy"])
    timeline_record(
        incident=locked,
        kind=EventKind.POLICY_REAPPLIED,
        summary="The tenant's current policy was re-applied",
        by=by,
        channel=channel,
        data={"before": before, "after": after},
    )
    for action in actions_lock(locked, statuses=UNDECIDED_STATUSES):
        action.incident = locked
        action_apply_decision(action, gate_decision(action), by=by, channel=channel)
    incident.policy = after
    return locked


@transaction.atomic  # only ever inside a run's step, whose transaction is retried whole
def incident_take_fallback(*, incident: Incident, attempts: list[dict[str, Any]]) -> Incident:
    """Nobody acknowledged after every contact was phoned: act as in Authorize mode for this incident.

    The caller proves the attempts and that nobody acknowledged, under this incident's lock; here the rest
    is checked again: the incident is active, its snapshot ticks the checkbox, no written decision exists.
    The gate checks the checkbox again for every action.
    """
    locked = incident_lock(incident.pk)
    if locked.fallback_taken_at is not None:
        return locked
    incident_must_be_active(locked, what="the no-acknowledgment fallback")
    if not PolicySnapshot.read(locked).falls_back:
        raise ValidationError("This incident's policy has no no-acknowledgment fallback.", code="no_fallback")
    if locked.authorizations.exists():
        raise ValidationError(
            "The customer decided in writing on this incident: no fallback.", code="decided"
        )
    if not attempts:
        raise ValidationError("A fallback needs the call attempts that prove it.", code="no_proof")
    locked.fallback_taken_at = timezone.now()
    locked.save(update_fields=["fallback_taken_at"])
    timeline_record(
        incident=locked,
        kind=EventKind.FALLBACK_TAKEN,
        summary=f"Nobody acknowledged after {len(attempts)} call attempts to every contact: acting as in "
        "Authorize mode for this incident.",
        data={"attempts": attempts},
    )
    for action in actions_lock(locked, statuses=UNDECIDED_STATUSES):
        action.incident = locked
        action_apply_decision(action, gate_decision(action), by=None, channel=Channel.SYSTEM)
    incident.fallback_taken_at = locked.fallback_taken_at
    return locked
