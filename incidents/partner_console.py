"""What a partner's console reads: the customers it serves with their counts, their incidents in one list,
and the tasks given to the partner across them. Every read starts from the partner, so a customer it does not
serve never appears; the counts are subqueries, one query however many customers."""

from __future__ import annotations

from django.db.models import (
    BigIntegerField,
    Case,
    Count,
    F,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Coalesce

from incidents.customer_tasks import OPEN_TASK_STATUS, open_tasks, tasks
from incidents.models import ACTIVE_INCIDENT_STATUSES, Incident, ResponseAction
from incidents.queue import queue_view_filter
from incidents.waiting import with_waiting_since
from tenants.models import Partner, Performer, Tenant

# Marked tasks sort after every open one: ids stay far below this.
MARKED_AFTER = 10**15


def served_customers(partner: Partner) -> QuerySet[Tenant]:
    return Tenant.objects.filter(partner=partner)


def _count(rows: QuerySet[Incident] | QuerySet[ResponseAction], *, by: str) -> Coalesce:
    """How many of the rows belong to the outer tenant: a subquery grouped by `by`, 0 when none."""
    grouped = rows.order_by().values(by).annotate(n=Count("pk"))
    return Coalesce(Subquery(grouped.values("n"), output_field=IntegerField()), 0)


def served_customers_with_counts(partner: Partner) -> QuerySet[Tenant]:
    """The partner's customers by name, each with `active` incidents, incidents `waiting` on the customer
    (as the analysts' queue says), `partner_tasks` (open tasks the partner performs) and `flagged` active
    incidents needing attention."""
    active = with_waiting_since(
        Incident.objects.filter(tenant=OuterRef("pk"), status__in=ACTIVE_INCIDENT_STATUSES)
    )
    partner_tasks = open_tasks().filter(performer=Performer.PARTNER, incident__tenant=OuterRef("pk"))
    return (
        served_customers(partner)
        .annotate(
            active=_count(active, by="tenant"),
            waiting=_count(active.filter(queue_view_filter("waiting")), by="tenant"),
            flagged=_count(active.filter(queue_view_filter("attention")), by="tenant"),
            partner_tasks=_count(partner_tasks, by="incident__tenant"),
        )
        .order_by("name", "pk")
    )


def partner_incidents(
    partner: Partner,
    *,
    tenant: Tenant | None = None,
    status: str = "",
    severity: str = "",
    needs_attention: bool | None = None,
) -> QuerySet[Incident]:
    """The incidents of the partner's customers, newest first, with their customer and `waiting_since`;
    narrowed by any filter given."""
    incidents = Incident.objects.filter(tenant__partner=partner)
    if tenant is not None:
        incidents = incidents.filter(tenant=tenant)
    if status:
        incidents = incidents.filter(status=status)
    if severity:
        incidents = incidents.filter(severity=severity)
    if needs_attention is not None:
        incidents = incidents.filter(needs_attention=needs_attention)
    return with_waiting_since(incidents.select_related("tenant")).order_by("-opened_at", "-id")


def partner_tasks(
    partner: Partner, *, tenant: Tenant | None = None, status: str = ""
) -> QuerySet[ResponseAction]:
    """The tasks the partner performs for its customers: open ones first, each side oldest first, ordered
    by `console_order`, one key unique per task, so that pages can start where the previous one ended."""
    found = tasks().filter(performer=Performer.PARTNER, incident__tenant__partner=partner)
    if tenant is not None:
        found = found.filter(incident__tenant=tenant)
    if status:
        found = found.filter(status=status)
    return (
        found.select_related("action_type", "incident__tenant")
        .annotate(
            console_order=Case(
                When(Q(status=OPEN_TASK_STATUS), then=F("pk")),
                default=F("pk") + Value(MARKED_AFTER),
                output_field=BigIntegerField(),
            )
        )
        .order_by("console_order")
    )
