"""Reads of reminders: which incidents wait for what, and who is reminded of it."""

from __future__ import annotations

from datetime import datetime

from django.db.models import Exists, OuterRef, Q, QuerySet, Subquery
from django.db.models.expressions import BaseExpression
from django.db.models.functions import Greatest

from escalation.models import Acknowledgment
from escalation.reminders.models import OPEN_SERIES_STATES, ReminderKind, ReminderSeries
from incidents.models import ACTIVE_INCIDENT_STATUSES, ActionStatus, Incident, ResponseAction
from tenants.models import Contact, Performer


def waiting_actions(kind: str) -> QuerySet[ResponseAction]:
    """The actions a reminder of this kind is about, on any incident."""
    if kind == ReminderKind.AUTHORIZATION:
        return ResponseAction.objects.filter(status=ActionStatus.AWAITING_AUTHORIZATION)
    performer = Performer.PARTNER if kind == ReminderKind.PARTNER_TASK else Performer.CUSTOMER
    return ResponseAction.objects.filter(status=ActionStatus.RECOMMENDED, performer=performer)


def _waits(kind: str) -> Q:
    """An incident waits for this kind of thing: it is active and has such an action; written authorization
    is reminded of only once someone acknowledged (before that, the call tree is still looking for them)."""
    condition = Q(status__in=ACTIVE_INCIDENT_STATUSES) & Q(
        Exists(waiting_actions(kind).filter(incident=OuterRef("pk")))
    )
    if kind == ReminderKind.AUTHORIZATION:
        condition &= Q(Exists(Acknowledgment.objects.filter(incident=OuterRef("pk"))))
    if kind == ReminderKind.PARTNER_TASK:
        condition &= Q(tenant__partner__isnull=False)
    return condition


def incident_waits(incident: Incident, kind: str) -> bool:
    return Incident.objects.filter(_waits(kind), pk=incident.pk).exists()


def incidents_to_remind(kind: str, *, batch: int) -> list[tuple[int, datetime]]:
    """Incidents that wait for this kind of thing and have no open series of that kind yet, each with the
    moment its wait began: its oldest such action's proposal, and for written authorization not before the
    first acknowledgment (the reminders count from then, not from when a sweeper noticed)."""
    open_series = ReminderSeries.objects.filter(
        incident=OuterRef("pk"), kind=kind, state__in=OPEN_SERIES_STATES
    )
    oldest = (
        waiting_actions(kind).filter(incident=OuterRef("pk")).order_by("proposed_at").values("proposed_at")
    )
    since: BaseExpression = Subquery(oldest[:1])
    if kind == ReminderKind.AUTHORIZATION:
        first = Acknowledgment.objects.filter(incident=OuterRef("pk")).order_by("at").values("at")
        since = Greatest(since, Subquery(first[:1]))
    return list(
        Incident.objects.filter(_waits(kind))
        .exclude(Exists(open_series))
        .annotate(since=since)
        .order_by("pk")
        .values_list("pk", "since")[:batch]
    )


def series_no_longer_waiting(*, batch: int) -> list[int]:
    """Open series whose incident no longer waits for their kind of thing."""
    ended: list[int] = []
    for kind in ReminderKind.values:
        waiting = Incident.objects.filter(_waits(kind), pk=OuterRef("incident_id"))
        ended += (
            ReminderSeries.objects.filter(kind=kind, state__in=OPEN_SERIES_STATES)
            .exclude(Exists(waiting))
            .values_list("pk", flat=True)[:batch]
        )
    return ended


def reminder_recipients(incident: Incident, kind: str) -> list[Contact]:
    """Who is reminded, in call order: for written authorization the tenant's active contacts who may
    authorize; for the customer's tasks its active contacts; for the partner's tasks the partner's."""
    tenant = incident.tenant
    if kind == ReminderKind.PARTNER_TASK:
        if tenant.partner_id is None:
            return []  # no partner now: nobody (a filter on a partner of None would read every customer's)
        contacts = Contact.objects.filter(partner_id=tenant.partner_id)
    else:
        contacts = Contact.objects.filter(tenant=tenant)
        if kind == ReminderKind.AUTHORIZATION:
            contacts = contacts.filter(can_authorize=True)
    return list(contacts.filter(active=True).order_by("call_order"))
