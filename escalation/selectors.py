"""Reads of the escalation app: what a call says, the calls waiting to be placed, the calls the webhooks and
the simulated phone handle, and each contact's last test call."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import OuterRef, Q, QuerySet, Subquery
from django.utils import timezone

from escalation.calls.records import call_ring_seconds
from escalation.models import (
    PARTNER_PURPOSES,
    CallAttempt,
    CallOutcome,
    NotificationRun,
    RunPurpose,
    RunState,
    TextMessage,
)
from escalation.reader import ReaderCan, ask_line, reader_can, reader_for
from escalation.story import story_read
from incidents.models import ActionStatus, Basis, Incident, ResponseAction
from incidents.policy import PolicySnapshot
from incidents.selectors import awaiting_authorization
from mdrportal.core.outbox import OutboxState
from tenants.models import Contact

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
    # A test call from the contacts page: it says so, and nothing about any incident.
    is_test: bool = False
    # What the person called can do, as the call asks it (see escalation.reader).
    ask: str = ""
    # On what basis MDR Ops did what it did, in the words of escalation.story.
    told: str = ""
    # A call of the partner's tree: the partner phoned, the incident's number and the task it is asked to do.
    partner: str = ""
    incident_id: int = 0
    task: str = ""


@dataclass(frozen=True)
class RingingCall:
    """A simulated call that is ringing now, as the simulated phone page shows it."""

    call: CallAttempt
    script: CallScript
    rings_until: datetime

    @property
    def seconds_left(self) -> int:
        return max(0, int((self.rings_until - timezone.now()).total_seconds()))


# The bases on which MDR Ops acted without asking: what it did is reported to the customer (DESIGN rule 12).
REPORTED_BASES = (Basis.AUTHORIZE_MODE, Basis.NO_ACK_FALLBACK)
# What the customer is asked to do something about.
NEEDS_CUSTOMER = (ActionStatus.AWAITING_AUTHORIZATION, ActionStatus.RECOMMENDED)
UNSETTLED = (ActionStatus.QUEUED, ActionStatus.RUNNING)


def report_mentions(incident: Incident) -> list[ResponseAction]:
    """The actions a report tells about: every one MDR Ops performed or is performing, on any basis."""
    return list(incident.actions.exclude(basis="").select_related("action_type"))


def _to_tell() -> Q:
    # Performed without asking and in no report yet (it may have been told earlier as awaiting); or needing
    # the customer and told by no run.
    performed = (
        Q(basis__in=REPORTED_BASES)
        & ~Q(status=ActionStatus.CANCELED)
        & ~Q(notification_runs__purpose=RunPurpose.REPORT)
    )
    return performed | (Q(status__in=NEEDS_CUSTOMER) & Q(notification_runs__isnull=True))


def actions_to_tell(incident: Incident) -> list[ResponseAction]:
    """The incident's actions the customer has not been told about by any run yet: performed without
    asking, or needing the customer. Each once: the filter joins the runs that told an action."""
    return list(incident.actions.filter(_to_tell()).distinct().order_by("proposed_at", "pk"))


def incidents_to_tell(*, statuses: frozenset[str], batch: int) -> list[int]:
    """Active incidents with something untold, for the sweeper's safety net."""
    return list(
        ResponseAction.objects.filter(_to_tell(), incident__status__in=statuses)
        .order_by("incident_id")
        .values_list("incident_id", flat=True)
        .distinct()[:batch]
    )


def _tells_what_was_done(call: CallAttempt) -> bool:
    if call.run is None or call.run.purpose in PARTNER_PURPOSES:  # a test call tells nothing
        return False
    return call.run.purpose == RunPurpose.REPORT or PolicySnapshot.read(call.run.incident).authorize_mode


def _script(
    call: CallAttempt, done: tuple[tuple[DoneItem, ...], str], *, decision_awaited: bool = False
) -> CallScript:
    if call.run is None:  # a test call
        return CallScript(
            attempt_id=call.pk,
            tenant=call.tested_tenant.name,
            severity="",
            title="",
            summary="",
            tells_what_was_done=False,
            done=(),
            is_test=True,
        )
    incident = call.run.incident
    if call.run.purpose in PARTNER_PURPOSES:
        return _task_script(call, call.run, incident)
    return CallScript(
        attempt_id=call.pk,
        tenant=incident.tenant.name,
        severity=incident.get_severity_display(),
        title=incident.title,
        summary=incident.summary,
        tells_what_was_done=_tells_what_was_done(call),
        done=done[0],
        told=done[1],
        ask=ask_line(reader_for(call.contact, incident, decision_awaited=decision_awaited), where="voice"),
    )


def _task_script(call: CallAttempt, run: NotificationRun, incident: Incident) -> CallScript:
    task = ResponseAction.objects.select_related("action_type").get(pk=run.partner_task_id)
    return CallScript(
        attempt_id=call.pk,
        tenant=incident.tenant.name,
        severity=incident.get_severity_display(),
        title=incident.title,
        summary="",
        tells_what_was_done=False,
        done=(),
        partner=_partner_name(call.contact),
        incident_id=incident.pk,
        task=str(task),
    )


def _partner_name(contact: Contact) -> str:
    """The partner whose people a partner's run phones: plan_make phones the partner's own contacts."""
    if contact.partner is None:
        raise ValueError(f"{contact} phoned about a partner's task is no partner's contact")
    return contact.partner.name


def call_is_partner_task(attempt_id: int) -> bool:
    """The call is of the partner's tree about its task: a 1 pressed acknowledges the task only."""
    return CallAttempt.objects.filter(pk=attempt_id, run__purpose__in=PARTNER_PURPOSES).exists()


NOTHING_DONE: tuple[tuple[DoneItem, ...], str] = ((), "")


def _done(incident: Incident) -> tuple[tuple[DoneItem, ...], str]:
    """What MDR Ops did, as a call lists it, and on what basis, as a call says it."""
    actions = report_mentions(incident)
    items = tuple(
        DoneItem(action=a.action_type.name, target=a.target, status=a.get_status_display()) for a in actions
    )
    return items, story_read(incident, actions).spoken


def _with_incident(calls: QuerySet[CallAttempt]) -> QuerySet[CallAttempt]:
    return calls.select_related("run__incident__tenant", "contact__tenant", "contact__partner")


def call_script(attempt_id: int) -> CallScript | None:
    """The script of one call, or None when there is no such call."""
    call = _with_incident(CallAttempt.objects.filter(pk=attempt_id)).first()
    if call is None:
        return None
    if call.run is None:  # a test call
        return _script(call, NOTHING_DONE)
    done = _done(call.run.incident) if _tells_what_was_done(call) else NOTHING_DONE
    awaiting = awaiting_authorization(call.run.incident).exists()
    return _script(call, done, decision_awaited=awaiting)


def call_reader_can(attempt_id: int) -> ReaderCan:
    """What the person on an incident's call can do (a test call: acknowledge, at most)."""
    call = _with_incident(CallAttempt.objects.filter(pk=attempt_id)).get()
    if call.run is None:  # a test call
        return ReaderCan.ACKNOWLEDGE
    return reader_can(call.contact, call.run.incident)


def call_for_webhook(attempt_id: int) -> CallAttempt | None:
    """The call a Twilio webhook names, with just what the webhook checks."""
    return (
        CallAttempt.objects.filter(pk=attempt_id)
        .only("pk", "run", "provider_sid", "outcome", "backend")
        .first()
    )


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
    # One query for every ringing call: which of their incidents have actions awaiting authorization.
    awaiting = set(
        ResponseAction.objects.filter(
            incident_id__in={c.run.incident_id for c in calls if c.run},
            status=ActionStatus.AWAITING_AUTHORIZATION,
        ).values_list("incident_id", flat=True)
    )
    done: dict[int, tuple[tuple[DoneItem, ...], str]] = {}
    for call in calls:
        if call.run is not None and _tells_what_was_done(call) and call.run.incident_id not in done:
            done[call.run.incident_id] = _done(call.run.incident)
    return [
        RingingCall(
            call=call,
            script=_script(
                call,
                done.get(call.run.incident_id, NOTHING_DONE) if call.run else NOTHING_DONE,
                decision_awaited=call.run is not None and call.run.incident_id in awaiting,
            ),
            rings_until=(call.placed_at or call.queued_at) + timedelta(seconds=call_ring_seconds(call)),
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


def simulated_texts(*, limit: int = 20) -> list[TextMessage]:
    """The texts the simulated backend sent (or is sending) last, newest first."""
    return list(
        TextMessage.objects.filter(Q(backend=SIMULATED) | Q(backend="", state=OutboxState.CLAIMED))
        .select_related("contact", "incident__tenant")
        .order_by("-claimed_at", "-id")[:limit]
    )


def simulated_text(text_id: int) -> TextMessage | None:
    """A text the simulated backend sent, or None."""
    return TextMessage.objects.filter(pk=text_id, backend=SIMULATED).first()


def calls_waiting() -> QuerySet[CallAttempt]:
    """Calls waiting to be placed: those of active runs, and test calls."""
    return CallAttempt.objects.filter(
        Q(run__isnull=True) | Q(run__state=RunState.ACTIVE), outcome=CallOutcome.QUEUED
    )


def last_test_calls(contacts: list[Contact]) -> dict[int, CallAttempt]:
    """Each contact's most recent test call, by contact id, in one query."""
    latest = (
        CallAttempt.objects.filter(contact=OuterRef("contact"), run__isnull=True)
        .order_by("-queued_at", "-id")
        .values("pk")[:1]
    )
    calls = CallAttempt.objects.filter(
        contact__in=[c.pk for c in contacts], run__isnull=True, pk=Subquery(latest)
    )
    return {call.contact_id: call for call in calls}
