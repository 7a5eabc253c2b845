"""Response actions: proposed, moved as the transition table and the gate say, canceled, scheduled to run."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from incidents.active_guard import incident_must_be_active
from incidents.gate import Decision, GateOutcome
from incidents.locks import action_lock, incident_lock
from incidents.models import (
    ACTION_TRANSITIONS,
    ActionStatus,
    ActionType,
    Channel,
    EventKind,
    Incident,
    Observable,
    ResponseAction,
)
from incidents.nudges import nudge_customer
from incidents.observable_links import links_record, observables_matching
from incidents.selectors import gate_decision
from incidents.timeline_writes import timeline_record
from mdrportal.core import task_names
from mdrportal.core.nudges import send_now
from mdrportal.core.retry import retried_atomic
from mdrportal.core.transitions import TransitionError, check_transition
from mdrportal.core.users import User
from tenants.models import IntegrationKey
from tenants.services import actor_label

# A queued action's nudge is in flight for this long before the sweeper sends another.
NUDGE_LEASE_SECONDS = 30


_STATUS_FOR = {
    GateOutcome.EXECUTE: ActionStatus.QUEUED,
    GateOutcome.AWAIT_AUTHORIZATION: ActionStatus.AWAITING_AUTHORIZATION,
    GateOutcome.RECOMMEND_CUSTOMER: ActionStatus.RECOMMENDED,
    GateOutcome.RECOMMEND_PARTNER: ActionStatus.RECOMMENDED,
    GateOutcome.NOT_ALLOWED_FOR_TIER: ActionStatus.RECOMMENDED,
    GateOutcome.HOLD: ActionStatus.HELD,
}


def action_cancel_locked(action: ResponseAction, *, by: User | None, channel: str, why: str) -> None:
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


@retried_atomic
def action_cancel(
    *, action: ResponseAction, by: User | None, reason: str, channel: str = Channel.ADMIN
) -> ResponseAction:
    """An analyst cancels one action that waits for authorization, is held, recommended or queued."""
    if not reason.strip():
        raise ValidationError({"reason": "Say why the action is canceled."})
    locked = action_lock(action.pk)
    if ActionStatus.CANCELED not in ACTION_TRANSITIONS[locked.status]:
        raise TransitionError(
            f"{locked} is {locked.get_status_display().lower()}: only an action that waits or is queued can "
            "be canceled.",
            code="bad_transition",
        )
    action_cancel_locked(locked, by=by, channel=channel, why=reason.strip())
    return locked


def action_move(
    action: ResponseAction,
    status: str,
    *,
    reason: str,
    by: User | None,
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
    unchanged = (action.status, action.performer, action.basis) == (status, performer, basis)
    # The same status for a new reason is a fact too: a protected action still waits after the fallback.
    if unchanged and kind is None and reason == action.decision_reason:
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
    nudge_customer(action.incident_id)
    timeline_record(
        incident=action.incident,
        kind=kind or default_kind,
        summary=f"{action}: {reason}",
        by=by,
        channel=channel,
        data={"action": action.pk, "status": status, "basis": basis, **(data or {})},
    )
    return True


def _schedule(action: ResponseAction, *, due_at: datetime | None) -> None:
    """A queued action runs at once (nudged after commit) or, for a retry, when due_at comes."""
    action.next_attempt_at = due_at or timezone.now() + timedelta(seconds=NUDGE_LEASE_SECONDS)
    if due_at is None:
        transaction.on_commit(lambda: nudge_execution(action.pk))


def action_apply_decision(
    action: ResponseAction, decision: Decision, *, by: User | None, channel: str, why: str = ""
) -> bool:
    """Move a locked action to where the gate's decision puts it (`why`: what led to deciding again)."""
    status, performer = _STATUS_FOR[decision.outcome], decision.performer
    return action_move(
        action,
        status,
        performer=performer,
        basis=decision.basis.value if decision.basis else "",
        reason=f"{why} {decision.reason}".strip(),
        by=by,
        channel=channel,
        data={"outcome": decision.outcome.value, **({"why": why} if why else {})},
    )


def nudge_execution(action_id: int) -> None:
    """Ask a worker to run the action; a lost nudge only delays it until the sweeper's next pass."""
    send_now(task_names.ACTION_RUN, action_id)


@retried_atomic
def action_propose(
    *,
    incident: Incident,
    action_type: ActionType,
    target: str,
    by: User | None,
    channel: str = Channel.ADMIN,
    reverts: ResponseAction | None = None,
    integration_key: IntegrationKey | None = None,
    observables: Iterable[Observable] = (),
) -> ResponseAction:
    """Propose an action: the gate decides at once whether it runs, waits, or goes to the customer.

    A detection pipeline proposes with its integration key (by is None), which the timeline names. The
    action is linked to the observables given and to those its target is.
    """
    target = target.strip()
    if not target:
        raise ValidationError(
            {"target": "Say what the action applies to (endpoint, hash, address, account)."}
        )
    locked = incident_lock(incident.pk)
    incident_must_be_active(locked, what="proposing an action")
    action = ResponseAction(
        incident=locked,
        action_type=action_type,
        target=target,
        proposed_by=by,
        proposed_by_key=integration_key,
        reverts=reverts,
    )
    label = str(integration_key) if integration_key else None
    decision = gate_decision(action)
    status = _STATUS_FOR[decision.outcome]
    action.status, action.performer = status, decision.performer
    action.basis = decision.basis.value if decision.basis else ""
    action.decision_reason = decision.reason
    if status == ActionStatus.QUEUED:
        _schedule(action, due_at=None)
    action.save()
    nudge_customer(locked.pk)
    timeline_record(
        incident=locked,
        kind=EventKind.ACTION_PROPOSED,
        summary=f"Proposed: {action}. {decision.reason}",
        by=by,
        label=label,
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
            label=label,
            channel=channel,
            data={"action": action.pk, "basis": action.basis},
        )
    links_record(action, [*observables, *observables_matching(action)], by=by, channel=channel)
    return action


@retried_atomic
def action_propose_revert(
    *, action: ResponseAction, by: User | None, channel: str = Channel.ADMIN
) -> ResponseAction:
    """Propose the action that undoes a succeeded one (release from isolation, re-enable an account).

    The original action stays locked from the check to the new row, so two analysts clicking at once
    get one revert, not two. The incident is locked first, the order every incident-wide write takes.
    """
    original = action_lock(action.pk)
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
