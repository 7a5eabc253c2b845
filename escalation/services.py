"""Notification runs: start, advance one step, stop; the end of a call tree and the fallback it may take.

The database is the truth: a run is a row with a state and next_step_at; every step locks the incident,
then the run, checks the state is still the one it expects, does one thing and schedules the next nudge
after commit. A step of the plan (a contact's try) is done when a call of it rang (DESIGN rule 5); a call
that reached nobody leaves the step owed, dialed again as a new row after a backoff.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from escalation.calls import call_deadline, call_end, calls_stop
from escalation.emails import emails_claim
from escalation.models import (
    ATTEMPT_OUTCOMES,
    OPEN_CALL_OUTCOMES,
    RUN_TRANSITIONS,
    UNREACHED_OUTCOMES,
    Acknowledgment,
    CallAttempt,
    CallOutcome,
    NotificationRun,
    RunPurpose,
    RunState,
)
from escalation.nudges import nudge_call_check, nudge_dispatch, nudge_run
from escalation.selectors import actions_to_tell
from escalation.sms.outbound import texts_claim
from incidents.models import ACTIVE_INCIDENT_STATUSES, SEVERITY_RANK, Channel, EventKind, Incident
from incidents.policy import PolicySnapshot
from incidents.services import (
    incident_flag,
    incident_lock,
    incident_must_be_active,
    incident_take_fallback,
    timeline_record,
)
from tenants.models import Contact, Tenant
from tenants.selectors import phone_contacts
from tenants.services import settings_audit

log = logging.getLogger(__name__)
User = AbstractBaseUser | None

# While a call waits for a slot, the run looks again this often.
QUEUED_CALL_RECHECK_SECONDS = 60
# While an overdue call is asked about at the provider, the run looks again this often.
CALL_CHECK_SECONDS = 15
# A call answered without the key: a 1 pressed at its very end may still be on its way to us.
ANSWERED_SETTLE_SECONDS = 2
# A test call is dialed after every incident's call, informational ones included.
TEST_CALL_RANK = len(SEVERITY_RANK)


def _lock_run(run_id: int) -> NotificationRun:
    return NotificationRun.objects.select_for_update().get(pk=run_id)


def _set_state(run: NotificationRun, state: str) -> None:
    if state not in RUN_TRANSITIONS[run.state]:
        raise ValidationError(f"Run #{run.pk} cannot go from {run.state} to {state}.", code="bad_transition")
    run.state, run.finished_at = state, timezone.now()
    run.save(update_fields=["state", "finished_at"])


def someone_has_it(incident: Incident) -> bool:
    """An acknowledgment or a written decision on the incident, ever, by any channel: no fallback."""
    return Acknowledgment.objects.filter(incident=incident).exists() or incident.authorizations.exists()


def _plan(incident: Incident, *, purpose: str) -> list[dict[str, int]]:
    """Every active contact with a phone, in call order, the policy's number of times: round by round.

    A report (what was done) calls each contact once.
    """
    tries = 1 if purpose == RunPurpose.REPORT else PolicySnapshot.read(incident).call_attempts_per_contact
    contacts = list(phone_contacts(incident.tenant).values_list("pk", flat=True))
    return [{"contact": pk, "try": t} for t in range(1, tries + 1) for pk in contacts]


def run_create(
    incident: Incident,
    *,
    purpose: str,
    by: User,
    due_in: timedelta = timedelta(0),
    actions: list[Any] | None = None,
) -> NotificationRun:
    """A new round of the given purpose for a locked incident, telling about the given actions."""
    last = incident.notification_runs.filter(purpose=purpose).order_by("-round").first()
    run = NotificationRun.objects.create(
        incident=incident,
        purpose=purpose,
        round=(last.round + 1) if last else 1,
        plan=_plan(incident, purpose=purpose),
        ring_timeout_seconds=PolicySnapshot.read(incident).ring_timeout_seconds,
        next_step_at=timezone.now() + due_in,
        started_by=by,
    )
    if actions:
        run.actions.set(actions)
    if due_in <= timedelta(0):
        nudge_run(run.pk)
    return run


@transaction.atomic
def notification_start(
    *, incident: Incident, by: User, channel: str = Channel.ADMIN, why: str = ""
) -> NotificationRun:
    """Start notifying the customer: emails to every contact, then the call tree until someone acknowledges.

    Starting while a round is under way changes nothing and returns that round.
    """
    locked = incident_lock(incident.pk)
    incident_must_be_active(locked, what="notifying the customer")
    active = locked.notification_runs.filter(purpose=RunPurpose.NOTIFY, state=RunState.ACTIVE).first()
    if active is not None:
        return active
    run = run_create(locked, purpose=RunPurpose.NOTIFY, by=by, actions=actions_to_tell(locked))
    who = "" if by is not None else " by itself"
    timeline_record(
        incident=locked,
        kind=EventKind.NOTIFICATION_STARTED,
        summary=f"Notification started{who} (round {run.round}): emails, then {len(run.plan)} calls in "
        f"call order." + (f" {why}" if why else ""),
        by=by,
        channel=channel,
        data={"run": run.pk, "plan": run.plan, "actions": [a.pk for a in run.actions.all()]},
    )
    return run


def run_advance(run_id: int) -> bool:
    """One step of a run: emails first, then the next call, or the end of the tree.

    True when the step queued a call: the caller places it once this step has committed.
    """
    with transaction.atomic():
        incident_id = NotificationRun.objects.filter(pk=run_id).values_list("incident_id", flat=True).first()
        if incident_id is None:
            return False
        incident = incident_lock(incident_id)
        run = _lock_run(run_id)
        now = timezone.now()
        if run.state != RunState.ACTIVE or run.next_step_at > now:
            return False  # stale or early delivery: the row says there is nothing to do yet
        run.incident = incident
        if incident.status not in ACTIVE_INCIDENT_STATUSES:
            run_stop(run, RunState.CANCELED)
            return False
        if not run.emails.exists():
            emails_claim(run)  # sent by their own tasks after commit
            texts_claim(run)  # at the same moment, to the contacts who chose SMS
        if someone_has_it(incident):
            # Somebody has it: the emails say what there is to know, nobody is phoned.
            run_stop(run, RunState.ACKNOWLEDGED)
            return False
        if _call_in_flight(run, now):
            return False
        return _next_call_or_end(run, incident, now)


def run_stop(run: NotificationRun, state: str) -> None:
    """End a locked run: its waiting calls are canceled and its ringing ones hung up."""
    _set_state(run, state)
    calls_stop(run)


def runs_stop(incident: Incident, state: str) -> int:
    """End every active run of a locked incident (a round scheduled for later too); how many."""
    runs = list(incident.notification_runs.select_for_update().filter(state=RunState.ACTIVE))
    for run in runs:
        run_stop(run, state)
    return len(runs)


def _wait(run: NotificationRun, *, until: datetime) -> None:
    run.next_step_at = until
    run.save(update_fields=["next_step_at"])


def _call_in_flight(run: NotificationRun, now: datetime) -> bool:
    """True while the run's current call is queued, ringing or answered.

    Only the provider's word ends a call that may have rung: when its final status is late, the provider
    is asked (and asked again) rather than guessed.
    """
    call = run.calls.filter(outcome__in=OPEN_CALL_OUTCOMES).select_related("contact").first()
    if call is None:
        return False
    if call.outcome == CallOutcome.QUEUED:
        _wait(run, until=now + timedelta(seconds=QUEUED_CALL_RECHECK_SECONDS))
        return True
    deadline = call_deadline(call, run.ring_timeout_seconds)
    if now < deadline:
        _wait(run, until=deadline)
        return True
    if not call.provider_sid:
        # Claimed but never confirmed placed (the placing worker died): nobody can say it rang.
        call.run = run
        call_end(call, CallOutcome.FAILED, note="the phone provider never confirmed the call")
        return False
    nudge_call_check(call.pk)
    _wait(run, until=now + timedelta(seconds=CALL_CHECK_SECONDS))
    return True


def _retry_delay(failures: int) -> timedelta:
    """After a call reached nobody: base, 2 x base, 4 x base ... capped."""
    seconds = settings.CALL_RETRY_BASE_SECONDS * 2 ** (failures - 1)
    return timedelta(seconds=min(seconds, settings.CALL_RETRY_MAX_SECONDS))


def _next_call_or_end(run: NotificationRun, incident: Incident, now: datetime) -> bool:
    """Queue the run's next call (True), or wait for a try that is owed, or end the tree."""
    calls: dict[tuple[int, int], list[CallAttempt]] = {}
    for call in run.calls.all():
        calls.setdefault((call.contact_id, call.try_number), []).append(call)
    contacts = Contact.objects.in_bulk([step["contact"] for step in run.plan])
    owed_until: datetime | None = None
    for sequence, step in enumerate(run.plan, start=1):
        rows = calls.get((step["contact"], step["try"]), [])
        contact = contacts.get(step["contact"])
        if any(c.outcome in ATTEMPT_OUTCOMES for c in rows) or contact is None:
            continue
        if not contact.active or not contact.phone:
            continue  # left out now; the tree ends without this contact and so without a fallback
        failed = [c for c in rows if c.outcome in UNREACHED_OUTCOMES]
        if failed:
            due = max(c.ended_at or now for c in failed) + _retry_delay(len(failed))
            if due > now:
                owed_until = due if owed_until is None else min(owed_until, due)
                continue
        CallAttempt.objects.create(
            run=run,
            contact=contact,
            try_number=step["try"],
            sequence=sequence,
            severity_rank=SEVERITY_RANK.get(incident.severity, len(SEVERITY_RANK)),
            to=contact.phone.as_e164,
        )
        _wait(run, until=now + timedelta(seconds=QUEUED_CALL_RECHECK_SECONDS))
        return True
    if owed_until is not None:
        _wait(run, until=owed_until)  # a contact not reached yet is owed its call: never skipped
        return False
    if run.purpose == RunPurpose.REPORT:
        run_stop(run, RunState.COMPLETED)
        return False
    _set_state(run, RunState.EXHAUSTED)
    _after_exhausted(run, incident)
    return False


def attempts_proof(run: NotificationRun) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """For each step of the plan, the call that rang (contact, provider call id, final status); and the
    steps without one."""
    rang: dict[tuple[int, int], CallAttempt] = {}
    for call in run.calls.filter(outcome__in=ATTEMPT_OUTCOMES).select_related("contact"):
        rang[(call.contact_id, call.try_number)] = call
    proof, missing = [], []
    for step in run.plan:
        call = rang.get((step["contact"], step["try"]))
        if call is None:
            missing.append(step)
            continue
        proof.append(
            {
                "call": call.pk,
                "contact": call.contact.name,
                "contact_id": call.contact_id,
                "to": call.to,
                "try": call.try_number,
                "provider_sid": call.provider_sid,
                "provider_status": call.provider_status,
                "outcome": call.outcome,
            }
        )
    return proof, missing


def _after_exhausted(run: NotificationRun, incident: Incident) -> None:
    """The tree ended. The fallback is taken only on proof: every step of the plan rang, nobody has it,
    the incident is active and its policy ticks the checkbox (DESIGN rule 6)."""
    proof, missing = attempts_proof(run)
    if missing:
        summary = (
            f"The call tree ended (round {run.round}) without reaching every contact by phone: "
            f"{len(missing)} of {len(run.plan)} calls were not made (contact inactive or without a phone)."
        )
    else:
        summary = f"Every contact was phoned (round {run.round}, {len(proof)} calls) and nobody acknowledged."
    timeline_record(
        incident=incident,
        kind=EventKind.CALLS_EXHAUSTED,
        summary=summary,
        data={"run": run.pk, "attempts": proof, "missing": missing},
    )
    policy = PolicySnapshot.read(incident)
    proven = proof and not missing and not someone_has_it(incident)
    if policy.falls_back and proven:
        incident_take_fallback(incident=incident, attempts=proof)
        return
    incident_flag(
        incident=incident,
        reason=f"Nobody acknowledged after the call tree (round {run.round}); nothing was executed without "
        "the customer." + (" Not every contact could be phoned, so no fallback." if missing else ""),
    )
    if run.round <= settings.RENOTIFY_ROUNDS:
        later = run_create(
            incident,
            purpose=RunPurpose.NOTIFY,
            by=None,
            due_in=timedelta(minutes=settings.RENOTIFY_DELAY_MINUTES),
        )
        timeline_record(
            incident=incident,
            kind=EventKind.NOTIFICATION_STARTED,
            summary=f"Round {later.round} of notification scheduled in {settings.RENOTIFY_DELAY_MINUTES} min.",
            data={"run": later.pk, "due": later.next_step_at.isoformat()},
        )


def call_ended_advance(call: CallAttempt) -> None:
    """A call of a run has ended: its run takes its next step now (or in a moment after an answer)."""
    if call.run is None or call.run.state != RunState.ACTIVE:
        return
    delay = ANSWERED_SETTLE_SECONDS if call.outcome == CallOutcome.NO_KEY else 0
    call.run.next_step_at = timezone.now() + timedelta(seconds=delay)
    call.run.save(update_fields=["next_step_at"])
    nudge_run(call.run_id, countdown=delay)


# Test calls ---------------------------------------------------------------------------------------


@transaction.atomic
def test_call_place(*, contact: Contact, by: AbstractBaseUser) -> CallAttempt:
    """Phone one contact to check that its number works: a call without a run, about no incident.

    Queued after every incident's call; one at a time per contact, and at most TEST_CALLS_PER_TENANT_PER_DAY
    per tenant in any 24 hours (each costs money, to a number a customer admin typed). It acknowledges
    nothing.
    """
    locked = Contact.objects.select_for_update(of=("self",)).select_related("tenant").get(pk=contact.pk)
    if locked.tenant is None:
        raise ValidationError("Only a customer's contacts get test calls.", code="no_tenant")
    _test_call_check_tenant_quota(locked.tenant)
    if not locked.active:
        raise ValidationError(f"{locked.name} is inactive: reactivate the contact first.", code="inactive")
    if not locked.phone:
        raise ValidationError(f"{locked.name} has no phone number to call.", code="no_phone")
    in_flight = CallAttempt.objects.filter(
        contact=locked, run__isnull=True, outcome__in=OPEN_CALL_OUTCOMES
    ).exists()
    if in_flight:
        raise ValidationError(
            f"A test call to {locked.name} is already under way: wait until it ends.", code="in_flight"
        )
    call = CallAttempt.objects.create(
        run=None,
        tested_by=by,
        contact=locked,
        try_number=1,
        sequence=1,
        severity_rank=TEST_CALL_RANK,
        to=locked.phone.as_e164,
    )
    settings_audit(
        tenant=locked.tenant,
        by=by,
        field="test_call",
        subject=locked.name,
        before=None,
        after={"to": call.to},
    )
    nudge_dispatch()
    return call


def _test_call_check_tenant_quota(tenant: Any) -> None:
    # The tenant's row lock makes concurrent test calls of its contacts count one after the other.
    Tenant.objects.select_for_update().only("pk").get(pk=tenant.pk)
    quota = settings.TEST_CALLS_PER_TENANT_PER_DAY
    since = timezone.now() - timedelta(days=1)
    placed = CallAttempt.objects.filter(run__isnull=True, contact__tenant=tenant, queued_at__gt=since)
    if placed.count() >= quota:
        raise ValidationError(
            f"{tenant.name} has had its {quota} test calls of the last 24 hours: try again later.",
            code="quota",
        )


@transaction.atomic
def test_calls_end_stale(*, batch: int = 200) -> int:
    """End the test calls still dialing past their deadline: no answer if placed, failed if never placed."""
    now, ended = timezone.now(), 0
    dialing = (
        CallAttempt.objects.select_for_update(of=("self",), skip_locked=True)
        .filter(run__isnull=True, outcome=CallOutcome.DIALING)
        .select_related("contact__tenant")
        .order_by("placed_at", "id")[:batch]
    )
    for call in dialing:
        if call_deadline(call, call.contact.tenant.ring_timeout_seconds) <= now:
            call_end(call, CallOutcome.NO_ANSWER if call.provider_sid else CallOutcome.FAILED)
            ended += 1
    return ended


# Services named after the entity start with "test_": not tests, whatever pytest makes of a module that imports them.
test_call_place.__test__ = False  # type: ignore[attr-defined]
test_calls_end_stale.__test__ = False  # type: ignore[attr-defined]
