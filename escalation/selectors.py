"""Reads of the escalation app: what a call says, and the calls the webhooks and the simulated phone handle."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import QuerySet
from django.utils import timezone

from escalation.models import CallAttempt, CallOutcome, RunPurpose
from escalation.services import report_mentions
from incidents.models import Incident

SIMULATED = "simulated"


@dataclass(frozen=True)
class DoneItem:
    """One action MDR Ops performed, as a call tells it."""

    action: str
    target: str
    status: str


@dataclass(frozen=True)
class CallScript:
    """What one call says: who the alert is for, the incident, and for a report what MDR Ops did."""

    attempt_id: int
    tenant: str
    severity: str
    title: str
    summary: str
    # A report run (or an Authorize-mode notification) tells what was done rather than asking.
    tells_what_was_done: bool
    done: tuple[DoneItem, ...]


@dataclass(frozen=True)
class RingingCall:
    """A simulated call that is ringing now, as the simulated phone page shows it."""

    call: CallAttempt
    script: CallScript
    rings_until: datetime

    @property
    def seconds_left(self) -> int:
        return max(0, int((self.rings_until - timezone.now()).total_seconds()))


def _tells_what_was_done(call: CallAttempt) -> bool:
    return call.run.purpose == RunPurpose.REPORT or call.run.incident.response_mode == "authorize"


def _script(call: CallAttempt, done: tuple[DoneItem, ...]) -> CallScript:
    incident = call.run.incident
    return CallScript(
        attempt_id=call.pk,
        tenant=incident.tenant.name,
        severity=incident.get_severity_display(),
        title=incident.title,
        summary=incident.summary,
        tells_what_was_done=_tells_what_was_done(call),
        done=done,
    )


def _done(incident: Incident) -> tuple[DoneItem, ...]:
    return tuple(
        DoneItem(action=a.action_type.name, target=a.target, status=a.get_status_display())
        for a in report_mentions(incident)
    )


def _with_incident(calls: QuerySet[CallAttempt]) -> QuerySet[CallAttempt]:
    return calls.select_related("run__incident__tenant", "contact")


def call_script(attempt_id: int) -> CallScript | None:
    """The script of one call, or None when there is no such call."""
    call = _with_incident(CallAttempt.objects.filter(pk=attempt_id)).first()
    if call is None:
        return None
    done = _done(call.run.incident) if _tells_what_was_done(call) else ()
    return _script(call, done)


def call_for_webhook(attempt_id: int) -> CallAttempt | None:
    """The call a Twilio webhook names, with just what the webhook checks."""
    return CallAttempt.objects.filter(pk=attempt_id).only("pk", "provider_sid", "outcome", "backend").first()


def simulated_call(attempt_id: int) -> CallAttempt | None:
    """A call the simulated phone placed, or None."""
    return CallAttempt.objects.filter(pk=attempt_id, backend=SIMULATED).first()


def simulated_calls_ringing() -> list[RingingCall]:
    """Simulated calls that are ringing, newest first, with what each would say and until when it rings."""
    calls = list(
        _with_incident(CallAttempt.objects.filter(backend=SIMULATED, outcome=CallOutcome.DIALING)).order_by(
            "-placed_at", "-id"
        )
    )
    done: dict[int, tuple[DoneItem, ...]] = {}
    for call in calls:
        incident = call.run.incident
        if _tells_what_was_done(call) and incident.pk not in done:
            done[incident.pk] = _done(incident)
    return [
        RingingCall(
            call=call,
            script=_script(call, done.get(call.run.incident_id, ())),
            rings_until=(call.placed_at or call.queued_at) + timedelta(seconds=call.run.ring_timeout_seconds),
        )
        for call in calls
    ]


def simulated_calls_ended(*, limit: int = 10) -> list[CallAttempt]:
    """The simulated calls that ended last, newest first."""
    return list(
        _with_incident(CallAttempt.objects.filter(backend=SIMULATED, ended_at__isnull=False)).order_by(
            "-ended_at", "-id"
        )[:limit]
    )
