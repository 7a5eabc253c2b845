"""Writes to incidents, actions and authorizations; every one of them leaves a timeline event."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from incidents.gate import Decision, Outcome
from incidents.models import (
    ACTION_TRANSITIONS,
    ACTIVE_INCIDENT_STATUSES,
    INCIDENT_TRANSITIONS,
    UNDECIDED_STATUSES,
    ActionStatus,
    ActionType,
    Authorization,
    Channel,
    EventKind,
    Incident,
    ResponseAction,
    Severity,
    TimelineEvent,
)
from incidents.policy import PolicySnapshot
from incidents.selectors import gate_decision
from mdrportal.core.nudges import nudge, send_now
from mdrportal.core.transitions import TransitionError, check_transition
from tenants.models import Contact, Performer, Tenant
from tenants.rules import may_decide
from tenants.selectors import role_at, tenant_policy
from tenants.services import actor_label

User = AbstractBaseUser | None
log = logging.getLogger(__name__)

# A queued action's nudge is in flight for this long before the sweeper sends another.
NUDGE_LEASE_SECONDS = 30

_STATUS_FOR = {
    Outcome.EXECUTE: (ActionStatus.QUEUED, Performer.MDR),
    Outcome.AWAIT_AUTHORIZATION: (ActionStatus.AWAITING_AUTHORIZATION, Performer.MDR),
    Outcome.RECOMMEND_CUSTOMER: (ActionStatus.RECOMMENDED, Performer.CUSTOMER),
    Outcome.RECOMMEND_PARTNER: (ActionStatus.RECOMMENDED, Performer.PARTNER),
    Outcome.NOT_ALLOWED_FOR_TIER: (ActionStatus.RECOMMENDED, Performer.CUSTOMER),
    Outcome.HOLD: (ActionStatus.HELD, Performer.MDR),
}


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


@transaction.atomic
def incident_open(
    *,
    tenant: Tenant,
    title: str,
    by: User,
    severity: str = Severity.HIGH,
    summary: str = "",
    observed_activity: str = "",
    recommendations: str = "",
    channel: str = Channel.ADMIN,
) -> Incident:
    """Open an incident under the tenant's policy as it is now (a snapshot later changes do not touch)."""
    incident = Incident(
        tenant=tenant,
        title=title,
        severity=severity,
        summary=summary,
        observed_activity=observed_activity,
        recommendations=recommendations,
        policy=tenant_policy(tenant),
        opened_by=by,
    )
    incident.full_clean()
    incident.save()
    timeline_record(
        incident=incident,
        kind=EventKind.INCIDENT_OPENED,
        summary=f"Incident opened ({incident.get_severity_display()}): {title}",
        by=by,
        channel=channel,
        data={"severity": severity, "policy": incident.policy},
    )
    return incident


def incident_lock(incident_id: int) -> Incident:
    """Lock the incident's row: every decision about it (acknowledge, decide, fall back, close) holds it."""
    return Incident.objects.select_for_update(of=("self",)).select_related("tenant").get(pk=incident_id)


def _lock_incident(incident: Incident) -> Incident:
    return incident_lock(incident.pk)


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


# Canceled when the incident is resolved or closed: what waits for a decision, and what waits to run.
CANCELED_ON_CLOSE = frozenset({ActionStatus.AWAITING_AUTHORIZATION, ActionStatus.HELD, ActionStatus.QUEUED})


@transaction.atomic
def incident_set_status(
    *, incident: Incident, status: str, by: User, reason: str = "", channel: str = Channel.ADMIN
) -> Incident:
    """Move the incident; resolving or closing it cancels its waiting and queued actions, under its lock.

    The notification runs are stopped by the caller in the same transaction (escalation.runs.lifecycle).
    """
    locked = _lock_incident(incident)
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
        pending = locked.actions.select_for_update(of=("self",)).filter(status__in=CANCELED_ON_CLOSE)
        for action in pending.select_related("action_type").order_by("pk"):
            action.incident = locked
            _cancel(action, by=by, channel=channel, why=why)
    incident.status = status
    return locked


def _cancel(action: ResponseAction, *, by: User, channel: str, why: str) -> None:
    action_move(
        action,
        ActionStatus.CANCELED,
        reason=f"Canceled by {actor_label(by)}: {why}.",
        by=by,
        channel=channel,
        kind=EventKind.ACTION_CANCELED,
        data={"why": why},
    )
    action.next_attempt_at = None
    action.save(update_fields=["next_attempt_at"])


@transaction.atomic
def action_cancel(
    *, action: ResponseAction, by: User, reason: str, channel: str = Channel.ADMIN
) -> ResponseAction:
    """An analyst cancels one action that waits for authorization, is held, recommended or queued."""
    if not reason.strip():
        raise ValidationError({"reason": "Say why the action is canceled."})
    locked_incident = _lock_incident(action.incident)
    locked = (
        ResponseAction.objects.select_for_update(of=("self",))
        .select_related("action_type")
        .get(pk=action.pk, incident=locked_incident)
    )
    locked.incident = locked_incident
    if ActionStatus.CANCELED not in ACTION_TRANSITIONS[locked.status]:
        raise TransitionError(
            f"{locked} is {locked.get_status_display().lower()}: only an action that waits or is queued can "
            "be canceled.",
            code="bad_transition",
        )
    _cancel(locked, by=by, channel=channel, why=reason.strip())
    return locked


def action_move(
    action: ResponseAction,
    status: str,
    *,
    reason: str,
    by: User,
    channel: str,
    performer: str | None = None,
    basis: str | None = None,
    kind: str | None = None,
    data: dict[str, Any] | None = None,
    due_at: datetime | None = None,
) -> bool:
    """Change where a locked action stands, as the transition table allows, with its timeline event.

    Moving to queued schedules the run: at once (a nudge after commit) or, for a retry, at due_at.
    Returns whether anything changed.
    """
    performer = action.performer if performer is None else performer
    basis = action.basis if basis is None else basis
    if (action.status, action.performer, action.basis) == (status, performer, basis) and kind is None:
        return False
    check_transition(ACTION_TRANSITIONS, action.status, status, what=f"Action #{action.pk}")
    action.status = status
    action.performer, action.basis, action.decision_reason = performer, basis, reason
    if status == ActionStatus.QUEUED:
        _schedule(action, due_at=due_at)
    action.save(
        update_fields=["status", "performer", "basis", "decision_reason", "next_attempt_at", "updated_at"]
    )
    default_kind = EventKind.ACTION_QUEUED if status == ActionStatus.QUEUED else EventKind.ACTION_DECIDED
    nudge_customer(action.incident)
    timeline_record(
        incident=action.incident,
        kind=kind or default_kind,
        summary=f"{action}: {reason}",
        by=by,
        channel=channel,
        data={"action": action.pk, "status": status, "basis": basis, **(data or {})},
    )
    return True


@transaction.atomic
def incident_clear_attention(*, incident: Incident, by: User, channel: str = Channel.ADMIN) -> None:
    """An analyst has dealt with what flagged the incident."""
    if Incident.objects.filter(pk=incident.pk, needs_attention=True).update(needs_attention=False):
        incident.needs_attention = False
        timeline_record(
            incident=incident,
            kind=EventKind.FLAGGED,
            summary="Flag cleared by an analyst",
            by=by,
            channel=channel,
            data={"needs_attention": False},
        )


def _schedule(action: ResponseAction, *, due_at: datetime | None) -> None:
    """A queued action runs at once (nudged after commit) or, for a retry, when due_at comes."""
    action.next_attempt_at = due_at or timezone.now() + timedelta(seconds=NUDGE_LEASE_SECONDS)
    if due_at is None:
        transaction.on_commit(lambda: nudge_execution(action.pk))


def action_apply_decision(action: ResponseAction, decision: Decision, *, by: User, channel: str) -> bool:
    """Move a locked action to where the gate's decision puts it."""
    status, performer = _STATUS_FOR[decision.outcome]
    return action_move(
        action,
        status,
        performer=performer,
        basis=decision.basis.value if decision.basis else "",
        reason=decision.reason,
        by=by,
        channel=channel,
        data={"outcome": decision.outcome.value},
    )


def nudge_execution(action_id: int) -> None:
    """Ask a worker to run the action; a lost nudge only delays it until the sweeper's next pass."""
    send_now("incidents.action_run", action_id)


def nudge_customer(incident: Incident) -> None:
    """After commit, see whether the customer must now be told something (DESIGN rule 12)."""
    nudge("escalation.customer_tell", incident.pk)


@transaction.atomic
def incident_flag(*, incident: Incident, reason: str, by: User = None, channel: str = Channel.SYSTEM) -> None:
    """Flag the incident for analysts ("needs attention") and say why on the timeline."""
    Incident.objects.filter(pk=incident.pk).update(needs_attention=True)
    incident.needs_attention = True
    timeline_record(incident=incident, kind=EventKind.FLAGGED, summary=reason, by=by, channel=channel)


@transaction.atomic
def action_propose(
    *,
    incident: Incident,
    action_type: ActionType,
    target: str,
    by: User,
    channel: str = Channel.ADMIN,
    reverts: ResponseAction | None = None,
) -> ResponseAction:
    """Propose an action: the gate decides at once whether it runs, waits, or goes to the customer."""
    target = target.strip()
    if not target:
        raise ValidationError(
            {"target": "Say what the action applies to (endpoint, hash, address, account)."}
        )
    locked = _lock_incident(incident)
    incident_must_be_active(locked, what="proposing an action")
    action = ResponseAction(
        incident=locked, action_type=action_type, target=target, proposed_by=by, reverts=reverts
    )
    decision = gate_decision(action)
    status, performer = _STATUS_FOR[decision.outcome]
    action.status, action.performer = status, performer
    action.basis = decision.basis.value if decision.basis else ""
    action.decision_reason = decision.reason
    if status == ActionStatus.QUEUED:
        _schedule(action, due_at=None)
    action.save()
    nudge_customer(locked)
    timeline_record(
        incident=locked,
        kind=EventKind.ACTION_PROPOSED,
        summary=f"Proposed: {action}. {decision.reason}",
        by=by,
        channel=channel,
        data={
            "action": action.pk,
            "action_type": action_type.code,
            "target": target,
            "outcome": decision.outcome.value,
            "status": status,
            "basis": action.basis,
            "reverts": reverts.pk if reverts else None,
        },
    )
    if status == ActionStatus.QUEUED:
        timeline_record(
            incident=locked,
            kind=EventKind.ACTION_QUEUED,
            summary=f"Queued for execution: {action}",
            by=by,
            channel=channel,
            data={"action": action.pk, "basis": action.basis},
        )
    return action


@transaction.atomic
def action_propose_revert(
    *, action: ResponseAction, by: User, channel: str = Channel.ADMIN
) -> ResponseAction:
    """Propose the action that undoes a succeeded one (release from isolation, re-enable an account).

    The original action stays locked from the check to the new row, so two analysts clicking at once
    get one revert, not two. The incident is locked first, the order every incident-wide write takes.
    """
    _lock_incident(action.incident)
    original = (
        ResponseAction.objects.select_for_update(of=("self",))
        .select_related("action_type__revert", "incident")
        .get(pk=action.pk)
    )
    revert_type = original.action_type.revert
    if revert_type is None:
        raise ValidationError(f"{original.action_type.name} cannot be undone by an action.", code="no_revert")
    if original.status != ActionStatus.SUCCEEDED:
        raise ValidationError(
            f"Only a succeeded action can be reverted; #{original.pk} is {original.status}."
        )
    pending = original.reverted_by.exclude(
        status__in=[ActionStatus.FAILED, ActionStatus.DECLINED, ActionStatus.CANCELED]
    )
    if pending.exists():
        raise ValidationError(f"Action #{original.pk} already has a revert under way.", code="revert_exists")
    return action_propose(
        incident=original.incident,
        action_type=revert_type,
        target=original.target,
        by=by,
        channel=channel,
        reverts=original,
    )


@transaction.atomic
def incident_reapply_policy(*, incident: Incident, by: User, channel: str = Channel.ADMIN) -> Incident:
    """Take the tenant's current policy for this incident and decide its undecided actions again."""
    locked = _lock_incident(incident)
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
    pending = locked.actions.select_for_update(of=("self",)).filter(status__in=UNDECIDED_STATUSES)
    for action in pending.select_related("action_type", "authorization"):
        action.incident = locked
        action_apply_decision(action, gate_decision(action), by=by, channel=channel)
    incident.policy = after
    return locked


def _check_who(
    *, tenant: Tenant, channel: str, contact: Contact | None, user: User, recorded_by: User, evidence: str
) -> None:
    if contact is not None and (
        contact.tenant_id != tenant.pk or not contact.active or not contact.can_authorize
    ):
        raise ValidationError(
            {"contact": f"{contact} is not an active contact of {tenant} allowed to authorize."}
        )
    if user is not None and not may_decide(role_at(user, tenant)):
        raise ValidationError({"user": f"{user.get_username()} is not an approver of {tenant}."})
    if channel == Channel.ANALYST_RECORDED:
        if contact is None:
            raise ValidationError({"contact": "Say which contact wrote the authorization."})
        if recorded_by is None or not recorded_by.is_staff:
            raise ValidationError(
                {"recorded_by": "Only an MDR analyst records an authorization received elsewhere."}
            )
        if not evidence.strip():
            raise ValidationError({"evidence": "Paste the customer's written message (or its reference)."})
    elif channel in (Channel.PORTAL, Channel.API) and user is None:
        raise ValidationError({"user": "Portal and API decisions are made by a logged-in approver."})
    elif channel == Channel.EMAIL_LINK and contact is None:
        raise ValidationError({"contact": "An emailed link is bound to a contact."})
    elif channel not in (Channel.PORTAL, Channel.API, Channel.EMAIL_LINK, Channel.ANALYST_RECORDED):
        raise ValidationError(
            {"channel": f"{channel!r} is not a channel written authorization comes through."}
        )


@transaction.atomic
def authorization_record(
    *,
    incident: Incident,
    actions: Sequence[ResponseAction],
    decision: str,
    channel: str,
    text_shown: str,
    contact: Contact | None = None,
    user: User = None,
    recorded_by: User = None,
    statement: str = "",
    evidence: str = "",
    ip_address: str | None = None,
    user_agent: str = "",
) -> Authorization:
    """Record a customer's written decision on exact actions; granted actions go to execution."""
    if decision not in Authorization.Decision.values:
        raise ValidationError({"decision": f"{decision!r} is neither granted nor declined."})
    if not actions:
        raise ValidationError({"actions": "Choose at least one action."})
    if not text_shown.strip():
        raise ValidationError({"text_shown": "The text the customer decided on is required."})
    locked = _lock_incident(incident)
    incident_must_be_active(locked, what="a decision on its actions")
    _check_who(
        tenant=locked.tenant,
        channel=channel,
        contact=contact,
        user=user,
        recorded_by=recorded_by,
        evidence=evidence,
    )
    ids = sorted({a.pk for a in actions})
    scope = list(
        ResponseAction.objects.select_for_update(of=("self",))
        .filter(pk__in=ids, incident=locked)
        .select_related("action_type")
    )
    if len(scope) != len(ids):
        raise ValidationError({"actions": "Every action must belong to this incident."})
    undecided = [a for a in scope if a.status != ActionStatus.AWAITING_AUTHORIZATION]
    if undecided:
        names = ", ".join(f"#{a.pk} ({a.get_status_display().lower()})" for a in undecided)
        raise ValidationError({"actions": f"Only actions awaiting authorization can be decided on: {names}."})

    authorization = Authorization.objects.create(
        incident=locked,
        decision=decision,
        scope=[{"action": a.pk, "action_type": a.action_type.code, "target": a.target} for a in scope],
        contact=contact,
        user=user,
        recorded_by=recorded_by,
        channel=channel,
        at=timezone.now(),
        text_shown=text_shown,
        statement=statement,
        evidence=evidence,
        ip_address=ip_address,
        user_agent=user_agent[:400],
    )
    who = contact.name if contact is not None else actor_label(user)
    granted = decision == Authorization.Decision.GRANTED
    timeline_record(
        incident=locked,
        kind=EventKind.AUTHORIZATION_GIVEN if granted else EventKind.AUTHORIZATION_DECLINED,
        summary=f"{who} {'authorized' if granted else 'declined'} in writing: "
        + ", ".join(str(a) for a in scope),
        by=recorded_by or user,
        label=who if recorded_by is None else f"{who} (recorded by {actor_label(recorded_by)})",
        channel=channel,
        data={"authorization": authorization.pk, "scope": authorization.scope, "statement": statement},
    )
    for action in scope:
        action.incident = locked
        action.authorization = authorization
        action.save(update_fields=["authorization", "updated_at"])
        if granted:
            action_apply_decision(action, gate_decision(action), by=recorded_by or user, channel=channel)
        else:
            action_move(
                action,
                ActionStatus.DECLINED,
                basis="",
                reason=f"Declined in writing by {who}: MDR Ops will not perform it.",
                by=recorded_by or user,
                channel=channel,
            )
    return authorization


@transaction.atomic
def incident_take_fallback(*, incident: Incident, attempts: list[dict[str, Any]]) -> Incident:
    """Nobody acknowledged after every contact was phoned: act as in Authorize mode for this incident.

    The caller proves the attempts and that nobody acknowledged, under this incident's lock; here the rest
    is checked again: the incident is active, its snapshot ticks the checkbox, no written decision exists.
    The gate checks the checkbox again for every action.
    """
    locked = _lock_incident(incident)
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
    pending = locked.actions.select_for_update(of=("self",)).filter(status__in=UNDECIDED_STATUSES)
    for action in pending.select_related("action_type", "authorization"):
        action.incident = locked
        action_apply_decision(action, gate_decision(action), by=None, channel=Channel.SYSTEM)
    incident.fallback_taken_at = locked.fallback_taken_at
    return locked
