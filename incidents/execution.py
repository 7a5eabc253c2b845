"""Running authorized actions against the tenant's platform: claim, call outside any transaction, record.

Each step locks the action's incident, then the action (incidents.locks), and checks it is still where the step expects, so a duplicate delivery,
a late message or a second worker finds nothing to do. The attempt row is claimed before the call; a
worker that dies mid-call leaves a claimed attempt that the sweeper marks lost and retries as a new one.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from typing import Any

from django.conf import settings
from django.db import IntegrityError, InterfaceError, OperationalError, connection, transaction
from django.db.models import Q
from django.utils import timezone

from incidents.actions import action_apply_decision, action_move, nudge_execution
from incidents.attention import incident_flag
from incidents.connector_models import ConnectorConfig, ConnectorKind
from incidents.connectors.base import ActionRequest, ConnectorOutcome, ConnectorSpec, Result
from incidents.connectors.registry import connector_for
from incidents.locks import action_lock, action_lock_if_free, attempt_lock
from incidents.models import (
    ACTIVE_INCIDENT_STATUSES,
    ActionAttempt,
    ActionStatus,
    AttemptOutcome,
    Channel,
    EventKind,
    ResponseAction,
)
from incidents.selectors import gate_decision
from incidents.timeline_writes import timeline_record
from mdrportal.core.retry import is_retryable, retried_atomic
from tenants.models import Performer, Tenant

log = logging.getLogger(__name__)
WORKER = "MDR Ops executor"


@dataclass(frozen=True)
class Claim:
    attempt_id: int
    request: ActionRequest
    spec: ConnectorSpec


def connector_spec(tenant: Tenant) -> ConnectorSpec:
    config = ConnectorConfig.objects.filter(tenant=tenant).first()
    if config is None:
        return ConnectorSpec(kind=ConnectorKind.SIMULATED)
    return ConnectorSpec(
        kind=config.kind,
        url=config.url,
        client_id=config.client_id,
        external_tenant_id=config.external_tenant_id,
        secret=config.secret,
        options=dict(config.options or {}),
    )


def backoff_seconds(attempt: int) -> int:
    """Exponential: base, 2 x base, 4 x base ... capped."""
    base: int = settings.ACTION_RETRY_BASE_SECONDS
    doubled: int = base * 2 ** (attempt - 1)  # attempts count from 1: whole seconds
    return min(doubled, settings.ACTION_RETRY_MAX_SECONDS)


@retried_atomic
def action_claim(action_id: int) -> Claim | None:
    """Lock a queued action, ask the gate again, and claim its next attempt; None when there is nothing to do."""
    action = action_lock(action_id)
    if action.status != ActionStatus.QUEUED:
        return None  # a duplicate or stale delivery: another step already moved it
    if action.incident.status not in ACTIVE_INCIDENT_STATUSES:
        # Closing cancels queued actions under the incident's lock; this is the last line all the same.
        action_move(
            action,
            ActionStatus.CANCELED,
            reason=f"Not executed: the incident is {action.incident.get_status_display().lower()}.",
            by=None,
            channel=Channel.SYSTEM,
            kind=EventKind.ACTION_CANCELED,
        )
        return None
    decision = gate_decision(action)
    if not decision.executes:
        action_apply_decision(action, decision, by=None, channel=Channel.SYSTEM)
        timeline_record(
            incident=action.incident,
            kind=EventKind.ACTION_DECIDED,
            summary=f"Not executed: {action}. {decision.reason}",
            label=WORKER,
            data={"action": action.pk, "outcome": decision.outcome.value},
        )
        return None
    assert decision.basis is not None  # a decision to execute has one (Decision checks it)
    spec = connector_spec(action.incident.tenant)
    number = action.attempts.count() + 1
    try:
        with transaction.atomic():
            attempt = ActionAttempt.objects.create(action=action, number=number, connector=spec.kind)
    except IntegrityError:
        return None  # another worker claimed this attempt first
    action_move(
        action,
        ActionStatus.RUNNING,
        performer=Performer.MDR,
        basis=decision.basis.value,
        reason=f"Attempt {number} started through the {spec.kind} connector.",
        by=None,
        channel=Channel.SYSTEM,
        kind=EventKind.ACTION_STARTED,
        data={"attempt": number, "connector": spec.kind},
    )
    request = ActionRequest(
        action_id=action.pk,
        attempt=number,
        incident_id=action.incident_id,
        incident_title=action.incident.title,
        tenant_slug=action.incident.tenant.slug,
        action_code=action.action_type.code,
        category=action.action_type.category,
        target=action.target,
    )
    return Claim(attempt_id=attempt.pk, request=request, spec=spec)


def _call(claim: Claim) -> Result:
    try:
        return connector_for(claim.spec).run(claim.request)
    except Exception as error:  # noqa: BLE001 - a connector bug must not look like success, nor loop
        log.exception("connector %s raised for action %s", claim.spec.kind, claim.request.action_id)
        return Result.permanent(
            f"The {claim.spec.kind} connector failed unexpectedly ({type(error).__name__})."
        )


def _fail(action: ResponseAction, reason: str, data: dict[str, Any]) -> None:
    action_move(
        action,
        ActionStatus.FAILED,
        reason=reason,
        by=None,
        channel=Channel.SYSTEM,
        kind=EventKind.ACTION_FAILED,
        data=data,
    )
    incident_flag(incident=action.incident, reason=f"Needs an analyst: {action} failed. {reason}")


def retry_delay_seconds(attempt: int, retry_after_seconds: float | None = None) -> int:
    """The backoff, or longer when the platform said when to come back (Retry-After), never past the cap."""
    delay = backoff_seconds(attempt)
    if retry_after_seconds is not None:
        asked = min(math.ceil(retry_after_seconds), settings.ACTION_RETRY_MAX_SECONDS)
        delay = max(delay, asked)
    return delay


def _retry_or_fail(
    action: ResponseAction, attempt: ActionAttempt, why: str, *, retry_after_seconds: float | None = None
) -> None:
    data = {"attempt": attempt.number, "outcome": attempt.outcome, "message": attempt.message}
    if attempt.number >= settings.ACTION_MAX_ATTEMPTS:
        _fail(action, f"{why} Gave up after {attempt.number} attempts.", data)
        return
    delay = retry_delay_seconds(attempt.number, retry_after_seconds)
    action_move(
        action,
        ActionStatus.QUEUED,
        reason=f"Attempt {attempt.number} failed: {why} Retrying in {delay} s.",
        by=None,
        channel=Channel.SYSTEM,
        kind=EventKind.ACTION_ATTEMPT_FAILED,
        data=data,
        due_at=timezone.now() + timedelta(seconds=delay),
    )


@retried_atomic
def action_record_result(attempt_id: int, result: Result) -> None:
    """Write what the platform answered; only the action's current running attempt moves it."""
    action = action_lock(ActionAttempt.objects.values_list("action_id", flat=True).get(pk=attempt_id))
    attempt = attempt_lock(attempt_id)
    if attempt.outcome or action.status != ActionStatus.RUNNING:
        # The sweeper gave this attempt up as lost; keep the platform's late answer on the record.
        timeline_record(
            incident=action.incident,
            kind=EventKind.ACTION_ATTEMPT_FAILED
            if result.outcome != ConnectorOutcome.SUCCEEDED
            else EventKind.ACTION_DECIDED,
            summary=f"Late answer for attempt {attempt.number} of {action}: {result.outcome} ({result.message})",
            label=WORKER,
            data={
                "action": action.pk,
                "attempt": attempt.number,
                "outcome": result.outcome.value,
                "details": result.details,
            },
        )
        return
    attempt.outcome, attempt.message, attempt.details = result.outcome.value, result.message, result.details
    attempt.finished_at = timezone.now()
    attempt.save(update_fields=["outcome", "message", "details", "finished_at"])
    data = {"attempt": attempt.number, "details": result.details}
    if result.outcome == ConnectorOutcome.SUCCEEDED:
        action_move(
            action,
            ActionStatus.SUCCEEDED,
            reason=result.message,
            by=None,
            channel=Channel.SYSTEM,
            kind=EventKind.ACTION_SUCCEEDED,
            data=data,
        )
        if action.reverts_id is not None:
            _mark_reverted(action, action.reverts_id)
    elif result.outcome == ConnectorOutcome.TRANSIENT:
        _retry_or_fail(action, attempt, result.message, retry_after_seconds=result.retry_after_seconds)
    else:
        _fail(action, result.message, data)


def _mark_reverted(revert: ResponseAction, original_id: int) -> None:
    original = action_lock(original_id)  # the same incident, whose lock this transaction holds
    if original.status != ActionStatus.SUCCEEDED:
        return
    action_move(
        original,
        ActionStatus.REVERTED,
        reason=f"Undone by action #{revert.pk} ({revert.action_type.name}).",
        by=None,
        channel=Channel.SYSTEM,
        kind=EventKind.ACTION_REVERTED,
        data={"revert": revert.pk},
    )


def action_run(action_id: int) -> None:
    """One delivery of the execute task: claim, call the platform outside any transaction, record."""
    claim = action_claim(action_id)
    if claim is None:
        return
    result = _call(claim)
    action_record_result_patiently(claim.attempt_id, result)


def action_record_result_patiently(attempt_id: int, result: Result) -> None:
    """Record the platform's answer, trying again while the database is out of reach (a restart, a
    failover): an answer lost there would have the sweeper ask the platform a second time. It gives up before
    the sweeper would take the attempt as lost, so the two never both decide."""
    deadline = time.monotonic() + settings.ACTION_RUN_TIMEOUT_SECONDS / 2
    wait = 0.5
    while True:
        try:
            action_record_result(attempt_id, result)
            return
        except (OperationalError, InterfaceError) as error:
            # A deadlock that outlived its retries is no outage; nor is any error once the patience is spent.
            if is_retryable(error) or time.monotonic() + wait > deadline:
                raise
            log.warning("the answer for attempt %s waits for the database: %s", attempt_id, error)
            connection.close()  # the next query opens a new connection
            time.sleep(wait)
            wait = min(wait * 2, 5.0)


@retried_atomic
def actions_sweep(*, batch: int = 100) -> dict[str, int]:
    """Re-nudge queued actions that are due, and give up attempts whose worker died mid-call."""
    now = timezone.now()
    lost_before = now - timedelta(seconds=settings.ACTION_RUN_TIMEOUT_SECONDS)
    stuck = ActionAttempt.objects.filter(
        outcome="", started_at__lt=lost_before, action__status=ActionStatus.RUNNING
    ).values_list("pk", "action_id")[:batch]
    lost = 0
    for attempt_id, action_id in list(stuck):
        action = action_lock_if_free(action_id)
        if action is None or action.status != ActionStatus.RUNNING:
            continue  # being recorded right now, or already moved
        attempt = attempt_lock(attempt_id)
        if attempt.outcome:
            continue
        attempt.outcome, attempt.finished_at = AttemptOutcome.LOST, now
        attempt.message = "No answer recorded: the worker stopped during the call."
        attempt.save(update_fields=["outcome", "finished_at", "message"])
        _retry_or_fail(action, attempt, attempt.message)
        lost += 1
    due = list(
        # Skipping what others hold, this lock never waits: it may come without the incident's.
        ResponseAction.objects.select_for_update(no_key=True, skip_locked=True)
        .filter(Q(next_attempt_at__lte=now) | Q(next_attempt_at__isnull=True), status=ActionStatus.QUEUED)
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:batch]
    )
    if due:
        # Lease: the nudge is in flight; only if it is lost does a later sweep send another.
        ResponseAction.objects.filter(pk__in=due).update(next_attempt_at=now + timedelta(seconds=30))
        for pk in due:
            transaction.on_commit(partial(nudge_execution, pk))
    return {"lost": lost, "nudged": len(due)}
