"""Notification runs: start, advance one step, record call progress and acknowledgments, exhaust.

The database is the truth: a run is a row with a state and next_step_at; every step locks the incident,
then the run, checks the state is still the one it expects, does one thing and schedules the next nudge
after commit. Calls are claimed as rows (unique per run, contact and try) before anything is dialed.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from escalation.models import (
    OPEN_CALL_OUTCOMES,
    RUN_TRANSITIONS,
    Acknowledgment,
    CallAttempt,
    CallOutcome,
    NotificationRun,
    RunPurpose,
    RunState,
)
from incidents.models import SEVERITY_RANK, ActionStatus, Channel, EventKind, Incident
from incidents.services import incident_flag, incident_take_fallback, timeline_record
from tenants.models import Contact, Role, Tenant
from tenants.selectors import phone_contacts, role_at
from tenants.services import settings_audit

log = logging.getLogger(__name__)
User = AbstractBaseUser | None

# Twilio's call statuses and what each means once the call has ended.
FINAL_STATUS = {
    "busy": CallOutcome.BUSY,
    "no-answer": CallOutcome.NO_ANSWER,
    "failed": CallOutcome.FAILED,
    "canceled": CallOutcome.CANCELED,
}
# How long a report run waits for the actions it reports on to finish before it tells what it has.
SETTLE_SECONDS = 120
# While a call waits for a slot, the run looks again this often.
QUEUED_CALL_RECHECK_SECONDS = 60
# A test call is dialed after every incident's call, informational ones included.
TEST_CALL_RANK = len(SEVERITY_RANK)


def _lock_incident(incident_id: int) -> Incident:
    return Incident.objects.select_for_update(of=("self",)).select_related("tenant").get(pk=incident_id)


def _lock_run(run_id: int) -> NotificationRun:
    return NotificationRun.objects.select_for_update().get(pk=run_id)


def _set_state(run: NotificationRun, state: str) -> None:
    if state not in RUN_TRANSITIONS[run.state]:
        raise ValidationError(f"Run #{run.pk} cannot go from {run.state} to {state}.", code="bad_transition")
    run.state, run.finished_at = state, timezone.now()
    run.save(update_fields=["state", "finished_at"])


def nudge_run(run_id: int) -> None:
    """Advance the run once this transaction commits; a lost nudge waits for the sweeper."""

    def send() -> None:
        try:
            from escalation.tasks import advance_run  # the tasks import these services

            advance_run.delay(run_id)
        except Exception:  # noqa: BLE001 - broker down: the sweeper finds the run by next_step_at
            log.warning("could not nudge run %s; the sweeper will", run_id, exc_info=True)

    transaction.on_commit(send)


def nudge_dispatch() -> None:
    def send() -> None:
        try:
            from escalation.tasks import dispatch_calls

            dispatch_calls.delay()
        except Exception:  # noqa: BLE001 - broker down: the sweeper dispatches queued calls
            log.warning("could not nudge the call dispatcher; the sweeper will", exc_info=True)

    transaction.on_commit(send)


def _plan(incident: Incident, *, purpose: str) -> list[dict[str, int]]:
    """Every active contact with a phone, in call order, the policy's number of times: round by round.

    A report (what was done) calls each contact once.
    """
    tries = 1 if purpose == RunPurpose.REPORT else int(incident.policy.get("call_attempts_per_contact") or 1)
    contacts = list(phone_contacts(incident.tenant).values_list("pk", flat=True))
    return [{"contact": pk, "try": t} for t in range(1, tries + 1) for pk in contacts]


def _new_run(incident: Incident, *, purpose: str, round: int, by: User, due_in: timedelta) -> NotificationRun:
    run = NotificationRun.objects.create(
        incident=incident,
        purpose=purpose,
        round=round,
        plan=_plan(incident, purpose=purpose),
        ring_timeout_seconds=int(incident.policy.get("ring_timeout_seconds") or 30),
        next_step_at=timezone.now() + due_in,
        started_by=by,
    )
    if due_in <= timedelta(0):
        nudge_run(run.pk)
    return run


@transaction.atomic
def notification_start(*, incident: Incident, by: User, channel: str = Channel.ADMIN) -> NotificationRun:
    """Start notifying the customer: emails to every contact, then the call tree until someone acknowledges."""
    locked = _lock_incident(incident.pk)
    active = locked.notification_runs.filter(purpose=RunPurpose.NOTIFY, state=RunState.ACTIVE).first()
    if active is not None:
        return active  # one call tree at a time: starting twice changes nothing
    last = locked.notification_runs.filter(purpose=RunPurpose.NOTIFY).order_by("-round").first()
    run = _new_run(
        locked, purpose=RunPurpose.NOTIFY, round=(last.round + 1) if last else 1, by=by, due_in=timedelta(0)
    )
    timeline_record(
        incident=locked,
        kind=EventKind.NOTIFICATION_STARTED,
        summary=f"Notification started (round {run.round}): emails, then {len(run.plan)} calls in call order.",
        by=by,
        channel=channel,
        data={"run": run.pk, "plan": run.plan},
    )
    return run


def _acknowledged_since(incident: Incident, run: NotificationRun) -> bool:
    """Somebody has it: an acknowledgment, or a written decision (which says more), since the run began."""
    return (
        Acknowledgment.objects.filter(incident=incident, at__gte=run.started_at).exists()
        or incident.authorizations.filter(at__gte=run.started_at).exists()
    )


def _settling(incident: Incident) -> bool:
    return incident.actions.filter(status__in=[ActionStatus.QUEUED, ActionStatus.RUNNING]).exists()


def run_advance(run_id: int) -> None:
    """One step of a run: emails first, then the next call, or the end of the tree."""
    from escalation.emails import emails_claim  # the emails module uses these services

    with transaction.atomic():
        run = NotificationRun.objects.filter(pk=run_id).select_related("incident").first()
        if run is None:
            return
        incident = _lock_incident(run.incident_id)
        run = _lock_run(run_id)
        now = timezone.now()
        if run.state != RunState.ACTIVE or run.next_step_at > now:
            return  # stale or early delivery: the row says there is nothing to do yet
        if run.purpose == RunPurpose.NOTIFY and _acknowledged_since(incident, run):
            _stop(run, RunState.ACKNOWLEDGED)
            return
        # What was done is told once it is done (or after a while, as it stands then).
        tells_what_was_done = run.purpose == RunPurpose.REPORT or incident.response_mode == "authorize"
        young = now - run.started_at < timedelta(seconds=SETTLE_SECONDS)
        if tells_what_was_done and young and not run.emails.exists() and _settling(incident):
            _wait(run, seconds=5)
            return
        if not run.emails.exists():
            emails_claim(run)  # sent by their own tasks after commit
        if _call_in_flight(run, now):
            return
        _next_call_or_end(run, incident, now)


def _wait(run: NotificationRun, *, seconds: float) -> None:
    run.next_step_at = timezone.now() + timedelta(seconds=seconds)
    run.save(update_fields=["next_step_at"])


def _call_in_flight(run: NotificationRun, now: Any) -> bool:
    """True while the run's current call is queued or ringing; times out a call whose status never came."""
    call = run.calls.filter(outcome__in=OPEN_CALL_OUTCOMES).first()
    if call is None:
        return False
    if call.outcome == CallOutcome.QUEUED:
        _wait(run, seconds=QUEUED_CALL_RECHECK_SECONDS)
        return True
    # A real phone reports how the call ended, a little after the ring timeout; the simulated one never does.
    grace = 0 if call.backend == "simulated" else settings.CALL_STATUS_GRACE_SECONDS
    deadline = call.placed_at + timedelta(seconds=run.ring_timeout_seconds + grace)
    if now < deadline:
        run.next_step_at = deadline
        run.save(update_fields=["next_step_at"])
        return True
    # No final status in time: unanswered if it was placed, failed if the placing worker died first.
    outcome = CallOutcome.NO_ANSWER if call.provider_sid else CallOutcome.FAILED
    _end_call(call, outcome, note="no final status from the phone in time")
    return False


def _next_call_or_end(run: NotificationRun, incident: Incident, now: Any) -> None:
    done = set(run.calls.values_list("contact_id", "try_number"))
    active = dict(Contact.objects.filter(pk__in=[p["contact"] for p in run.plan]).values_list("pk", "active"))
    for sequence, step in enumerate(run.plan, start=1):
        if (step["contact"], step["try"]) in done or not active.get(step["contact"]):
            continue
        contact = Contact.objects.get(pk=step["contact"])
        CallAttempt.objects.create(
            run=run,
            contact=contact,
            try_number=step["try"],
            sequence=sequence,
            severity_rank=SEVERITY_RANK.get(incident.severity, len(SEVERITY_RANK)),
            to=contact.phone.as_e164 if contact.phone else "",
        )
        _wait(run, seconds=QUEUED_CALL_RECHECK_SECONDS)
        nudge_dispatch()
        return
    if run.purpose == RunPurpose.REPORT:
        _stop(run, RunState.COMPLETED)
        return
    _set_state(run, RunState.EXHAUSTED)
    _after_exhausted(run, incident)


def _attempts_summary(run: NotificationRun) -> list[dict[str, Any]]:
    return [
        {"call": c.pk, "contact": c.contact.name, "to": c.to, "try": c.try_number, "outcome": c.outcome}
        for c in run.calls.select_related("contact").order_by("sequence", "id")
    ]


def _after_exhausted(run: NotificationRun, incident: Incident) -> None:
    attempts = _attempts_summary(run)
    timeline_record(
        incident=incident,
        kind=EventKind.CALLS_EXHAUSTED,
        summary=f"Every contact was phoned (round {run.round}, {len(attempts)} calls) and nobody acknowledged.",
        data={"run": run.pk, "attempts": attempts},
    )
    policy = incident.policy
    if policy.get("response_mode") == "collaborate" and policy.get("authorize_on_no_ack") and attempts:
        incident_take_fallback(incident=incident, attempts=attempts)
        _new_run(incident, purpose=RunPurpose.REPORT, round=1, by=None, due_in=timedelta(seconds=5))
        return
    incident_flag(
        incident=incident,
        reason=f"Nobody acknowledged after every contact was phoned (round {run.round}); nothing was executed "
        "without the customer.",
    )
    if run.round <= settings.RENOTIFY_ROUNDS:
        later = _new_run(
            incident,
            purpose=RunPurpose.NOTIFY,
            round=run.round + 1,
            by=None,
            due_in=timedelta(minutes=settings.RENOTIFY_DELAY_MINUTES),
        )
        timeline_record(
            incident=incident,
            kind=EventKind.NOTIFICATION_STARTED,
            summary=f"Round {later.round} of notification scheduled in {settings.RENOTIFY_DELAY_MINUTES} min.",
            data={"run": later.pk, "due": later.next_step_at.isoformat()},
        )


def _stop(run: NotificationRun, state: str) -> None:
    _set_state(run, state)
    run.calls.filter(outcome=CallOutcome.QUEUED).update(outcome=CallOutcome.CANCELED, ended_at=timezone.now())


def _end_call(call: CallAttempt, outcome: str, *, note: str = "") -> None:
    call.outcome, call.ended_at = outcome, timezone.now()
    call.save(update_fields=["outcome", "ended_at"])
    if call.run_id is None:
        return  # a test call is about no incident: its row is its record
    label = CallOutcome(outcome).label.lower()
    timeline_record(
        incident=call.run.incident,
        kind=EventKind.CALL_ATTEMPT,
        summary=f"Call {call.sequence} to {call.contact.name} ({call.to}): {label}"
        + (f" ({note})" if note else ""),
        label=call.contact.name,
        channel=Channel.PHONE,
        data={
            "call": call.pk,
            "run": call.run_id,
            "try": call.try_number,
            "outcome": outcome,
            "provider_status": call.provider_status,
            "answered_by": call.answered_by,
        },
    )


@transaction.atomic
def call_placed(*, attempt_id: int, sid: str) -> None:
    """Keep the provider's id of a dialing call, so that its callbacks can be matched."""
    CallAttempt.objects.filter(pk=attempt_id, outcome=CallOutcome.DIALING).update(provider_sid=sid[:64])


# A provider's passing refusals (5xx, 429, timeouts) of one call, before it counts as failed.
MAX_PLACEMENT_FAILURES = 3


@transaction.atomic
def call_not_placed(*, attempt_id: int, reason: str, permanent: bool) -> None:
    """The phone refused the call. A passing refusal queues it again (a few times); otherwise it is an
    attempt without acknowledgment and the tree moves on."""
    incident_id = CallAttempt.objects.values_list("run__incident_id", flat=True).get(pk=attempt_id)
    incident = _lock_incident(incident_id) if incident_id is not None else None
    call = _lock_call(attempt_id)
    if call.outcome != CallOutcome.DIALING:
        return
    if incident is not None:
        call.run.incident = incident
    call.placement_failures += 1
    if not permanent and call.placement_failures < MAX_PLACEMENT_FAILURES:
        call.outcome, call.placed_at = CallOutcome.QUEUED, None
        call.save(update_fields=["outcome", "placed_at", "placement_failures"])
        nudge_dispatch()
        return
    call.save(update_fields=["placement_failures"])
    _end_call(call, CallOutcome.FAILED, note=reason)
    if call.run is None:
        return
    call.run.next_step_at = timezone.now()
    call.run.save(update_fields=["next_step_at"])
    nudge_run(call.run_id)


def call_update(
    *, attempt_id: int, status: str | None = None, digits: str | None = None, answered_by: str | None = None
) -> None:
    """Record what the phone says about a call. Duplicate and out-of-order updates are harmless.

    A 1 pressed is an acknowledgment whatever the call's bookkeeping says (it may have been given up
    as unanswered, or as not placed after a timeout, while it was in fact ringing). On a test call it
    acknowledges nothing: it only says that somebody heard the message.
    """
    with transaction.atomic():
        found = CallAttempt.objects.filter(pk=attempt_id).values_list("run__incident_id").first()
        if found is None:
            return
        incident = _lock_incident(found[0]) if found[0] is not None else None
        call = _lock_call(attempt_id)
        pressed_1 = digits is not None and digits.strip() == "1"
        if incident is None and pressed_1:  # a test call: somebody heard it, whatever the bookkeeping said
            if call.outcome != CallOutcome.ACKNOWLEDGED:
                _end_call(call, CallOutcome.ACKNOWLEDGED)
            return
        if incident is not None:
            call.run.incident = incident
            if pressed_1 and not Acknowledgment.objects.filter(call=call).exists():
                if call.outcome == CallOutcome.DIALING:
                    _end_call(call, CallOutcome.ACKNOWLEDGED)
                _acknowledge(incident, contact=call.contact, user=None, channel=Channel.PHONE, call=call)
                return
        final = status == "completed" or status in FINAL_STATUS
        if call.outcome != CallOutcome.DIALING:
            if final and call.provider_status != status:  # the provider's last word, for the record only
                call.provider_status = status
                call.save(update_fields=["provider_status"])
            return  # already ended: a late or repeated callback changes nothing else
        call.answered_by = (answered_by or call.answered_by)[:32]
        call.provider_status = (status or call.provider_status)[:32]
        call.save(update_fields=["answered_by", "provider_status"])
        if status == "completed":
            machine = call.answered_by.startswith(("machine", "fax"))
            _end_call(call, CallOutcome.VOICEMAIL if machine else CallOutcome.NO_KEY)
        elif status in FINAL_STATUS:
            _end_call(call, FINAL_STATUS[status])
        else:
            return
        if call.run is None:
            return
        call.run.next_step_at = timezone.now()
        call.run.save(update_fields=["next_step_at"])
        nudge_run(call.run_id)


def _lock_call(attempt_id: int) -> CallAttempt:
    return (
        CallAttempt.objects.select_for_update(of=("self",))
        .select_related("run", "contact")
        .get(pk=attempt_id)
    )


def _acknowledge(
    incident: Incident, *, contact: Contact | None, user: User, channel: str, call: CallAttempt | None = None
) -> Acknowledgment:
    ack = Acknowledgment.objects.create(
        incident=incident, contact=contact, user=user, channel=channel, call=call
    )
    who = contact.name if contact is not None else user.get_username()
    timeline_record(
        incident=incident,
        kind=EventKind.ACKNOWLEDGED,
        summary=f"{who} acknowledged ({Channel(channel).label.lower()}). This is not an authorization.",
        by=user,
        label=who,
        channel=channel,
        data={"acknowledgment": ack.pk, "call": call.pk if call else None},
    )
    # The current round, any round scheduled for later, and a report being phoned: somebody has it now.
    for run in incident.notification_runs.select_for_update().filter(state=RunState.ACTIVE):
        _stop(run, RunState.ACKNOWLEDGED)
    return ack


@transaction.atomic
def acknowledgment_record(
    *, incident: Incident, channel: str, contact: Contact | None = None, user: User = None
) -> Acknowledgment:
    """A contact or customer user says 'we have it': further calls stop. It authorizes nothing."""
    locked = _lock_incident(incident.pk)
    if contact is None and user is None:
        raise ValidationError("Say who acknowledges.", code="no_one")
    if contact is not None and (contact.tenant_id != locked.tenant_id or not contact.active):
        raise ValidationError({"contact": f"{contact} is not an active contact of {locked.tenant}."})
    # Staff never acknowledge for the customer: that would stop the calls and so the no-answer fallback.
    if user is not None and role_at(user, locked.tenant) not in (Role.ADMIN, Role.APPROVER):
        raise ValidationError({"user": "Only the customer's admins and approvers acknowledge incidents."})
    return _acknowledge(locked, contact=contact, user=user, channel=channel)


def report_mentions(incident: Incident) -> list[Any]:
    """The actions a report tells about: every one MDR Ops performed or is performing, on any basis."""
    return list(incident.actions.exclude(basis="").select_related("action_type"))


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


def _test_call_deadline(call: CallAttempt) -> Any:
    """When a dialing test call counts as unanswered: its tenant's ring time, plus the time a real phone
    takes to report how a call ended (the simulated one never reports)."""
    grace = 0 if call.backend == "simulated" else settings.CALL_STATUS_GRACE_SECONDS
    return call.placed_at + timedelta(seconds=call.contact.tenant.ring_timeout_seconds + grace)


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
        if _test_call_deadline(call) <= now:
            _end_call(call, CallOutcome.NO_ANSWER if call.provider_sid else CallOutcome.FAILED)
            ended += 1
    return ended


# Services named after the entity start with "test_": not tests, whatever pytest makes of a module that imports them.
test_call_place.__test__ = False  # type: ignore[attr-defined]
test_calls_end_stale.__test__ = False  # type: ignore[attr-defined]
