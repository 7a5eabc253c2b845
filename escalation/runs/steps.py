"""One step of a run's call tree: wait for the call in flight, queue the next call, or end the tree.

A step of the plan (a contact's try) is done when a call of it rang (DESIGN rule 5); a call that reached
nobody leaves the step owed, dialed again as a new row after a backoff.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from escalation.calls.records import DEADLINE_NUDGE_MAX_SECONDS, call_deadline
from escalation.models import (
    ATTEMPT_OUTCOMES,
    OPEN_CALL_OUTCOMES,
    PARTNER_PURPOSES,
    UNREACHED_OUTCOMES,
    CallAttempt,
    CallOutcome,
    NotificationRun,
    RunPurpose,
    RunState,
)
from escalation.nudges import nudge_call_check, nudge_run
from escalation.partners.services import partner_tree_ended
from escalation.partners.texts import partner_text_reached
from escalation.runs.fallback import tree_ended
from escalation.runs.states import run_set_state, run_stop
from incidents.models import SEVERITY_RANK, Incident
from tenants.models import Contact

# While a call waits for a slot, the run looks again this often.
QUEUED_CALL_RECHECK_SECONDS = 60
# While an overdue call is asked about at the provider, the run looks again this often.
CALL_CHECK_SECONDS = 15


def _wait(run: NotificationRun, *, until: datetime, nudge: bool = False) -> None:
    """The run's next step at `until`; with `nudge`, a worker is sent for it then (when that is soon), so
    that the step is on time without the sweeper, which picks up only what is long overdue."""
    run.next_step_at = until
    run.save(update_fields=["next_step_at"])
    wait = (until - timezone.now()).total_seconds()
    if nudge and wait <= DEADLINE_NUDGE_MAX_SECONDS:
        nudge_run(run.pk, countdown=max(wait, 0))


def call_in_flight(run: NotificationRun, now: datetime) -> bool:
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
    # Claimed but its placing never recorded (the placing worker died, or the database went away before the
    # provider's answer was kept): the provider may have the call. It is asked (escalation.calls.progress)
    # before the try is dialed again, so that nobody is phoned twice for it.
    nudge_call_check(call.pk)
    _wait(run, until=now + timedelta(seconds=CALL_CHECK_SECONDS), nudge=True)
    return True


def _retry_delay(failures: int) -> timedelta:
    """After a call reached nobody: base, 2 x base, 4 x base ... capped."""
    seconds = settings.CALL_RETRY_BASE_SECONDS * 2 ** (failures - 1)
    return timedelta(seconds=min(seconds, settings.CALL_RETRY_MAX_SECONDS))


def call_queue_next(
    run: NotificationRun,
    incident: Incident,
    now: datetime,
    *,
    calls: list[CallAttempt] | None = None,
    contacts: dict[int, Contact] | None = None,
) -> tuple[CallAttempt | None, datetime | None]:
    """The run's next call queued; else the time until which a try not reached yet is owed (neither: the
    plan is done). `calls`: the run's calls, when the caller knows them (none, for a run just made);
    `contacts`: the plan's contacts by id, when the caller has just read them."""
    made: dict[tuple[int, int], list[CallAttempt]] = {}
    for call in run.calls.all() if calls is None else calls:
        made.setdefault((call.contact_id, call.try_number), []).append(call)
    if contacts is None:
        contacts = Contact.objects.in_bulk([step["contact"] for step in run.planned_steps])
    owed_until: datetime | None = None
    for sequence, step in enumerate(run.planned_steps, start=1):
        rows = made.get((step["contact"], step["try"]), [])
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
        call = CallAttempt.objects.create(
            run=run,
            contact=contact,
            try_number=step["try"],
            sequence=sequence,
            severity_rank=SEVERITY_RANK.get(incident.severity, len(SEVERITY_RANK)),
            to=contact.phone.as_e164,
        )
        return call, None
    return None, owed_until


def next_call_or_end(run: NotificationRun, incident: Incident, now: datetime) -> bool:
    """Queue the run's next call (True), or wait for a try that is owed, or end the tree."""
    call, owed_until = call_queue_next(run, incident, now)
    if call is not None:
        if run.purpose in PARTNER_PURPOSES:
            partner_text_reached(run, incident, call.contact)  # the partner's people text when reached
        _wait(run, until=now + timedelta(seconds=QUEUED_CALL_RECHECK_SECONDS))
        return True
    if owed_until is not None:
        _wait(run, until=owed_until, nudge=True)  # a contact not reached yet is owed its call: never skipped
        return False
    if run.purpose == RunPurpose.REPORT:
        run_stop(run, RunState.COMPLETED)
        return False
    run_set_state(run, RunState.EXHAUSTED)
    if run.purpose in PARTNER_PURPOSES:
        partner_tree_ended(run, incident)  # never the customer's fallback
        return False
    tree_ended(run, incident)
    return False
