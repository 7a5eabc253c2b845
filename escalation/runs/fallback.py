"""The end of a call tree: the proof of its attempts, and the fallback it may take (DESIGN rules 5 and 6)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings

from escalation.models import ATTEMPT_OUTCOMES, CallAttempt, NotificationRun, RunPurpose
from escalation.runs.availability import nobody_available
from escalation.runs.plan import round_next, run_create
from escalation.wanted import someone_has_it
from incidents.attention import incident_flag
from incidents.models import EventKind, Incident
from incidents.policy import PolicySnapshot
from incidents.services import incident_take_fallback
from incidents.timeline_writes import timeline_record


def attempts_proof(run: NotificationRun) -> tuple[list[dict[str, Any]], list[dict[str, int]]]:
    """For each step of the plan, the call that rang (contact, provider call id, final status); and the
    steps without one."""
    rang: dict[tuple[int, int], CallAttempt] = {}
    for call in run.calls.filter(outcome__in=ATTEMPT_OUTCOMES).select_related("contact"):
        rang[(call.contact_id, call.try_number)] = call
    proof: list[dict[str, Any]] = []
    missing: list[dict[str, int]] = []
    for step in run.planned_steps:
        rung = rang.get((step["contact"], step["try"]))
        if rung is None:
            missing.append(step)
            continue
        proof.append(
            {
                "call": rung.pk,
                "contact": rung.contact.name,
                "contact_id": rung.contact_id,
                "to": rung.to,
                "try": rung.try_number,
                "provider_sid": rung.provider_sid,
                "provider_status": rung.provider_status,
                "outcome": rung.outcome,
            }
        )
    return proof, missing


def tree_ended(run: NotificationRun, incident: Incident) -> None:
    """The tree ended. The fallback is taken only on proof: every step of the plan rang, nobody has it,
    the incident is active and its policy ticks the checkbox (DESIGN rule 6)."""
    proof, missing = attempts_proof(run)
    if nobody_available(run):
        summary = f"Nobody was phoned (round {run.round}): no contact with a phone number was available."
    elif missing:
        summary = (
            f"The call tree ended (round {run.round}) without reaching every contact by phone: "
            f"{len(missing)} of {len(run.planned_steps)} calls were not made (contact inactive or without a phone)."
        )
    elif run.unavailable:
        summary = (
            f"Every contact available at the time was phoned (round {run.round}, {len(proof)} calls) and "
            f"nobody acknowledged; {len(run.unavailable)} unavailable not phoned."
        )
    else:
        summary = f"Every contact was phoned (round {run.round}, {len(proof)} calls) and nobody acknowledged."
    timeline_record(
        incident=incident,
        kind=EventKind.CALLS_EXHAUSTED,
        summary=summary,
        data={"run": run.pk, "attempts": proof, "missing": missing, "unavailable": run.unavailable},
    )
    policy = PolicySnapshot.read(incident)
    # An empty plan proves nothing: nobody available, or nobody with a phone, never falls back.
    proven = bool(run.plan) and bool(proof) and not missing and not someone_has_it(incident)
    if policy.falls_back and proven:
        incident_take_fallback(incident=incident, attempts=proof)
        return
    if not nobody_available(run):  # nobody available was flagged when the plan was made
        incident_flag(
            incident=incident,
            reason=f"Nobody acknowledged after the call tree (round {run.round}); nothing was executed without "
            "the customer." + (" Not every contact could be phoned, so no fallback." if missing else ""),
        )
    if run.round <= settings.RENOTIFY_ROUNDS:
        later = run_create(
            incident,
            purpose=RunPurpose.NOTIFY,
            number=round_next(incident, RunPurpose.NOTIFY),
            by=None,
            due_in=timedelta(minutes=settings.RENOTIFY_DELAY_MINUTES),
        )
        timeline_record(
            incident=incident,
            kind=EventKind.NOTIFICATION_STARTED,
            summary=f"Round {later.round} of notification scheduled in {settings.RENOTIFY_DELAY_MINUTES} min.",
            data={"run": later.pk, "due": later.next_step_at.isoformat()},
        )
